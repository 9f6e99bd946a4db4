/** What assignment needs of a rep. `match` maps a lead field to the values the rep takes. */
export type RepForAssignment = {
  _id: string;
  active: boolean;
  match?: Record<string, string[]> | null;
  capacity?: number | null;
  lastAssignedAt?: Date | null;
};

const norm = (v: unknown) => (typeof v === 'string' ? v.trim().toLowerCase() : String(v ?? ''));

/** The lead's value of a match field: a lead field, else one of its custom attributes. */
function fieldValue(lead: Record<string, unknown>, field: string): unknown {
  if (field in lead && field !== 'attributes') return lead[field];
  const attrs = (lead.attributes ?? {}) as Record<string, unknown>;
  return attrs[field];
}

/** True when every rule of the rep's `match` accepts the lead (no rules: matches everyone). */
export function repMatches(rep: RepForAssignment, lead: Record<string, unknown>): boolean {
  for (const [field, values] of Object.entries(rep.match ?? {})) {
    if (!values || values.length === 0) continue;
    const v = fieldValue(lead, field);
    if (v === null || v === undefined || v === '') return false;
    if (!values.some((x) => norm(x) === norm(v))) return false;
  }
  return true;
}

/** True when a rule of the rep names fields, i.e. the rep takes a segment and not everyone. */
const hasRules = (rep: RepForAssignment) => Object.values(rep.match ?? {}).some((v) => v && v.length > 0);

function hasCapacity(rep: RepForAssignment, open: ReadonlyMap<string, number>): boolean {
  return rep.capacity === null || rep.capacity === undefined || (open.get(rep._id) ?? 0) < rep.capacity;
}

/** Least recently assigned first (never assigned before anyone), then by id for a stable order. */
function byRoundRobin(a: RepForAssignment, b: RepForAssignment): number {
  const ta = a.lastAssignedAt ? a.lastAssignedAt.getTime() : -Infinity;
  const tb = b.lastAssignedAt ? b.lastAssignedAt.getTime() : -Infinity;
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a._id < b._id ? -1 : a._id > b._id ? 1 : 0;
}

/**
 * Pardot-style group assignment: among the active reps whose rules match the lead and who have
 * capacity left, the one assigned least recently. When no rep's rules match (or only reps without
 * rules exist), every active rep with capacity is eligible: the fallback. `exclude` skips reps (an SLA reassignment skips
 * the previous owners). Returns the rep's id, or undefined when nobody can take the lead.
 */
export function chooseRep(
  reps: RepForAssignment[],
  lead: Record<string, unknown>,
  open: ReadonlyMap<string, number>,
  exclude: ReadonlySet<string> = new Set(),
): string | undefined {
  const available = reps.filter((r) => r.active && !exclude.has(r._id) && hasCapacity(r, open));
  const matching = available.filter((r) => hasRules(r) && repMatches(r, lead));
  const pool = matching.length > 0 ? matching : available;
  return [...pool].sort(byRoundRobin)[0]?._id;
}
