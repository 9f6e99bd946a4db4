import ct from 'countries-and-timezones';
import { DateTime, IANAZone } from 'luxon';
import { parseDuration } from '../../lib/clock.js';
import type { SendWindow, StepCondition, StepVariant } from './sequences.schemas.js';

/**
 * Countries spanning several zones: the zone where most of the population lives (the package
 * lists zones alphabetically, which would put Alaska's Adak first for the US).
 */
const populousZone: Record<string, string> = {
  US: 'America/New_York',
  CA: 'America/Toronto',
  BR: 'America/Sao_Paulo',
  RU: 'Europe/Moscow',
  AU: 'Australia/Sydney',
  MX: 'America/Mexico_City',
  ES: 'Europe/Madrid',
  PT: 'Europe/Lisbon',
  CL: 'America/Santiago',
  AR: 'America/Argentina/Buenos_Aires',
  CD: 'Africa/Kinshasa',
  KZ: 'Asia/Almaty',
  MN: 'Asia/Ulaanbaatar',
  UA: 'Europe/Kyiv',
  EC: 'America/Guayaquil',
  FR: 'Europe/Paris',
  GB: 'Europe/London',
  NL: 'Europe/Amsterdam',
  DK: 'Europe/Copenhagen',
  NZ: 'Pacific/Auckland',
  ID: 'Asia/Jakarta',
  CN: 'Asia/Shanghai',
  DE: 'Europe/Berlin',
};

/**
 * The zone a lead's send window is read in: the window's own zone when it names one; for "lead",
 * the lead's `attributes.timezone` when it is a valid IANA zone, else its country's zone, else UTC.
 */
export function chooseTimezone(
  windowZone: string,
  lead: { country?: string | null; attributes?: unknown },
): string {
  if (windowZone !== 'lead') return windowZone;
  const attrs = lead.attributes as Record<string, unknown> | null | undefined;
  const tz = attrs?.timezone;
  if (typeof tz === 'string' && IANAZone.isValidZone(tz)) return tz;
  const country = typeof lead.country === 'string' ? lead.country.toUpperCase() : undefined;
  if (country && /^[A-Z]{2}$/.test(country)) {
    const preferred = populousZone[country];
    if (preferred && IANAZone.isValidZone(preferred)) return preferred;
    const zones = ct.getCountry(country)?.timezones ?? [];
    const first = zones.find((z) => IANAZone.isValidZone(z));
    if (first) return first;
  }
  return 'UTC';
}

/**
 * The earliest instant at or after `now` inside the send window (ISO weekdays, Mon=1, from/to
 * local wall-clock times in `zone`, `to` exclusive). `now` itself when it is already inside.
 */
export function nextAllowedTime(now: Date, window: SendWindow, zone: string): Date {
  const local = DateTime.fromJSDate(now, { zone });
  const [fh, fm] = window.from.split(':').map(Number) as [number, number];
  const [th, tm] = window.to.split(':').map(Number) as [number, number];
  // eight days cover every weekday set, including "only today's weekday, but today's window passed"
  for (let i = 0; i <= 7; i++) {
    const day = local.plus({ days: i }).startOf('day');
    if (!window.days.includes(day.weekday)) continue;
    const start = day.set({ hour: fh, minute: fm });
    const end = day.set({ hour: th, minute: tm });
    if (i === 0) {
      if (local >= start && local < end) return now;
      if (local < start) return start.toJSDate();
      continue;
    }
    return start.toJSDate();
  }
  // unreachable with a validated window (days is non-empty); never block a sequence on it
  return now;
}

export type SendFacts = { openedAt?: Date | null; clickedAt?: Date | null } | undefined;

/**
 * Whether a step's `if` holds, given what the earlier step's send recorded. A step that was never
 * sent (skipped, or suppressed) counts as not opened and not clicked.
 */
export function evaluateCondition(
  cond: StepCondition | undefined,
  sendFor: (stepId: string) => SendFacts,
): boolean {
  if (!cond) return true;
  if (cond.opened) return Boolean(sendFor(cond.opened)?.openedAt);
  if (cond.clicked) return Boolean(sendFor(cond.clicked)?.clickedAt);
  if (cond.notOpened) return !sendFor(cond.notOpened)?.openedAt;
  if (cond.notClicked) return !sendFor(cond.notClicked)?.clickedAt;
  return true;
}

/** Picks an A/B variant at random in proportion to its weight (default 1). */
export function chooseVariant<V extends Pick<StepVariant, 'weight'>>(
  variants: V[],
  random: () => number = Math.random,
): V {
  const weights = variants.map((v) => Math.max(0, v.weight ?? 1));
  const total = weights.reduce((a, b) => a + b, 0);
  if (total <= 0) return variants[0]!;
  let r = random() * total;
  for (let i = 0; i < variants.length; i++) {
    r -= weights[i]!;
    if (r < 0) return variants[i]!;
  }
  return variants[variants.length - 1]!;
}

/**
 * Frequency cap: when `count` sends already happened within `windowMs` before `now`, the time the
 * oldest of them leaves the window (when the next send is allowed); undefined when not capped.
 */
export function capDeferral(
  sentTimes: Date[],
  now: Date,
  cap: { count: number; windowMs: number },
): Date | undefined {
  if (cap.count <= 0) return undefined;
  const since = now.getTime() - cap.windowMs;
  const inWindow = sentTimes
    .map((d) => d.getTime())
    .filter((t) => t > since && t <= now.getTime())
    .sort((a, b) => a - b);
  if (inWindow.length < cap.count) return undefined;
  // the send that must leave the window before one more fits under the cap
  const blocking = inWindow[inWindow.length - cap.count]!;
  return new Date(blocking + cap.windowMs + 1);
}

/**
 * Whether a lead may start this sequence again under its `reenroll` policy, given when its
 * previous enrollments ended (null while one is still active; the unique slot refuses that anyway).
 */
export function reenrollAllowed(
  policy: string,
  previous: { finishedAt?: Date | null }[],
  now: Date,
): boolean {
  if (previous.length === 0) return true;
  if (previous.some((p) => p.finishedAt == null)) return false;
  if (policy === 'always') return true;
  if (policy.startsWith('after:')) {
    const ms = parseDuration(policy.slice(6));
    if (ms === undefined) return false;
    const last = Math.max(...previous.map((p) => p.finishedAt!.getTime()));
    return now.getTime() - last >= ms;
  }
  return false;
}

type SendCounts = { sent: number; opened: number; clicked: number; unsubscribed: number; bounced: number };

export type StepStats = { id: string } & SendCounts & { variants?: ({ id: string } & SendCounts)[] };

type Row = {
  stepId: string;
  variant: string | null;
  sent: number;
  opened: number;
  clicked: number;
  unsubscribed: number;
  bounced: number;
};

/** Folds per (step, variant) counts into the stats answer, in the definition's step order. */
export function foldStepStats(
  stepIds: string[],
  variantIds: Map<string, string[]>,
  rows: Row[],
): StepStats[] {
  const zero = () => ({ sent: 0, opened: 0, clicked: 0, unsubscribed: 0, bounced: 0 });
  const add = (a: ReturnType<typeof zero>, r: Row) => {
    a.sent += r.sent;
    a.opened += r.opened;
    a.clicked += r.clicked;
    a.unsubscribed += r.unsubscribed;
    a.bounced += r.bounced;
  };
  return stepIds.map((id) => {
    const total = zero();
    const own = rows.filter((r) => r.stepId === id);
    own.forEach((r) => add(total, r));
    const vids = variantIds.get(id);
    if (!vids) return { id, ...total };
    const variants = vids.map((vid) => {
      const v = zero();
      own.filter((r) => r.variant === vid).forEach((r) => add(v, r));
      return { id: vid, ...v };
    });
    return { id, ...total, variants };
  });
}
