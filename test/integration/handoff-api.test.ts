import { beforeAll, describe, expect, it } from 'vitest';
import { Account, Opportunity } from '../../src/modules/crm/index.js';
import { Handoff, Rep } from '../../src/modules/handoff/index.js';
import { startHandoffWorker } from '../../workers/handoff.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';
import { makeLead, qualify } from '../helpers/handoff.js';
import { waitFor } from '../helpers/wait.js';

describe('handoff API: roles and hostile input', { timeout: 120_000 }, () => {
  const env = useTestEnv();
  const keys: Record<string, string> = {};
  let handoffId: string;
  let opportunityId: string;
  beforeAll(async () => {
    keys.admin = ADMIN_KEY;
    keys.marketing = await env.keyFor('marketing');
    keys.sales = await env.keyFor('sales');
    startHandoffWorker(env.rt);
    for (const id of ['fay', 'gus']) {
      await env
        .http()
        .put(`/api/reps/${id}`)
        .set({ Authorization: `Bearer ${ADMIN_KEY}` })
        .send({ name: id, email: `${id}@sales.test` });
    }
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await qualify((await makeLead())._id));
    await waitFor(async () => (await Handoff.countDocuments({ ownerId: { $ne: null } })) === 4, {
      timeout: 60_000,
    });
    handoffId = ids[0]!;
    opportunityId = (await Handoff.findById(handoffId).lean())!.opportunityId!;
  }, 120_000);
  const call = (
    role: string | null,
    method: 'get' | 'put' | 'post' | 'patch',
    path: string,
    body?: object,
  ) => {
    const r = env.http()[method](path);
    if (role) r.set('Authorization', `Bearer ${keys[role]}`);
    return body ? r.send(body) : r;
  };

  it('when each role calls each endpoint, then only the allowed ones get through', async () => {
    const matrix: [
      string,
      'get' | 'put' | 'post' | 'patch',
      string,
      object | undefined,
      Record<string, number>,
    ][] = [
      [
        'reps put',
        'put',
        '/api/reps/zed',
        { name: 'Zed', email: 'zed@sales.test', active: false },
        { admin: 200, marketing: 403, sales: 403 },
      ],
      ['reps get', 'get', '/api/reps', undefined, { admin: 200, marketing: 200, sales: 200 }],
      ['handoffs', 'get', '/api/handoffs', undefined, { admin: 200, marketing: 403, sales: 200 }],
      ['opportunities', 'get', '/api/opportunities', undefined, { admin: 200, marketing: 200, sales: 200 }],
      [
        'opportunity patch',
        'patch',
        `/api/opportunities/${opportunityId}`,
        { amount: 10 },
        { admin: 200, marketing: 403, sales: 200 },
      ],
      [
        'accept',
        'post',
        `/api/handoffs/${'0'.repeat(24)}:1/accept`,
        undefined,
        { admin: 404, marketing: 403, sales: 404 },
      ],
      [
        'convert',
        'post',
        `/api/leads/${'0'.repeat(24)}/convert`,
        {},
        { admin: 404, marketing: 404, sales: 404 },
      ],
      [
        'keys with rep',
        'post',
        '/api/keys',
        { name: 'k', role: 'sales', repId: 'fay' },
        { admin: 201, marketing: 403, sales: 403 },
      ],
    ];
    for (const [what, method, path, body, expected] of matrix) {
      expect((await call(null, method, path, body)).status, `${what} without a key`).toBe(401);
      for (const [role, status] of Object.entries(expected)) {
        expect((await call(role, method, path, body)).status, `${what} as ${role}`).toBe(status);
      }
    }
  });

  it('when a sales key is tied to a rep, then it sees the whole team, its own handoffs first', async () => {
    const owner = (await Handoff.findById(handoffId).lean())!.ownerId!;
    const created = await call('admin', 'post', '/api/keys', {
      name: 'rep key',
      role: 'sales',
      repId: owner,
    });
    expect(created.body.repId).toBe(owner);
    keys.rep = created.body.key;
    const res = await call('rep', 'get', '/api/handoffs?limit=500');
    expect(res.status).toBe(200);
    const owners = res.body.items.map((h: { ownerId: string }) => h.ownerId);
    expect(owners).toHaveLength(4);
    const firstOther = owners.findIndex((o: string) => o !== owner);
    expect(owners.slice(0, firstOther).every((o: string) => o === owner)).toBe(true);
    expect(owners.slice(firstOther).every((o: string) => o !== owner)).toBe(true);
    // paging walks the same order, one at a time
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await call('rep', 'get', `/api/handoffs?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.items.map((h: { id: string }) => h.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(res.body.items.map((h: { id: string }) => h.id));
    // the reject is recorded as that rep
    const rej = await call('rep', 'post', `/api/handoffs/${handoffId}/reject`, { reason: 'Not now' });
    expect(rej.body.decidedBy).toBe(owner);
    const only = await call('sales', 'get', `/api/handoffs?ownerId=${owner}&status=rejected`);
    expect(only.body.items.map((h: { id: string }) => h.id)).toEqual([handoffId]);
  });

  it('when input is hostile or malformed, then a clear 4xx names it and nothing is written', async () => {
    const before = await Rep.countDocuments();
    const cases: [string, 'get' | 'put' | 'post' | 'patch', string, object | undefined, number, string?][] = [
      ['operator in body', 'put', '/api/reps/evil', { name: { $gt: '' }, email: 'e@x.test' }, 400, 'name'],
      [
        'CR/LF in rep name',
        'put',
        '/api/reps/evil',
        { name: 'Eve\r\nBcc: a@b.c', email: 'e@x.test' },
        400,
        'name',
      ],
      [
        'HTML in rep name',
        'put',
        '/api/reps/evil',
        { name: '<script>x</script>', email: 'e@x.test' },
        400,
        'name',
      ],
      ['bad email', 'put', '/api/reps/evil', { name: 'Eve', email: 'not-an-email\r\n' }, 400, 'email'],
      ['unknown field', 'put', '/api/reps/evil', { name: 'Eve', email: 'e@x.test', role: 'admin' }, 400],
      ['bad rep id', 'put', '/api/reps/..%2Fetc', { name: 'Eve', email: 'e@x.test' }, 400, 'id'],
      [
        'match operator key',
        'put',
        '/api/reps/evil',
        { name: 'Eve', email: 'e@x.test', match: { $where: ['1'] } },
        400,
      ],
      [
        'negative capacity',
        'put',
        '/api/reps/evil',
        { name: 'Eve', email: 'e@x.test', capacity: -1 },
        400,
        'capacity',
      ],
      ['unknown query', 'get', '/api/handoffs?owner=fay', undefined, 400, 'owner'],
      ['operator in query', 'get', '/api/handoffs?ownerId[$ne]=x', undefined, 400],
      ['bad status', 'get', '/api/handoffs?status=won', undefined, 400, 'status'],
      ['forged cursor', 'get', '/api/handoffs?cursor=%7B%24gt%3A1%7D', undefined, 400, 'cursor'],
      ['bad opp stage', 'patch', `/api/opportunities/${opportunityId}`, { stage: 'won' }, 400, 'stage'],
      ['opp amount type', 'patch', `/api/opportunities/${opportunityId}`, { amount: '1e9' }, 400, 'amount'],
      ['opp empty patch', 'patch', `/api/opportunities/${opportunityId}`, {}, 400],
      ['opp query', 'get', '/api/opportunities?accountId=abc', undefined, 400, 'accountId'],
      ['reject without reason', 'post', `/api/handoffs/${handoffId}/reject`, {}, 400, 'reason'],
      [
        'reject operator',
        'post',
        `/api/handoffs/${handoffId}/reject`,
        { reason: { $ne: null } },
        400,
        'reason',
      ],
      [
        'convert operator',
        'post',
        `/api/leads/${'a'.repeat(24)}/convert`,
        { accountId: { $gt: '' } },
        400,
        'accountId',
      ],
      [
        'convert bad date',
        'post',
        `/api/leads/${'a'.repeat(24)}/convert`,
        { opportunity: { closeDate: 'soon' } },
        400,
      ],
      [
        'key repId for marketing',
        'post',
        '/api/keys',
        { name: 'k', role: 'marketing', repId: 'fay' },
        400,
        'repId',
      ],
    ];
    for (const [what, method, path, body, status, names] of cases) {
      const res = await call('admin', method, path, body);
      expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(status);
      expect(res.body.error?.code, what).toMatch(/validation_failed|bad_request/);
      if (names) expect(JSON.stringify(res.body.error), what).toContain(names);
    }
    expect(await Rep.countDocuments()).toBe(before);
    const huge = await call('admin', 'post', `/api/handoffs/${handoffId}/reject`, {
      reason: 'x'.repeat(2_000_000),
    });
    expect(huge.status).toBe(413);
    const opp = await Opportunity.findById(opportunityId).lean();
    expect(opp!.stage).not.toBe('won');
    expect(await Account.countDocuments({ name: { $regex: '^<' } })).toBe(0);
    expect((await call('admin', 'get', '/h/not-a-token')).status).toBe(404);
  });
});
