import { describe, expect, it } from 'vitest';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { postLead } from '../helpers/factories.js';

describe('GET /api/leads/:id/timeline: paging', () => {
  const env = useTestEnv();
  const auth = { Authorization: `Bearer ${ADMIN_KEY}` };
  const post = (body: unknown, headers: Record<string, string> = {}) => postLead(env, body, headers);

  it('when the timeline is paged, then items come newest first across pages', async () => {
    const { body: lead } = await post({ email: 'timeline@example.com' });
    for (const status of ['contacted', 'nurturing', 'qualified'] as const) {
      await env.http().patch(`/api/leads/${lead.id}`).set(auth).send({ status });
    }
    const p1 = await env.http().get(`/api/leads/${lead.id}/timeline`).set(auth).query({ limit: 2 });
    const p2 = await env
      .http()
      .get(`/api/leads/${lead.id}/timeline`)
      .set(auth)
      .query({ limit: 2, cursor: p1.body.nextCursor });
    const all = [...p1.body.items, ...p2.body.items];
    expect(all).toHaveLength(4);
    expect(all[0].properties.to).toBe('qualified');
    expect(all[3].kind).toBe('api_submit');
    expect(p2.body.nextCursor).toBeNull();
  });
});
