import { Types } from 'mongoose';
import { clock } from '../../src/lib/clock.js';
import { Lead } from '../../src/modules/leads/lead.model.js';
import { emailKey } from '../../src/modules/leads/normalize.js';
import { HandoffRequest, handoffRequestId } from '../../src/modules/qualification/index.js';
import { enqueue } from '../../src/queues/index.js';

let seq = 0;

/** A lead written as capture writes one (tests of handoff do not need the intake path). */
export async function makeLead(fields: Record<string, unknown> = {}) {
  const n = ++seq;
  const email = (fields.email as string) ?? `person${n}-${Date.now()}@co${n}-${process.pid}.example`;
  const lead = await Lead.create({
    email,
    emailKey: emailKey(email),
    firstName: 'Pat',
    lastName: `Person${n}`,
    company: `Company ${n} ${process.pid}`,
    title: 'CTO',
    status: 'nurturing',
    lifecycleStage: 'mql',
    score: 120,
    grade: 'A',
    bant: { budget: '50k', authority: 'true', need: 'CRM', timeline: 'Q3' },
    ...fields,
  } as Record<string, unknown>);
  return lead.toObject();
}

/**
 * What the qualification area does when a lead meets the agreement: the HandoffRequest insert of
 * `<leadId>:<cycle>`, the lead's `qualification`, then a `handoff` job. `jobs` enqueues several
 * (distinct job ids) to act like concurrent qualifying events.
 */
export async function qualify(
  leadId: string | Types.ObjectId,
  opts: { cycle?: number; agreementVersion?: number; jobs?: number; enqueue?: boolean } = {},
) {
  const cycle = opts.cycle ?? 1;
  const id = handoffRequestId(String(leadId), cycle);
  const qualifiedAt = clock.now();
  await HandoffRequest.create({
    _id: id,
    leadId,
    cycle,
    agreementVersion: opts.agreementVersion ?? 1,
    qualifiedAt,
    reasons: {
      score: 120,
      topReasons: [
        { reason: 'Visited /pricing', points: 30, ruleId: 'pricing' },
        { reason: 'Requested a demo', points: 50, ruleId: 'demo' },
      ],
      bant: { budget: '50k', authority: 'true', need: 'CRM', timeline: 'Q3' },
      grade: 'A',
    },
  });
  await Lead.updateOne(
    { _id: leadId },
    {
      $set: {
        status: 'qualified',
        qualification: { cycle, agreementVersion: 1, qualifiedAt, requestId: id },
      },
    },
  );
  if (opts.enqueue !== false) {
    for (let i = 0; i < (opts.jobs ?? 1); i++)
      await enqueue('handoff', { requestId: id }, { jobId: `t-${id.replace(':', '-')}-${i}` });
  }
  return id;
}
