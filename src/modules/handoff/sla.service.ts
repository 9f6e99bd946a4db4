import { clock } from '../../lib/clock.js';
import type { Logger } from '../../lib/logger.js';
import { recordEvents } from '../leads/index.js';
import { applyOwner, chooseOwner } from './assignment.service.js';
import { Handoff, type HandoffDoc } from './handoff.model.js';
import type { HandoffRuntime } from './handoff.service.js';
import { notifyOwner } from './notification.service.js';

const hourMs = 3_600_000;

async function step(h: HandoffDoc, action: string, set: Record<string, unknown>, detail: string) {
  const now = clock.now();
  // the keyed event first, the stage last: a stage that has moved on has its timeline entry
  await recordEvents([
    {
      leadId: h.leadId,
      type: `handoff_${action}`,
      occurredAt: now,
      key: `handoff_${action}:${h._id}:${h.slaStage}`,
      properties: { handoffId: h._id, ownerId: h.ownerId, detail },
    },
  ]);
  await Handoff.updateOne(
    { _id: h._id, status: 'pending', slaStage: h.slaStage },
    { $set: set, $push: { history: { at: now, action, detail, by: h.ownerId } } },
  );
}

async function expire(h: HandoffDoc) {
  await step(
    h,
    'expired',
    { status: 'expired', slaDueAt: null, slaStage: 3 },
    'no rep responded within the SLA',
  );
}

/** One overdue handoff's next SLA step: reminder → reassignment to the next rep → expired. */
async function escalate(rt: HandoffRuntime, h: HandoffDoc, log: Logger): Promise<string> {
  const now = clock.now();
  const nextDue = new Date(now.getTime() + (h.slaHours ?? 24) * hourMs);
  if (h.slaStage === 0) {
    await notifyOwner(rt, h, h.ownerId!, 'reminder', `remind:${h._id}:${h.ownerId}`, log);
    await step(h, 'sla_reminder', { slaStage: 1, slaDueAt: nextDue }, `reminder sent to ${h.ownerId}`);
    return 'reminded';
  }
  if (h.slaStage === 1) {
    const n = (h.owners?.length ?? 1) + 1;
    const next = await chooseOwner(h, n, new Set(h.owners ?? []));
    if (!next) {
      await expire(h);
      return 'expired';
    }
    // the new owner and the notification first, the stage last: stage 2 means "expire when due",
    // so a crash after writing it would have expired a handoff nobody was given. A crash before it
    // leaves stage 1 with the new owner and a fresh SLA clock: when that is missed, the next rep.
    const moved = await applyOwner(
      { ...h, slaStage: 2 } as HandoffDoc,
      next,
      n,
      `SLA missed by ${h.ownerId}`,
    );
    const outcome = await notifyOwner(rt, moved, next, 'reassigned', `notify:${h._id}:${n}`, log);
    await Handoff.updateOne(
      { _id: h._id },
      {
        $set: {
          notificationStatus: outcome === 'in_progress' ? 'sending' : outcome,
          ...(outcome === 'sent' ? { notifiedAt: clock.now() } : {}),
          notifications: n,
        },
      },
    );
    await step(h, 'sla_reassign', { slaStage: 2 }, `from ${h.ownerId} to ${next}`);
    return 'reassigned';
  }
  await expire(h);
  return 'expired';
}

/**
 * The scheduler's `sla` task: every pending handoff whose SLA is due takes its next step (a
 * reminder, then reassignment to the next rep, then expiry), each recorded on the handoff and the
 * lead's timeline. Runs on the maintenance worker (one at a time).
 */
export async function checkSla(rt: HandoffRuntime, log: Logger, limit = 500) {
  const due = await Handoff.find({
    status: 'pending',
    slaDueAt: { $lte: clock.now() },
    ownerId: { $ne: null },
  })
    .sort({ slaDueAt: 1 })
    .limit(limit)
    .lean<HandoffDoc[]>();
  const counts: Record<string, number> = { reminded: 0, reassigned: 0, expired: 0 };
  for (const h of due) {
    const r = await escalate(rt, h, log);
    counts[r] = (counts[r] ?? 0) + 1;
  }
  if (due.length) log.info(counts, 'handoff SLA checked');
  return counts;
}
