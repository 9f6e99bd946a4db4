import type { Logger } from '../../lib/logger.js';
import type { Runtime } from '../../lib/runtime.js';
import type { Payload } from '../../queues/index.js';
import { Types } from 'mongoose';
import { Enrollment } from './enrollment.model.js';
import { SequenceVersion } from './sequence.model.js';
import type { SequenceDefinition } from './sequences.schemas.js';
import { enrollLead, exitEnrollmentsForLead } from './enrollments.service.js';

/**
 * A lead reached a lifecycle stage (the `stage-reached` job, enqueued by qualification): sequences
 * whose latest version says `enroll: {stages: [stage]}` enroll it (the MQL nurture); reaching
 * `sql` (qualified) ends the active enrollments whose sequence has `exitOn: ["qualified"]` at once,
 * instead of at their next step.
 */
export async function enrollOnStage(
  payload: Payload<'stage-reached'>,
  log?: Logger,
): Promise<{ enrolled: string[]; exited: number }> {
  const { leadId, stage } = payload;
  const exited = stage === 'sql' ? await exitQualifiedEnrollments(leadId) : 0;
  const matches = await SequenceVersion.find(
    { 'definition.enroll.stages': stage },
    { key: 1, version: 1 },
  ).lean();
  const keys = new Set<string>();
  for (const m of matches) {
    // only the latest version's trigger counts
    const latest = await SequenceVersion.findOne({ key: m.key }, { version: 1 }).sort({ version: -1 }).lean();
    if (latest?.version === m.version) keys.add(m.key);
  }
  const enrolled: string[] = [];
  for (const key of keys) {
    try {
      await enrollLead(key, leadId, log);
      enrolled.push(key);
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status !== 404 && status !== 409) throw err;
      log?.debug({ key, leadId, reason: (err as Error).message }, 'not enrolled at stage');
    }
  }
  return { enrolled, exited };
}

async function exitQualifiedEnrollments(leadId: string): Promise<number> {
  const active = await Enrollment.find(
    { leadId: new Types.ObjectId(leadId), state: 'active' },
    { sequenceKey: 1, version: 1 },
  ).lean();
  const ids: Types.ObjectId[] = [];
  for (const e of active) {
    const v = await SequenceVersion.findOne(
      { key: e.sequenceKey, version: e.version },
      { definition: 1 },
    ).lean();
    const def = v?.definition as SequenceDefinition | undefined;
    if (def?.exitOn?.includes('qualified')) ids.push(e._id);
  }
  return ids.length ? exitEnrollmentsForLead(leadId, 'qualified', ids) : 0;
}

/** stage-reached: enroll into stage-triggered sequences, end nurture on qualification. */
export function stageReachedProcessor(_rt: Runtime) {
  return (payload: Payload<'stage-reached'>, { log }: { log: Logger }) => enrollOnStage(payload, log);
}
