import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { postLead } from '../helpers/factories.js';

describe('GET /api/leads: filters and cursors', () => {
  const env = useTestEnv();
  const auth = { Authorization: `Bearer ${ADMIN_KEY}` };
  const post = (body: unknown, headers: Record<string, string> = {}) => postLead(env, body, headers);

  it('when leads are listed with filters and a cursor, then pages cover each match once', async () => {
    for (let i = 0; i < 5; i++) await post({ email: `page${i}@list.example`, company: 'Listco' });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await env
        .http()
        .get('/api/leads')
        .set(auth)
        .query({ q: 'listco', limit: 2, ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((l: { email: string }) => l.email));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual([0, 1, 2, 3, 4].map((i) => `page${i}@list.example`));
    const byEmail = await env.http().get('/api/leads').set(auth).query({ email: 'PAGE3@list.example' });
    expect(byEmail.body.items.map((l: { email: string }) => l.email)).toEqual(['page3@list.example']);
    const bad = await env.http().get('/api/leads').set(auth).query({ status: 'nope' });
    expect(bad.status).toBe(400);
  });
});
