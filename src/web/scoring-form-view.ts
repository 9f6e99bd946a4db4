/** What the scoring page's templates show of a form: rows with their marks, menus, and read-only rows. */
import { emptyFit, emptyRule, fitTests, leadFields, type ScoringForm } from './scoring-form.js';

const ruleInputs = ['id', 'event', 'where', 'points', 'maxPerDay', 'maxTotal'];
const fitInputs = ['id', 'field', 'attribute', 'test', 'value', 'points'];

const words = (name: string) => {
  const s = name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
};
const testWords: Record<string, string> = { equals: 'equals', matches: 'matches', in: 'is one of' };

const marks = (invalid: Set<string>, table: string, row: number, inputs: string[]) =>
  Object.fromEntries(inputs.map((i) => [i, invalid.has(`${table}:${row}:${i}`)]));

function fieldOptions(selected: string) {
  const options = [
    { value: '', label: 'Choose a field…' },
    ...leadFields.map((f) => ({ value: f, label: words(f) })),
    { value: 'attributes', label: 'Attribute…' },
  ];
  // a value the menu does not have (typed into a forged form) stays visible, to be named as wrong
  if (!options.some((o) => o.value === selected)) options.push({ value: selected, label: selected });
  return options.map((o) => ({ ...o, selected: o.value === selected }));
}

function testOptions(selected: string) {
  const options = fitTests.map((t) => ({ value: t as string, label: testWords[t]! }));
  if (!options.some((o) => o.value === selected)) options.push({ value: selected, label: selected });
  return options.map((o) => ({ ...o, selected: o.value === selected }));
}

/** The editable form: every row (plus `extra` empty ones) with its inputs' `aria-invalid` marks. */
export function formView(
  form: ScoringForm,
  invalid: Set<string> = new Set(),
  extra: { rules: number; fit: number } = { rules: 3, fit: 2 },
) {
  const rules = [...form.rules, ...Array.from({ length: extra.rules }, emptyRule)];
  const fit = [...form.fit, ...Array.from({ length: extra.fit }, emptyFit)];
  return {
    rules: rules.map((r, i) => ({
      ...r,
      n: i + 1,
      // the conditions box is as tall as its lines (up to six; it can be resized)
      whereRows: Math.min(6, r.where.split(/\r\n|\r|\n/).length),
      bad: marks(invalid, 'rules', i + 1, ruleInputs),
    })),
    fit: fit.map((f, i) => ({
      ...f,
      n: i + 1,
      bad: marks(invalid, 'fit', i + 1, fitInputs),
      fields: fieldOptions(f.field),
      tests: testOptions(f.test),
    })),
    halfLife: form.halfLife,
    cap: form.cap,
    bad: marks(invalid, 'settings', 0, ['halfLife', 'cap']),
  };
}

/** The rule set as a read-only table (sales): the same text the form would show, no inputs. */
export function readOnlyView(form: ScoringForm) {
  return {
    rules: form.rules.map((r) => ({ ...r, lines: r.where ? r.where.split('\n') : [] })),
    fit: form.fit.map((f) => ({
      ...f,
      fieldText: f.field === 'attributes' ? `attributes.${f.attribute}` : words(f.field),
      testText: testWords[f.test] ?? f.test,
    })),
    halfLife: form.halfLife,
    cap: form.cap,
  };
}
