import { isValidObjectId, Types } from 'mongoose';
import { notFound } from '../../lib/errors.js';
import { Account, type AccountDoc } from './account.model.js';
import { Contact, type ContactDoc } from './contact.model.js';
import { Opportunity, type OpportunityDoc } from './opportunity.model.js';

export function toContactJson(c: ContactDoc) {
  return {
    id: String(c._id),
    email: c.email,
    firstName: c.firstName ?? null,
    lastName: c.lastName ?? null,
    phone: c.phone ?? null,
    title: c.title ?? null,
    accountId: c.accountId ? String(c.accountId) : null,
    ownerId: c.ownerId ?? null,
    leadId: c.leadId ? String(c.leadId) : null,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
  };
}

export function toAccountJson(a: AccountDoc) {
  return {
    id: String(a._id),
    name: a.name,
    website: a.website ?? null,
    domain: a.domain ?? null,
    industry: a.industry ?? null,
    country: a.country ?? null,
    ownerId: a.ownerId ?? null,
    type: a.type,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
  };
}

export function toOpportunityJson(o: OpportunityDoc) {
  return {
    id: String(o._id),
    name: o.name,
    accountId: String(o.accountId),
    contactId: o.contactId ? String(o.contactId) : null,
    leadId: o.leadId ? String(o.leadId) : null,
    handoffId: o.handoffId ?? null,
    ownerId: o.ownerId ?? null,
    amount: o.amount ?? null,
    closeDate: o.closeDate ?? null,
    stage: o.stage,
    lostReason: o.lostReason ?? null,
    closedAt: o.closedAt ?? null,
    history: (o.history ?? []).map((h) => ({
      at: h.at,
      from: h.from ?? null,
      to: h.to,
      reason: h.reason ?? null,
      by: h.by ?? null,
    })),
    createdAt: o.createdAt,
    updatedAt: o.updatedAt,
  };
}
export type OpportunityJson = ReturnType<typeof toOpportunityJson>;

const opportunitiesOf = async (filter: Record<string, unknown>) =>
  (await Opportunity.find(filter).sort({ _id: -1 }).limit(200).lean<OpportunityDoc[]>()).map(
    toOpportunityJson,
  );

/** A contact with its opportunities; `leadId` leads to its events, emails and score ledger. */
export async function getContact(id: string) {
  const c = isValidObjectId(id) ? await Contact.findById(id).lean<ContactDoc>() : null;
  if (!c) throw notFound('contact');
  return { ...toContactJson(c), opportunities: await opportunitiesOf({ contactId: c._id }) };
}

/** An account with its contacts' ids and its opportunities. */
export async function getAccount(id: string) {
  const a = isValidObjectId(id) ? await Account.findById(id).lean<AccountDoc>() : null;
  if (!a) throw notFound('account');
  const contacts = await Contact.find({ accountId: a._id }, { _id: 1 }).limit(500).lean();
  return {
    ...toAccountJson(a),
    contactIds: contacts.map((c) => String(c._id)),
    opportunities: await opportunitiesOf({ accountId: new Types.ObjectId(String(a._id)) }),
  };
}
