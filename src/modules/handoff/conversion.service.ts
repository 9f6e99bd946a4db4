import { Types } from 'mongoose';
import { clock } from '../../lib/clock.js';
import { conflict, notFound } from '../../lib/errors.js';
import { isDuplicateKey } from '../../lib/mongo.js';
import { Account, AccountKey, Contact, Opportunity, type AccountDoc, type ContactDoc } from '../crm/index.js';
import { recordEvents, type NewEvent } from '../leads/index.js';
import { Lead, resolveLead, type LeadDoc } from '../leads/index.js';
import { exitEnrollmentsForLead } from '../sequences/index.js';
import type { AgreementTerms } from './agreement.js';
import { claimOnce, readClaim } from './claims.js';
import { companyDomain, derivedId, normalizeCompanyName, opportunityName } from './conversion.logic.js';

export type ConvertOptions = {
  createOpportunity?: boolean;
  accountId?: string;
  contactId?: string;
  ownerId?: string;
  opportunity?: { name?: string; amount?: number; closeDate?: Date };
  /** the handoff request converting the lead; absent for a manual conversion */
  requestId?: string;
  terms: AgreementTerms;
};

export type ConversionResult = { accountId: string; contactId: string; opportunityId: string | null };

/** Which account and contact a lead converts into: decided once per lead (a claim), then reused. */
type Plan = { accountId: string; contactId: string };

const websiteOf = (lead: LeadDoc): unknown => {
  const a = (lead.attributes ?? {}) as Record<string, unknown>;
  return a.website ?? a.url ?? a.URL;
};

async function existingAccount(id: string): Promise<AccountDoc> {
  const doc = Types.ObjectId.isValid(id) ? await Account.findById(id).lean<AccountDoc>() : null;
  if (!doc) throw notFound('account');
  return doc;
}

async function existingContact(id: string): Promise<ContactDoc> {
  const doc = Types.ObjectId.isValid(id) ? await Contact.findById(id).lean<ContactDoc>() : null;
  if (!doc) throw notFound('contact');
  return doc;
}

/** Claims a company key for a new account; the account already holding it wins. */
async function claimAccountKey(key: string, accountId: Types.ObjectId): Promise<string> {
  try {
    await AccountKey.collection.insertOne({ _id: key, accountId, createdAt: clock.now() } as never);
    return String(accountId);
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const held = await AccountKey.findById(key).lean();
    return held ? String(held.accountId) : String(accountId);
  }
}

/** Salesforce's matching: the contact by email, its account, else an account by domain or name. */
async function matchRecords(lead: LeadDoc, opts: ConvertOptions): Promise<Plan> {
  let contact: ContactDoc | null = null;
  if (opts.contactId) contact = await existingContact(opts.contactId);
  else if (lead.existingContactId && Types.ObjectId.isValid(lead.existingContactId))
    contact = await Contact.findById(lead.existingContactId).lean<ContactDoc>();
  contact ??= await Contact.findOne({ emailKey: lead.emailKey }).lean<ContactDoc>();
  const contactId = contact ? String(contact._id) : String(derivedId(`contact:${String(lead._id)}`));

  if (opts.accountId) {
    await existingAccount(opts.accountId);
    return { accountId: opts.accountId, contactId };
  }
  if (contact?.accountId) return { accountId: String(contact.accountId), contactId };

  const domain = companyDomain(lead.email, websiteOf(lead));
  const nameKey = normalizeCompanyName(lead.company);
  if (domain) {
    const key = await AccountKey.findById(`domain:${domain}`).lean();
    if (key) return { accountId: String(key.accountId), contactId };
    const found = await Account.findOne({ domain }, { _id: 1 }).lean();
    if (found) return { accountId: String(found._id), contactId };
  }
  if (nameKey) {
    const key = await AccountKey.findById(`name:${nameKey}`).lean();
    if (key) return { accountId: String(key.accountId), contactId };
    const found = await Account.findOne({ nameKey }, { _id: 1 }).lean();
    if (found) return { accountId: String(found._id), contactId };
  }
  const fresh = derivedId(`account:${String(lead._id)}`);
  let accountId = String(fresh);
  if (domain) accountId = await claimAccountKey(`domain:${domain}`, fresh);
  if (nameKey && accountId === String(fresh)) accountId = await claimAccountKey(`name:${nameKey}`, fresh);
  return { accountId, contactId };
}

const accountName = (lead: LeadDoc, domain: string | undefined) =>
  lead.company ?? domain ?? ([lead.firstName, lead.lastName].filter(Boolean).join(' ') || lead.email);

/** Sets the fields of `current` that are empty to the lead's values; never overwrites. */
function emptyOnly(current: Record<string, unknown>, values: Record<string, unknown>) {
  const set: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) {
    if (v !== null && v !== undefined && v !== '' && (current[k] === null || current[k] === undefined))
      set[k] = v;
  }
  return set;
}

/** Creates the planned account, or fills the empty fields of the matched one. */
async function ensureAccount(lead: LeadDoc, id: string): Promise<AccountDoc> {
  const domain = companyDomain(lead.email, websiteOf(lead));
  const website = typeof websiteOf(lead) === 'string' ? (websiteOf(lead) as string) : null;
  const values = { website, domain: domain ?? null, country: lead.country ?? null };
  try {
    const name = accountName(lead, domain);
    const created = await Account.create({
      _id: new Types.ObjectId(id),
      name,
      nameKey: normalizeCompanyName(name) ?? name.toLowerCase(),
      ...values,
    });
    return created.toObject() as AccountDoc;
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
  }
  const acc = await Account.findById(id).lean<AccountDoc>();
  if (!acc) throw notFound('account');
  const set = emptyOnly(acc as Record<string, unknown>, values);
  if (Object.keys(set).length) await Account.updateOne({ _id: acc._id }, { $set: set });
  return { ...acc, ...set } as AccountDoc;
}

/** Creates the planned contact, or fills the empty fields of the matched one. */
async function ensureContact(lead: LeadDoc, id: string, accountId: string): Promise<void> {
  const values = {
    firstName: lead.firstName ?? null,
    lastName: lead.lastName ?? null,
    phone: lead.phone ?? null,
    title: lead.title ?? null,
    accountId: new Types.ObjectId(accountId),
    leadId: lead._id,
  };
  try {
    await Contact.create({
      _id: new Types.ObjectId(id),
      email: lead.email,
      emailKey: lead.emailKey,
      ...values,
    });
    return;
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
  }
  const c = await Contact.findById(id).lean<ContactDoc>();
  if (!c) throw conflict(`a contact with the email of lead ${String(lead._id)} already exists`);
  const set = emptyOnly(c as Record<string, unknown>, values);
  if (Object.keys(set).length) await Contact.updateOne({ _id: c._id }, { $set: set });
}

/** Inserts the opportunity under its derived `_id`; a repeated step meets its own insert. */
async function ensureOpportunity(
  lead: LeadDoc,
  account: AccountDoc,
  plan: Plan,
  opts: ConvertOptions,
): Promise<string> {
  const now = clock.now();
  const id = derivedId(`opportunity:${opts.requestId ?? `manual:${String(lead._id)}`}`);
  try {
    await Opportunity.create({
      _id: id,
      name: opts.opportunity?.name ?? opportunityName(account.name, now),
      accountId: account._id,
      contactId: new Types.ObjectId(plan.contactId),
      leadId: lead._id,
      handoffId: opts.requestId ?? null,
      ownerId: opts.ownerId ?? account.ownerId ?? null,
      amount: opts.opportunity?.amount ?? opts.terms.opportunity.amount,
      closeDate: opts.opportunity?.closeDate ?? new Date(now.getTime() + opts.terms.opportunity.closeInMs),
      stage: 'prospecting',
      history: [{ at: now, to: 'prospecting', reason: 'created by conversion' }],
    });
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
  }
  return String(id);
}

const stageOrder = ['subscriber', 'lead', 'mql', 'sql', 'opportunity', 'customer'];

/** The lead after conversion: converted, at `opportunity` (or `sql` without one), linked to its records. */
async function markConverted(lead: LeadDoc, result: ConversionResult, opts: ConvertOptions): Promise<void> {
  const now = clock.now();
  const target = result.opportunityId ? 'opportunity' : 'sql';
  const forward = stageOrder.indexOf(target) > stageOrder.indexOf(lead.lifecycleStage);
  const dates = (lead.stageDates ?? {}) as Record<string, unknown>;
  const set: Record<string, unknown> = { status: 'converted', conversion: result };
  if (!lead.convertedAt) set.convertedAt = now;
  if (forward) set.lifecycleStage = target;
  for (const s of stageOrder.slice(
    stageOrder.indexOf(lead.lifecycleStage) + 1,
    stageOrder.indexOf(target) + 1,
  ))
    if (!dates[s]) set[`stageDates.${s}`] = now;
  if (opts.ownerId) set.ownerId = opts.ownerId;
  await Lead.updateOne({ _id: lead._id }, { $set: set });
  const via = opts.requestId ?? 'manual';
  const events: NewEvent[] = [
    {
      leadId: lead._id,
      type: 'converted',
      occurredAt: now,
      key: `converted:${via}`,
      properties: { ...result, via },
    },
  ];
  if (forward)
    events.push({
      leadId: lead._id,
      type: 'stage_change',
      occurredAt: now,
      key: `stage_change:converted:${via}`,
      properties: { from: lead.lifecycleStage, to: target },
    });
  await recordEvents(events);
  await exitEnrollmentsForLead(lead._id, 'converted');
}

/**
 * Salesforce's Convert Lead, used by `POST /api/leads/:id/convert` and the handoff worker alike:
 * the account (matched by company domain or name, else created), the contact (matched by email,
 * else created; a match only gets its empty fields filled), an opportunity unless told to create
 * none, and the lead marked converted. Every record has an `_id` decided once (a claim per lead, an
 * id derived from the request), so running it again, concurrently or after a crash, converges on
 * the same records instead of creating more.
 */
export async function convertLead(leadId: string, opts: ConvertOptions): Promise<ConversionResult> {
  const lead = await resolveLead(leadId);
  const claimId = `conversion:${String(lead._id)}`;
  let plan = await readClaim<Plan>(claimId);
  if (!plan) plan = (await claimOnce(claimId, await matchRecords(lead, opts))).value;
  const account = await ensureAccount(lead, plan.accountId);
  await ensureContact(lead, plan.contactId, plan.accountId);
  const create = opts.createOpportunity ?? opts.terms.createOpportunity;
  const opportunityId = create ? await ensureOpportunity(lead, account, plan, opts) : null;
  const result = { accountId: plan.accountId, contactId: plan.contactId, opportunityId };
  await markConverted(lead, result, opts);
  return result;
}

/** A manual conversion: refused for a lead that was converted before (it keeps its records). */
export async function convertLeadManually(leadId: string, opts: ConvertOptions): Promise<ConversionResult> {
  const lead = await resolveLead(leadId);
  if (lead.convertedAt || lead.status === 'converted')
    throw conflict('the lead was already converted; see its conversion');
  return convertLead(String(lead._id), opts);
}
