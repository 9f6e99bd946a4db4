/** Leads as CSV for the bulk export: every value escaped, spreadsheet formulas defused. */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'string' ? v : v instanceof Date ? v.toISOString() : String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

const columns = [
  'id',
  'email',
  'firstName',
  'lastName',
  'company',
  'title',
  'phone',
  'country',
  'source',
  'status',
  'lifecycleStage',
  'score',
  'grade',
  'ownerId',
  'createdAt',
] as const;

export function leadsCsv(leads: Record<string, unknown>[]): string {
  const rows = leads.map((l) => columns.map((c) => csvCell(l[c])).join(','));
  return `${[columns.join(','), ...rows].join('\r\n')}\r\n`;
}
