/**
 * The scoring form's problems in words, by row ("Rule 2 (pricing): points must be a number (you
 * typed “lots”)"), and which inputs to mark `aria-invalid`. The schema's details (paths such as
 * `rules.1.points` into the candidate rule set) are mapped back to the rows they came from.
 */
import type { ErrorDetail } from '../lib/errors.js';
import type { FormIssue, ParsedForm, ScoringForm } from './scoring-form.js';

export type FormProblems = {
  /** one sentence per problem */
  messages: string[];
  /** `rules:<row>:<input>`, `fit:<row>:<input>`, `settings:0:halfLife|cap` */
  invalid: Set<string>;
};

const ruleInputs: Record<string, [input: string, words: string]> = {
  id: ['id', 'rule id'],
  event: ['event', 'event type'],
  where: ['where', 'conditions'],
  points: ['points', 'points'],
  maxPerDay: ['maxPerDay', 'max per day'],
  maxTotal: ['maxTotal', 'max total'],
};
const fitInputs: Record<string, [input: string, words: string]> = {
  id: ['id', 'rule id'],
  field: ['field', 'field'],
  equals: ['value', 'value'],
  matches: ['value', 'pattern'],
  in: ['value', 'list'],
  points: ['points', 'points'],
};
const propertyRule = 'must be named with 1-64 letters, digits, "_" or "-" (no "$" or ".")';

/** The schema's wording, made plain for a form (zod's generic messages name types and operators). */
function plain(message: string): string {
  if (message === 'Invalid key in record') return propertyRule;
  if (/^Invalid input: expected number/.test(message)) return 'must be a number';
  if (/^Too small: expected array/.test(message)) return 'needs at least one value';
  const m = /^Too (small|big): expected (number|string) to (?:be|have) ([<>]=?)(\S+)( characters)?$/.exec(
    message,
  );
  if (m) return `must be at ${m[1] === 'small' ? 'least' : 'most'} ${m[4]}${m[5] ?? ''}`;
  return message;
}

const quoteTyped = (typed: string) => {
  const t = typed.trim();
  if (!t) return ' (the box is empty)';
  return ` (you typed “${t.length > 40 ? `${t.slice(0, 40)}…` : t}”)`;
};

type Located = { table: FormIssue['table']; row: number; input: string; sentence: string };

function locateRule(parts: string[], message: string, parsed: ParsedForm, form: ScoringForm): Located | null {
  const index = Number(parts[1]);
  const row = parsed.ruleRows[index];
  if (row === undefined) return null;
  const typed = form.rules[row - 1]!;
  const label = `Rule ${row}${typed.id.trim() ? ` (${typed.id.trim().slice(0, 64)})` : ''}`;
  const [input, words] = ruleInputs[parts[2] ?? ''] ?? ['id', 'rule'];
  let what = words;
  if (parts[2] === 'where' && parts.length > 3) what = `condition "${parts.slice(3).join('.').slice(0, 64)}"`;
  let text = plain(message);
  if (text === 'must be a number') text += quoteTyped(String(typed[input as keyof typeof typed] ?? ''));
  if (text.startsWith('duplicate rule id'))
    return { table: 'rules', row, input, sentence: `${label}: ${text}` };
  return { table: 'rules', row, input, sentence: `${label}: ${what} ${text}` };
}

function locateFit(parts: string[], message: string, parsed: ParsedForm, form: ScoringForm): Located | null {
  const row = parsed.fitRows[Number(parts[1])];
  if (row === undefined) return null;
  const typed = form.fit[row - 1]!;
  const label = `Fit rule ${row}${typed.id.trim() ? ` (${typed.id.trim().slice(0, 64)})` : ''}`;
  const [input, words] = fitInputs[parts[2] ?? ''] ?? ['id', 'rule'];
  const what = parts[2] === 'in' && parts[3] !== undefined ? `list value ${Number(parts[3]) + 1}` : words;
  let text = plain(message);
  if (text.startsWith('needs exactly one of'))
    return { table: 'fit', row, input: 'test', sentence: `${label}: test must be equals, matches or in` };
  if (text === 'must be a number') text += quoteTyped(String(typed[input as keyof typeof typed] ?? ''));
  if (text.startsWith('duplicate rule id'))
    return { table: 'fit', row, input, sentence: `${label}: ${text}` };
  return { table: 'fit', row, input, sentence: `${label}: ${what} ${text}` };
}

/** One schema detail as a sentence about a row, or about the form as a whole. */
function locate(detail: ErrorDetail, parsed: ParsedForm, form: ScoringForm): Located {
  const parts = detail.path.split('.');
  const whole = (sentence: string): Located => ({ table: 'settings', row: 0, input: '', sentence });
  if (parts[0] === 'rules' && parts.length > 1)
    return locateRule(parts, detail.message, parsed, form) ?? whole(detail.message);
  if (parts[0] === 'fit' && parts.length > 1)
    return locateFit(parts, detail.message, parsed, form) ?? whole(detail.message);
  if (parts[0] === 'decay')
    return {
      table: 'settings',
      row: 0,
      input: 'halfLife',
      sentence: `Decay half-life ${plain(detail.message)}`,
    };
  if (parts[0] === 'cap') {
    let text = plain(detail.message);
    if (text === 'must be a number') text += quoteTyped(form.cap);
    return { table: 'settings', row: 0, input: 'cap', sentence: `Score cap ${text}` };
  }
  if (parts[0] === 'rules') return whole(`Engagement rules: ${plain(detail.message)}`);
  if (parts[0] === 'fit') return whole(`Fit rules: ${plain(detail.message)}`);
  return whole(`${detail.path}: ${plain(detail.message)}`);
}

function issueSentence(issue: FormIssue, form: ScoringForm): string {
  if (issue.table === 'settings') return issue.message;
  const typed = issue.table === 'rules' ? form.rules[issue.row - 1] : form.fit[issue.row - 1];
  const id = typed?.id.trim();
  const label = `${issue.table === 'rules' ? 'Rule' : 'Fit rule'} ${issue.row}${id ? ` (${id.slice(0, 64)})` : ''}`;
  return `${label}: ${issue.message}`;
}

/**
 * Every problem of a form: those the form found (a line without "=", a repeated condition) and
 * the schema's, by row.
 */
export function describeProblems(
  parsed: ParsedForm,
  form: ScoringForm,
  details: ErrorDetail[],
): FormProblems {
  const messages: string[] = [];
  const invalid = new Set<string>();
  for (const issue of parsed.issues) {
    messages.push(issueSentence(issue, form));
    invalid.add(`${issue.table}:${issue.row}:${issue.input}`);
  }
  for (const d of details) {
    const at = locate(d, parsed, form);
    messages.push(at.sentence);
    if (at.input) invalid.add(`${at.table}:${at.row}:${at.input}`);
  }
  return { messages, invalid };
}
