/**
 * Puts the scenario in place through the management API, idempotently: each piece is read first
 * and written only when it is missing or differs, so a second run creates no second version of the
 * sequence, scoring or agreement, and no second form, rep or key.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { contains, type Api } from './api.js';
import { FORM_ID, SALES_REP, SEQUENCE_KEY, agreement, form, reps, scoring, sequence } from './scenario.js';

type Outcome = 'created' | 'updated' | 'unchanged';
const say = (what: string, outcome: Outcome, extra = '') =>
  process.stdout.write(`  ${what.padEnd(34)} ${outcome}${extra ? ` (${extra})` : ''}\n`);

async function ensureForm(api: Api) {
  const existing = await api.find(`/api/forms/${FORM_ID}`);
  if (existing && contains(existing, form)) return say(`form "${form.name}"`, 'unchanged', `/f/${FORM_ID}`);
  await api.call('PUT', `/api/forms/${FORM_ID}`, form);
  say(`form "${form.name}"`, existing ? 'updated' : 'created', `/f/${FORM_ID}`);
}

async function ensureSequence(api: Api) {
  const existing = await api.find<{ version: number }>(`/api/sequences/${SEQUENCE_KEY}`);
  if (existing && contains(existing, sequence)) {
    return say(`sequence "${sequence.name}"`, 'unchanged', `version ${existing.version}`);
  }
  const { version } = await api.call<{ version: number }>('PUT', `/api/sequences/${SEQUENCE_KEY}`, sequence);
  say(`sequence "${sequence.name}"`, existing ? 'updated' : 'created', `version ${version}`);
}

async function ensureScoring(api: Api) {
  const existing = await api.find<{ version: number }>('/api/scoring');
  if (existing && existing.version > 0 && contains(existing, scoring)) {
    return say('scoring rules', 'unchanged', `version ${existing.version}`);
  }
  const { version } = await api.call<{ version: number }>('PUT', '/api/scoring', scoring);
  say('scoring rules', existing && existing.version > 0 ? 'updated' : 'created', `version ${version}`);
}

async function ensureAgreement(api: Api) {
  const { current } = await api.call<{ current: { version: number } | null }>('GET', '/api/qualification');
  if (current && contains(current, agreement)) {
    return say('qualification agreement', 'unchanged', `version ${current.version}`);
  }
  const { version } = await api.call<{ version: number }>('PUT', '/api/qualification', agreement);
  say('qualification agreement', current ? 'updated' : 'created', `version ${version}, signed by both sides`);
}

async function ensureReps(api: Api) {
  for (const { id, ...rep } of reps) {
    const existing = await api.find(`/api/reps/${id}`);
    if (existing && contains(existing, rep)) {
      say(`rep ${rep.name}`, 'unchanged', rep.match.country.join(', '));
      continue;
    }
    await api.call('PUT', `/api/reps/${id}`, rep);
    say(`rep ${rep.name}`, existing ? 'updated' : 'created', rep.match.country.join(', '));
  }
}

export type DemoKeys = { marketing: string; sales: string };
type StoredKey = { id: string; key: string };
type KeyItem = { id: string; name: string; revokedAt: string | null };

const keySpecs = {
  marketing: { name: 'demo: Maria Keller (marketing)', role: 'marketing' },
  sales: { name: 'demo: Ana Lopez (sales, US)', role: 'sales', repId: SALES_REP },
} as const;
/** A path each role may read: tells whether a stored key still works. */
const probe = { marketing: '/api/forms', sales: '/api/handoffs?limit=1' } as const;

async function keyWorks(api: Api, role: keyof DemoKeys, key: string): Promise<boolean> {
  return api.call('GET', probe[role], undefined, key).then(
    () => true,
    () => false,
  );
}

/**
 * The demo's marketing and sales keys: the ones kept in `<DATA_DIR>/demo.json` while they still
 * work; otherwise earlier demo keys of that name are revoked and a new one is made (never two).
 */
async function ensureKeys(api: Api, file: string): Promise<DemoKeys> {
  const stored = (await readFile(file, 'utf8').then(
    (s) => JSON.parse(s) as Partial<Record<keyof DemoKeys, StoredKey>>,
    () => ({}),
  )) as Partial<Record<keyof DemoKeys, StoredKey>>;
  const out: Partial<Record<keyof DemoKeys, StoredKey>> = {};
  let list: KeyItem[] | undefined;
  for (const role of ['marketing', 'sales'] as const) {
    const have = stored[role];
    if (have && (await keyWorks(api, role, have.key))) {
      out[role] = have;
      say(`${role} key`, 'unchanged', `kept in ${file}`);
      continue;
    }
    list ??= (await api.call<{ items: KeyItem[] }>('GET', '/api/keys')).items;
    for (const old of list.filter((k) => k.name === keySpecs[role].name && !k.revokedAt)) {
      await api.call('DELETE', `/api/keys/${old.id}`);
    }
    const made = await api.call<StoredKey>('POST', '/api/keys', keySpecs[role]);
    out[role] = { id: made.id, key: made.key };
    say(`${role} key`, 'created', `kept in ${file}`);
  }
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(out, null, 2)}\n`, { mode: 0o600 });
  return { marketing: out.marketing!.key, sales: out.sales!.key };
}

/** Everything the leads will meet, in dependency order (the form names the sequence). */
export async function setUpScenario(api: Api, demoFile: string): Promise<DemoKeys> {
  await ensureScoring(api);
  await ensureAgreement(api);
  await ensureReps(api);
  await ensureSequence(api);
  await ensureForm(api);
  return ensureKeys(api, demoFile);
}
