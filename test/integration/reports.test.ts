import { Types } from 'mongoose';
import { beforeAll, describe, expect, it } from 'vitest';
import { Lead } from '../../src/modules/leads/index.js';
import { Enrollment } from '../../src/modules/sequences/index.js';
import { ADMIN_KEY, useTestEnv } from '../helpers/env.js';

const DAY = 86_400_000;
const t0 = Date.UTC(2026, 9, 1); // 2026-10-01
const at = (days: number) => new Date(t0 + days * DAY);

type Seed = { source?: string; campaign?: string; stages: Partial<Record<string, number>>; merged?: boolean };

/** Leads whose stage dates are given as days after 2026-10-01 (written as stored, no API path). */
function leadDoc(i: number, s: Seed) {
  const stageDates = Object.fromEntries(Object.entries(s.stages).map(([k, d]) => [k, at(d!)]));
  const furthest = Object.keys(s.stages).at(-1) ?? 'lead';
  return {
    _id: new Types.ObjectId(),
    email: `r${i}@example.com`,
    emailKey: `r${i}@example.com`,
    status: 'open',
    lifecycleStage: furthest,
    source: s.source ?? null,
    attribution: s.campaign ? { firstTouch: { at: at(0), utm_campaign: s.campaign } } : null,
    stageDates,
    mergedInto: s.merged ? new Types.ObjectId() : null,
    createdAt: at(0),
    updatedAt: at(0),
  };
}

describe('GET /api/reports/funnel', () => {
  const env = useTestEnv();
  const auth = { Authorization: `Bearer ${ADMIN_KEY}` };
  const get = (q = '') => env.http().get(`/api/reports/funnel${q}`).set(auth);
  let ids: Types.ObjectId[] = [];

  beforeAll(async () => {
    const seeds: Seed[] = [
      // 4 web leads: 3 MQL (after 2, 4, 6 days), 2 SQL, 1 opportunity that became a customer
      {
        source: 'Web',
        campaign: 'spring',
        stages: { lead: 0, mql: 2, sql: 3, opportunity: 5, customer: 20 },
      },
      { source: 'Web', campaign: 'spring', stages: { lead: 0, mql: 4, sql: 10 } },
      { source: 'Web', stages: { lead: 1, mql: 7 } },
      { source: 'Web', stages: { lead: 1 } },
      // 2 trade-show leads in November, one MQL
      { source: 'Trade show', campaign: 'expo', stages: { lead: 35, mql: 36 } },
      { source: 'Trade show', stages: { lead: 40 } },
      // a subscriber who never became a lead, and no source
      { stages: { subscriber: 3 } },
      // a merged tombstone is not a person: never counted
      { source: 'Web', merged: true, stages: { lead: 0, mql: 1 } },
    ];
    const docs = seeds.map((s, i) => leadDoc(i, s));
    ids = docs.map((d) => d._id);
    await Lead.collection.insertMany(docs);
    const enrol = (leadIdx: number, key: string) => ({
      leadId: ids[leadIdx]!,
      sequenceKey: key,
      version: 1,
      slot: `${String(ids[leadIdx])}:${key}:done`,
      state: 'completed',
      anchorAt: at(0),
      enrolledAt: at(0),
    });
    await Enrollment.collection.insertMany([
      enrol(0, 'welcome'),
      enrol(1, 'welcome'),
      enrol(2, 'welcome'),
      enrol(0, 'mql-nurture'),
    ]);
  });

  it('when asked for all time, then every stage counts the leads that reached it and rates divide them', async () => {
    const res = await get();
    expect(res.status).toBe(200);
    expect(res.body.stages).toEqual({ subscriber: 1, lead: 6, mql: 4, sql: 2, opportunity: 1, customer: 1 });
    expect(res.body.conversion).toEqual({
      leadToMql: 4 / 6,
      mqlToSql: 2 / 4,
      sqlToOpportunity: 1 / 2,
      opportunityToCustomer: 1,
      leadToOpportunity: 1 / 6,
    });
  });

  it('when asked for time in stage, then median and p90 days come from the stage dates', async () => {
    const { body } = await get();
    // lead → mql: 2, 4, 6, 1 days → sorted 1, 2, 4, 6: median (nearest rank) 2, p90 6
    expect(body.timeInStage.leadToMql).toEqual({ medianDays: 2, p90Days: 6, count: 4 });
    // mql → sql: 1 and 6 days
    expect(body.timeInStage.mqlToSql).toEqual({ medianDays: 1, p90Days: 6, count: 2 });
    expect(body.timeInStage.sqlToOpportunity).toEqual({ medianDays: 2, p90Days: 2, count: 1 });
    expect(body.timeInStage.opportunityToCustomer).toEqual({ medianDays: 15, p90Days: 15, count: 1 });
  });

  it('when a period is given, then only stages reached inside it count (to= a date includes that day)', async () => {
    const oct = await get('?from=2026-10-01&to=2026-10-31');
    expect(oct.status).toBe(200);
    expect(oct.body.stages).toEqual({ subscriber: 1, lead: 4, mql: 3, sql: 2, opportunity: 1, customer: 1 });
    const nov = await get('?from=2026-11-01T00:00:00Z&to=2026-11-30');
    expect(nov.body.stages).toEqual({ subscriber: 0, lead: 2, mql: 1, sql: 0, opportunity: 0, customer: 0 });
    expect(nov.body.conversion.leadToMql).toBe(0.5);
    expect(nov.body.conversion.mqlToSql).toBe(0);
    expect(nov.body.period).toEqual({ from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' });
  });

  it('when grouped by source, then each source has its own funnel and a lead without one is (none)', async () => {
    const { body } = await get('?by=source');
    const bySource = Object.fromEntries(body.groups.map((g: { key: string }) => [g.key, g]));
    expect(Object.keys(bySource).sort()).toEqual(['(none)', 'Trade show', 'Web']);
    expect(bySource.Web.stages).toMatchObject({ lead: 4, mql: 3, sql: 2, opportunity: 1 });
    expect(bySource['Trade show'].stages).toMatchObject({ lead: 2, mql: 1, sql: 0 });
    expect(bySource['Trade show'].conversion.leadToMql).toBe(0.5);
    expect(bySource['(none)'].stages).toMatchObject({ subscriber: 1, lead: 0 });
    expect(body.stages.lead).toBe(6);
  });

  it('when grouped by campaign, then the first-touch utm_campaign is the key', async () => {
    const { body } = await get('?by=campaign');
    const byCampaign = Object.fromEntries(
      body.groups.map((g: { key: string; stages: object }) => [g.key, g.stages]),
    );
    expect(byCampaign.spring).toMatchObject({ lead: 2, mql: 2, sql: 2, opportunity: 1, customer: 1 });
    expect(byCampaign.expo).toMatchObject({ lead: 1, mql: 1 });
    expect(byCampaign['(none)']).toMatchObject({ lead: 3, mql: 1 });
  });

  it('when grouped by sequence, then a lead counts in every sequence it went through', async () => {
    const { body } = await get('?by=sequence');
    const bySeq = Object.fromEntries(
      body.groups.map((g: { key: string; stages: object }) => [g.key, g.stages]),
    );
    expect(bySeq.welcome).toMatchObject({ lead: 3, mql: 3, sql: 2, opportunity: 1 });
    expect(bySeq['mql-nurture']).toMatchObject({ lead: 1, mql: 1, customer: 1 });
    expect(bySeq['(none)']).toMatchObject({ subscriber: 1, lead: 3, mql: 1 });
  });

  it('when asked for CSV, then one row for everything and one per group, formulas defused', async () => {
    await Lead.collection.insertOne(leadDoc(99, { source: '=HYPERLINK("x")', stages: { lead: 50 } }));
    const res = await get('?by=source&format=csv');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    const lines = res.text.trim().split('\r\n');
    expect(lines[0]).toBe(
      'group,subscriber,lead,mql,sql,opportunity,customer,leadToMql,mqlToSql,sqlToOpportunity,opportunityToCustomer,leadToOpportunity',
    );
    expect(lines[1]).toBe('all,1,7,4,2,1,1,0.5714,0.5,0.5,1,0.1429');
    expect(lines).toContain(`"'=HYPERLINK(""x"")",0,1,0,0,0,0,0,0,0,0,0`);
    await Lead.deleteOne({ email: 'r99@example.com' });
  });

  it('when the query is unknown or malformed, then 400 names the parameter and nothing is computed', async () => {
    for (const [q, path] of [
      ['?staus=open', ''],
      ['?by=country', 'by'],
      ['?from=yesterday', 'from'],
      ['?from=2026-11-02&to=2026-11-01', 'from'],
      ['?format=xml', 'format'],
      ['?from[$gt]=', ''],
    ] as const) {
      const res = await get(q);
      expect(res.status, q).toBe(400);
      expect(res.body.error.code, q).toBe('validation_failed');
      if (path)
        expect(
          res.body.error.details.map((d: { path: string }) => d.path),
          q,
        ).toContain(path);
    }
  });

  it('when a sales key asks, then it may read reports; without a key it may not', async () => {
    const sales = await env.keyFor('sales');
    const res = await env
      .http()
      .get('/api/reports/funnel')
      .set({ Authorization: `Bearer ${sales}` });
    expect(res.status).toBe(200);
    expect((await env.http().get('/api/reports/funnel')).status).toBe(401);
  });

  it('when a lead is moved to sql by PATCH, then the MQL stage it skipped is dated too', async () => {
    const created = await env.http().post('/api/leads').set(auth).send({ email: 'skipper@example.com' });
    const patched = await env
      .http()
      .patch(`/api/leads/${created.body.id}`)
      .set(auth)
      .send({ lifecycleStage: 'sql' });
    expect(patched.status).toBe(200);
    const lead = await Lead.findById(created.body.id).lean();
    const dates = lead!.stageDates as Record<string, Date>;
    expect(dates.mql).toBeInstanceOf(Date);
    expect(dates.sql!.getTime()).toBe(dates.mql!.getTime());
    expect(dates.opportunity).toBeUndefined();
  });
});
