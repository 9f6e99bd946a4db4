/**
 * Test data, made the same way by every test file: each call makes its own, uniquely named records,
 * so tests depend neither on each other nor on order.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { Role } from '../../src/modules/admin/index.js';
import { emailKey, Lead } from '../../src/modules/leads/index.js';
import { ADMIN_KEY, type TestEnv } from './env.js';

/** A short random id for names and addresses. */
export const uid = () => randomBytes(4).toString('hex');

/** A unique address; the local part starts with `prefix` (the test SMTP sink routes on it). */
export const uniqueEmail = (prefix = 'lead') => `${prefix.toLowerCase()}-${uid()}@example.test`;

/**
 * A lead written straight to the database (no capture: no event, no lead-captured job). The email
 * defaults to a unique one (starting with a plain first name); `emailKey` always matches the email.
 */
export async function makeLead(fields: Record<string, unknown> = {}) {
  const name = fields.firstName;
  // a plain first name starts the address (handy when reading a mail sink); anything else does not
  const prefix = typeof name === 'string' && /^[A-Za-z0-9]{1,30}$/.test(name) ? name : 'lead';
  const email = (fields.email as string | undefined) ?? uniqueEmail(prefix);
  return Lead.create({ ...fields, email, emailKey: emailKey(email) });
}

/** {@link makeLead}, answering the id (what the API takes). */
export async function makeLeadId(fields: Record<string, unknown> = {}): Promise<string> {
  return String((await makeLead(fields))._id);
}

/** An `Authorization` header for a fresh key with this role. */
export async function authAs(env: TestEnv, role: Role): Promise<{ Authorization: string }> {
  return { Authorization: `Bearer ${await env.keyFor(role)}` };
}

type Auth = { Authorization: string };

/** PUT /api/sequences/:key, expected to be accepted; answers the stored key and version. */
export async function putSequence(env: TestEnv, auth: Auth, key: string, definition: object) {
  const res = await env.http().put(`/api/sequences/${key}`).set(auth).send(definition);
  expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
  return res.body as { key: string; version: number };
}

/** POST /api/sequences/:key/enroll, answering the response whatever its status. */
export function enroll(env: TestEnv, auth: Auth, key: string, leadId: string) {
  return env.http().post(`/api/sequences/${key}/enroll`).set(auth).send({ leadId });
}

/** POST /api/sequences/:key/enroll, expected to enroll (201); answers the enrollment id. */
export async function enrolled(env: TestEnv, auth: Auth, key: string, leadId: string): Promise<string> {
  const res = await enroll(env, auth, key, leadId);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

/** PUT /api/forms/:id, expected to be accepted (200). */
export async function putForm(env: TestEnv, auth: Auth, id: string, definition: object = { name: id }) {
  const res = await env.http().put(`/api/forms/${id}`).set(auth).send(definition);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as Record<string, unknown>;
}

/** `POST /api/leads` as the test admin key (extra headers such as `Idempotency-Key` on top). */
export function postLead(env: TestEnv, body: unknown, headers: Record<string, string> = {}) {
  return env
    .http()
    .post('/api/leads')
    .set({ Authorization: `Bearer ${ADMIN_KEY}` })
    .set(headers)
    .send(body as object);
}
