import { csvCell } from '../lib/csv.js';

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

/** Leads as CSV for the bulk export (cells escaped and formula-safe by csvCell). */
export function leadsCsv(leads: Record<string, unknown>[]): string {
  const rows = leads.map((l) => columns.map((c) => csvCell(l[c])).join(','));
  return `${[columns.join(','), ...rows].join('\r\n')}\r\n`;
}
