import { beforeAll, describe, expect, it } from 'vitest';
import { QualificationAgreement } from '../../src/modules/qualification/index.js';
import { useTestEnv } from '../helpers/env.js';

const valid = {
  threshold: 50,
  require: { budget: true, authority: true, need: false, timeline: true, grade: 'B' },
  createOpportunity: true,
  opportunity: { amount: 12000, closeIn: '30d' },
  slaHours: 4,
  agreedBy: { marketing: 'Maria (Marketing)', sales: 'Sam (Sales)' },
};

describe('the qualification agreement API', () => {
  const env = useTestEnv();
  let marketing: string;
  let sales: string;
  beforeAll(async () => {
    marketing = await env.keyFor('marketing');
    sales = await env.keyFor('sales');
  });
  const as = (k: string) => ({ Authorization: `Bearer ${k}` });

  it('when nothing was agreed yet, then GET answers no current agreement and an empty history', async () => {
    const res = await env.http().get('/api/qualification').set(as(sales));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ current: null, history: [] });
  });

  it('when marketing PUTs twice, then each is a version with its time and authors, newest first in history', async () => {
    const first = await env.http().put('/api/qualification').set(as(marketing)).send(valid);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ version: 1, ...valid });
    expect(Date.parse(first.body.createdAt)).not.toBeNaN();
    const second = await env
      .http()
      .put('/api/qualification')
      .set(as(marketing))
      .send({ threshold: 80, agreedBy: { marketing: 'Mo', sales: 'Sue' } });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({
      version: 2,
      threshold: 80,
      // what was not given takes its default
      require: { budget: false, authority: false, need: false, timeline: false, grade: null },
      createOpportunity: true,
      opportunity: { amount: null, closeIn: null },
      slaHours: 24,
      agreedBy: { marketing: 'Mo', sales: 'Sue' },
    });
    const got = await env.http().get('/api/qualification').set(as(sales));
    expect(got.status).toBe(200);
    expect(got.body.current.version).toBe(2);
    expect(got.body.history.map((h: { version: number }) => h.version)).toEqual([2, 1]);
    expect(got.body.history[1]).toMatchObject({ ...valid, version: 1 });
  });

  it('when ten PUTs race, then each gets its own version and none is lost', async () => {
    const before = await QualificationAgreement.countDocuments();
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        env
          .http()
          .put('/api/qualification')
          .set(as(marketing))
          .send({ ...valid, threshold: 100 + i }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    const versions = answers.map((a) => a.body.version as number).sort((a, b) => a - b);
    expect(new Set(versions).size).toBe(10);
    expect(versions[0]).toBe(before + 1);
    expect(versions[9]).toBe(before + 10);
    const got = await env.http().get('/api/qualification').set(as(marketing));
    expect(got.body.history).toHaveLength(before + 10);
    const thresholds = got.body.history.slice(0, 10).map((h: { threshold: number }) => h.threshold);
    expect(thresholds.sort()).toEqual(Array.from({ length: 10 }, (_, i) => 100 + i).sort());
  });

  it.each([
    ['threshold', { threshold: -1 }],
    ['threshold', { threshold: '50' }],
    ['threshold', { threshold: { $gt: '' } }],
    ['require.budget', { require: { budget: 'yes' } }],
    ['require.grade', { require: { grade: 'E' } }],
    ['require.money', { require: { money: true } }],
    ['opportunity.amount', { opportunity: { amount: -5 } }],
    ['opportunity.closeIn', { opportunity: { closeIn: 'next month' } }],
    ['slaHours', { slaHours: 0 }],
    ['agreedBy.sales', { agreedBy: { marketing: 'M' } }],
    ['agreedBy.marketing', { agreedBy: { marketing: 'Eve\r\nBcc: x@evil.test', sales: 'S' } }],
    ['agreedBy.sales', { agreedBy: { marketing: 'M', sales: '<script>alert(1)</script>' } }],
    ['agreedBy.sales', { agreedBy: { marketing: 'M', sales: { $ne: null } } }],
    ['agreedBy', { agreedBy: undefined }],
    ['extra', { extra: 1 }],
  ])(
    'when the agreement is bad at %s, then 400 validation_failed names it and nothing is stored',
    async (path, patch) => {
      const before = await QualificationAgreement.countDocuments();
      const res = await env
        .http()
        .put('/api/qualification')
        .set(as(marketing))
        .send({ ...valid, ...patch });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
      expect(await QualificationAgreement.countDocuments()).toBe(before);
    },
  );

  it('when the body is not an object, huge, or not JSON, then a 4xx and nothing is stored', async () => {
    const before = await QualificationAgreement.countDocuments();
    const arr = await env.http().put('/api/qualification').set(as(marketing)).send([valid]);
    expect(arr.status).toBe(400);
    const huge = await env
      .http()
      .put('/api/qualification')
      .set(as(marketing))
      .send({ ...valid, agreedBy: { marketing: 'x'.repeat(2_000_000), sales: 'S' } });
    expect(huge.status).toBe(413);
    const text = await env
      .http()
      .put('/api/qualification')
      .set(as(marketing))
      .set('Content-Type', 'text/plain')
      .send('threshold=1');
    expect(text.status).toBe(415);
    expect(await QualificationAgreement.countDocuments()).toBe(before);
  });

  it('when sales PUTs, or nobody is signed in, then 403 / 401; an unknown query parameter is 400', async () => {
    expect((await env.http().put('/api/qualification').set(as(sales)).send(valid)).status).toBe(403);
    expect((await env.http().put('/api/qualification').send(valid)).status).toBe(401);
    expect((await env.http().get('/api/qualification')).status).toBe(401);
    const q = await env.http().get('/api/qualification?version[$gt]=1').set(as(sales));
    expect(q.status).toBe(400);
    expect(q.body.error.code).toBe('validation_failed');
  });
});
