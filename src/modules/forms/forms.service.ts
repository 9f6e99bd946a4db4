import { Types } from 'mongoose';
import { clock } from '../../lib/clock.js';
import { notFound, validationFailed, type ErrorDetail } from '../../lib/errors.js';
import { zodDetails } from '../../lib/http.js';
import { counter } from '../../lib/metrics.js';
import { campaignFrom, trackFormSubmission } from '../events/index.js';
import { captureLead, leadInputSchema } from '../leads/index.js';
import { renderEmbed } from './form.embed.js';
import { Form, type FormDoc } from './form.model.js';
import { formIdPattern, type FormDefinition } from './forms.schemas.js';
import { applyBantAnswers, bantAnswers } from './form-bant.js';
import { isSpam, mapSubmission, pickRedirect } from './submission.mapping.js';

const spamCounter = counter('leadflow_form_spam_total', 'Form submissions dropped as spam', ['reason']);
const submissionCounter = counter('leadflow_form_submissions_total', 'Form submissions accepted', [
  'created',
]);

export function toFormJson(f: FormDoc, publicUrl: string) {
  return {
    id: f.formId,
    name: f.name,
    redirectUrl: f.redirectUrl ?? null,
    allowedOrigins: f.allowedOrigins ?? [],
    allowRetUrl: f.allowRetUrl ?? false,
    source: f.source ?? null,
    fields: (f.fields ?? []).map((x) => ({
      name: x.name!,
      label: x.label ?? null,
      required: !!x.required,
      bant: x.bant ?? null,
    })),
    sequence: f.sequence ?? null,
    honeypot: f.honeypot ?? '_hp',
    minFillSeconds: f.minFillSeconds ?? 0,
    stage: f.stage ?? null,
    embed: renderEmbed(
      { formId: f.formId, name: f.name, honeypot: f.honeypot ?? '_hp', fields: (f.fields ?? []) as never },
      publicUrl,
    ),
    createdAt: f.createdAt,
    updatedAt: f.updatedAt,
  };
}

// Submissions read their form from a short-lived per-process cache: one MongoDB round trip less
// on the hot path; a PUT is seen at once here and within `cacheMs` by other API processes.
const cacheMs = 5000;
const cache = new Map<string, { form: FormDoc | null; at: number }>();

export async function loadForm(formId: string): Promise<FormDoc | null> {
  const hit = cache.get(formId);
  if (hit && Date.now() - hit.at < cacheMs) return hit.form;
  const form = await Form.findOne({ formId }).lean<FormDoc>();
  if (cache.size > 10_000) cache.clear();
  cache.set(formId, { form, at: Date.now() });
  return form;
}

export async function putForm(formId: string, def: FormDefinition, publicUrl: string) {
  const set = {
    name: def.name,
    redirectUrl: def.redirectUrl ?? null,
    allowedOrigins: def.allowedOrigins ?? [],
    allowRetUrl: def.allowRetUrl ?? false,
    source: def.source ?? null,
    fields: def.fields ?? [],
    sequence: def.sequence ?? null,
    honeypot: def.honeypot ?? '_hp',
    minFillSeconds: def.minFillSeconds ?? 0,
    stage: def.stage ?? null,
  };
  const form = await Form.findOneAndUpdate(
    { formId },
    { $set: set, $setOnInsert: { formId } },
    { upsert: true, returnDocument: 'after', runValidators: true },
  ).lean<FormDoc>();
  cache.delete(formId);
  return toFormJson(form!, publicUrl);
}

export async function getForm(formId: string, publicUrl: string) {
  // an id no form can have (a NUL, a path) is not looked up: the database would refuse some of them
  const form = formIdPattern.test(formId) ? await Form.findOne({ formId }).lean<FormDoc>() : null;
  if (!form) throw notFound('form');
  return toFormJson(form, publicUrl);
}

export async function listForms(publicUrl: string, limit: number, cursor?: string) {
  const docs = await Form.find(cursor ? { formId: { $gt: cursor } } : {})
    .sort({ formId: 1 })
    .limit(limit + 1)
    .lean<FormDoc[]>();
  const page = docs.slice(0, limit);
  return {
    items: page.map((f) => toFormJson(f, publicUrl)),
    nextCursor: docs.length > limit ? page[page.length - 1]!.formId : null,
  };
}

export type SubmissionOutcome = {
  leadId: string;
  created: boolean;
  /** where a browser goes next (null: show our thank-you page) */
  redirect: string | null;
  spam: boolean;
};

/**
 * One form submission: spam is answered like a success and writes nothing; otherwise the
 * submission is mapped (Web-to-Lead names, declared fields), validated and captured.
 */
export async function submitForm(
  form: FormDoc,
  body: Record<string, unknown>,
  meta: { origin?: string; userAgent?: string; trackingSecret: string },
): Promise<SubmissionOutcome> {
  const rules = {
    fields: form.fields as never,
    honeypot: form.honeypot ?? '_hp',
    minFillSeconds: form.minFillSeconds ?? 0,
  };
  const redirect = pickRedirect(form, body.retURL);
  if (isSpam(body, rules, clock.now().getTime())) {
    spamCounter.inc({ reason: body[rules.honeypot] ? 'honeypot' : 'too_fast' });
    return { leadId: String(new Types.ObjectId()), created: true, redirect, spam: true };
  }
  const mapped = mapSubmission(body, rules);
  const parsed = leadInputSchema.safeParse(mapped.input);
  const bant = bantAnswers(form, body);
  const details: ErrorDetail[] = [...mapped.errors, ...bant.errors];
  if (!parsed.success) {
    for (const d of zodDetails(parsed.error)) {
      const [field] = d.path.split('.');
      // `attributes.00N…` is named as the form named it
      const attribute = d.path.split('.').slice(0, 2).join('.');
      const named = mapped.submittedName[attribute] ?? mapped.submittedName[field ?? ''] ?? d.path;
      if (!details.some((x) => x.path === named)) details.push({ path: named, message: d.message });
    }
  }
  if (details.length || !parsed.success) throw validationFailed(details, 'some fields are not valid');
  const campaign = campaignFrom(body);
  const hasCampaign = Object.keys(campaign).length > 0;
  const r = await captureLead(parsed.data, {
    via: 'form',
    formId: form.formId,
    source: form.source ?? undefined,
    sequenceKey: form.sequence ?? undefined,
    ...(form.stage === 'subscriber' ? { stage: 'subscriber' as const } : {}),
    eventProperties: [
      {
        ...(meta.origin ? { origin: meta.origin.slice(0, 200) } : {}),
        ...(meta.userAgent ? { userAgent: meta.userAgent.slice(0, 300) } : {}),
        ...(hasCampaign ? { campaign } : {}),
      },
    ],
  });
  await applyBantAnswers(r.leadId!, bant.answers);
  // website tracking: the visitor id identifies the visitor, the campaign becomes a touch
  await trackFormSubmission(meta.trackingSecret, r.leadId!, body, clock.now());
  submissionCounter.inc({ created: String(r.created) });
  return { leadId: r.leadId!, created: r.created, redirect, spam: false };
}
