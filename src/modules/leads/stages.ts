import { lifecycleStages, type LifecycleStage } from './lead.model.js';

/** Whether `to` is later than `from` in the lifecycle (subscriber → … → customer). */
export function isLaterStage(from: LifecycleStage, to: LifecycleStage): boolean {
  return lifecycleStages.indexOf(to) > lifecycleStages.indexOf(from);
}

/**
 * The `$set` paths that record reaching `stage` at `now`: its own date and the date of every
 * earlier stage the lead skipped (a lead qualified straight from `lead` also reached `mql`), never
 * overwriting a date already recorded. The funnel report counts `stageDates.<stage>`, so every
 * writer of `lifecycleStage` goes through this (a customer counts as lead, MQL, SQL and
 * opportunity; `subscriber` is only ever a starting stage, never backfilled).
 */
export function stageDatePaths(
  stage: LifecycleStage,
  existing: Record<string, unknown> | null | undefined,
  now: Date,
): Record<string, Date> {
  const set: Record<string, Date> = {};
  const upTo = lifecycleStages.indexOf(stage);
  for (let i = 1; i <= upTo; i++) {
    const s = lifecycleStages[i]!;
    if (!existing?.[s]) set[`stageDates.${s}`] = now;
  }
  if (stage === 'subscriber' && !existing?.subscriber) set['stageDates.subscriber'] = now;
  return set;
}
