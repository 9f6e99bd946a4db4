/**
 * One line a person reads for a timeline entry ("Viewed /pricing", "Score 40 → 95"), instead of
 * the event's raw properties. Plain text: the page escapes it. Unknown kinds fall back to a short
 * `key: value` list of their scalar properties.
 */
type Props = Record<string, unknown>;

const str = (v: unknown): string | null =>
  typeof v === 'string' && v ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : null;
const stage = (v: unknown) => (str(v) ?? '—').replaceAll('_', ' ');

function scoreText(p: Props): string {
  const reasons = Array.isArray(p.reasons) ? p.reasons.filter((r) => typeof r === 'string') : [];
  const delta = typeof p.delta === 'number' ? ` (${p.delta > 0 ? '+' : ''}${p.delta})` : '';
  const grade = str(p.grade) ? ` · grade ${str(p.grade)}` : '';
  const why = reasons.length ? ` · ${reasons.slice(0, 3).join(', ')}` : '';
  // a change of the fit grade alone (the score stayed): say so, not "Score 0 → 0 (0)"
  if (p.from === p.to && grade) return `Grade ${str(p.grade)}, score unchanged at ${str(p.to) ?? 0}${why}`;
  return `Score ${str(p.from) ?? 0} → ${str(p.to) ?? 0}${delta}${grade}${why}`;
}

/** Titles for kinds whose raw name reads badly once underscores become spaces. */
const titles: Record<string, string> = {
  api_submit: 'API submission',
  form_submit: 'Form submission',
  bant_change: 'BANT answers',
  email_open: 'Email opened',
  email_click: 'Email clicked',
  page_view: 'Page view',
};

/** The heading of a timeline entry: "API submission", "Stage change". */
export function eventTitle(kind: string): string {
  const plain = kind.replaceAll('_', ' ');
  return titles[kind] ?? plain.charAt(0).toUpperCase() + plain.slice(1);
}

function pageText(p: Props): string {
  const campaign = str(p.utm_campaign) ? ` · campaign ${str(p.utm_campaign)}` : '';
  const title = str(p.title) ? ` “${str(p.title)}”` : '';
  return `Viewed ${str(p.path) ?? 'a page'}${title}${campaign}`;
}

function bantText(p: Props): string {
  const bant = (p.bant && typeof p.bant === 'object' ? p.bant : {}) as Props;
  const given = Object.entries(bant)
    .filter(([, v]) => str(v))
    .map(([k, v]) => `${k}: ${str(v)}`);
  return given.length ? `BANT answered · ${given.join(' · ')}` : 'BANT answers changed';
}

function emailText(verb: string, p: Props): string {
  const where = [str(p.sequenceKey), str(p.stepId)].filter(Boolean).join(' / ');
  const url = str(p.url) ? ` · ${str(p.url)}` : '';
  return `${verb}${where ? ` · ${where}` : ''}${url}`;
}

/** Rep names by id, for the entries that name an owner or who decided (else the id shows). */
type Names = Record<string, string>;
/** The rep's name for an owner id (`repDirectory().names`), or the id itself when no rep has it. */
export const repName = (v: unknown, names: Names = {}): string | null => {
  const id = str(v);
  return id && Object.hasOwn(names, id) ? (names[id] ?? id) : id;
};

const describers: Record<string, (p: Props, names: Names) => string> = {
  score_change: scoreText,
  page_view: pageText,
  bant_change: bantText,
  form_submit: (p) => `Submitted the form ${str(p.formId) ?? ''}`.trim(),
  api_submit: (p) => (p.created === false ? 'Updated through the API' : 'Created through the API'),
  import: () => 'Imported from a CSV file',
  stage_change: (p) => `Stage ${stage(p.from)} → ${stage(p.to)}`,
  status_change: (p) => `Status ${stage(p.from)} → ${stage(p.to)}`,
  qualified: (p) => `Qualified under agreement v${str(p.agreementVersion) ?? '?'}`,
  converted: () => 'Converted: account, contact and opportunity created',
  handoff_created: () => 'Handed off to sales',
  handoff_assigned: (p, n) =>
    `Assigned to ${repName(p.ownerId, n) ?? 'nobody'}${str(p.detail) ? ` (${str(p.detail)})` : ''}`,
  handoff_reassigned: (p, n) =>
    `Reassigned to ${repName(p.ownerId, n) ?? 'nobody'} from ${repName(p.previousOwnerId, n) ?? '—'}`,
  handoff_notified: (p) => `Owner notified (${str(p.outcome) ?? 'sent'})`,
  handoff_accepted: (p, n) => `Accepted by ${repName(p.by, n) ?? 'sales'}`,
  handoff_rejected: (p, n) => `Rejected by ${repName(p.by, n) ?? 'sales'}: ${str(p.reason) ?? ''}`,
  opportunity_stage_change: (p) => `Opportunity ${stage(p.from)} → ${stage(p.to)}`,
  enrolled: (p) => `Enrolled in ${str(p.sequenceKey) ?? 'a sequence'}`,
  enrollment_exit: (p) =>
    `Left ${str(p.sequenceKey) ?? 'a sequence'}${str(p.reason) ? ` (${str(p.reason)})` : ''}`,
  email_sent: (p) => emailText('Email sent', p),
  email_open: (p) => emailText('Opened an email', p),
  email_click: (p) => emailText('Clicked a link', p),
  email_bounce: (p) => emailText('Email bounced', p),
  unsubscribe: () => 'Unsubscribed',
  merged: (p) =>
    `Merged ${Array.isArray(p.emails) ? p.emails.filter((e) => typeof e === 'string').join(', ') : 'duplicates'}`,
};

export function describeEvent(kind: string, properties: unknown, names: Names = {}): string {
  const p = (properties && typeof properties === 'object' ? properties : {}) as Props;
  const known = describers[kind];
  if (known) return known(p, names);
  return Object.entries(p)
    .filter(([, v]) => str(v))
    .slice(0, 6)
    .map(([k, v]) => `${k}: ${str(v)!.slice(0, 120)}`)
    .join(' · ');
}

/** A colour family for the entry's dot: engagement, email, scoring, sales, or the lead's record. */
export function eventTone(kind: string): 'web' | 'email' | 'score' | 'sales' | 'record' {
  if (kind === 'score_change') return 'score';
  if (kind.startsWith('email_') || kind === 'enrolled' || kind === 'enrollment_exit') return 'email';
  if (
    kind.startsWith('handoff_') ||
    kind.startsWith('opportunity_') ||
    ['qualified', 'converted'].includes(kind)
  )
    return 'sales';
  if (
    [
      'stage_change',
      'status_change',
      'bant_change',
      'merged',
      'api_submit',
      'import',
      'unsubscribe',
    ].includes(kind)
  )
    return 'record';
  return 'web';
}
