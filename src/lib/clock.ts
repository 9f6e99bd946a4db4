/**
 * The time source. Everything that decides by "now" (send windows, waits, SLAs, decay) asks this,
 * so tests can move time without sleeping.
 */
export type Clock = { now(): Date };

let offsetMs = 0;

export const clock: Clock = { now: () => new Date(Date.now() + offsetMs) };

/** Test hook: shift `clock.now()` by `ms` (cumulative). Never used outside tests and the CLI. */
export function advanceClock(ms: number): void {
  offsetMs += ms;
}

export function resetClock(): void {
  offsetMs = 0;
}

const unitMs = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** Parses API.md durations ("30s", "15m", "2h", "3d", "1w") into milliseconds; undefined if not one. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,9})(s|m|h|d|w)$/.exec(text);
  if (!m) return undefined;
  return Number(m[1]) * unitMs[m[2] as keyof typeof unitMs];
}
