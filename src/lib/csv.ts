/**
 * One CSV cell: quoted when it holds a quote, comma or line break; a text starting with `=`, `+`,
 * `-`, `@`, tab or CR is prefixed with `'` so a spreadsheet never runs it as a formula (CSV
 * injection). Dates are ISO-8601; null and undefined are empty.
 */
export function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  let s = typeof v === 'string' ? v : v instanceof Date ? v.toISOString() : String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
