import { describe, expect, it } from 'vitest';
import {
  capDeferral,
  chooseTimezone,
  chooseVariant,
  evaluateCondition,
  foldStepStats,
  nextAllowedTime,
  reenrollAllowed,
} from '../../src/modules/sequences/sequences.logic.js';
import { sequenceDefinitionSchema } from '../../src/modules/sequences/sequences.schemas.js';
import { stepContent } from '../../src/modules/sequences/index.js';

const weekdays = { days: [1, 2, 3, 4, 5], from: '09:00', to: '17:00', timezone: 'lead' };

describe('send window: next allowed time', () => {
  it('when now is inside the window, then it is now', () => {
    const now = new Date('2026-11-23T10:30:00Z'); // Monday
    expect(nextAllowedTime(now, weekdays, 'UTC')).toEqual(now);
  });
  it('when now is before the window opens, then it is today at the opening time', () => {
    const now = new Date('2026-11-23T06:00:00Z');
    expect(nextAllowedTime(now, weekdays, 'UTC').toISOString()).toBe('2026-11-23T09:00:00.000Z');
  });
  it('when now is after Friday closing, then it is Monday at the opening time', () => {
    const now = new Date('2026-11-27T17:00:00Z'); // Friday, `to` is exclusive
    expect(nextAllowedTime(now, weekdays, 'UTC').toISOString()).toBe('2026-11-30T09:00:00.000Z');
  });
  it('when the window is in the lead’s zone, then the opening time is local wall-clock time', () => {
    const now = new Date('2026-11-23T12:00:00Z'); // 07:00 in New York (EST, UTC-5)
    expect(nextAllowedTime(now, weekdays, 'America/New_York').toISOString()).toBe('2026-11-23T14:00:00.000Z');
  });
  it('when only today’s weekday is allowed and today’s window has passed, then it is a week later', () => {
    const now = new Date('2026-11-23T18:00:00Z'); // Monday evening
    const w = { ...weekdays, days: [1] };
    expect(nextAllowedTime(now, w, 'UTC').toISOString()).toBe('2026-11-30T09:00:00.000Z');
  });
  it('when a DST change happens on the next allowed day, then the opening time stays 09:00 local', () => {
    const now = new Date('2026-03-28T12:00:00Z'); // Saturday; Berlin switches to CEST on Sunday 29th
    expect(nextAllowedTime(now, weekdays, 'Europe/Berlin').toISOString()).toBe('2026-03-30T07:00:00.000Z');
  });
});

describe('timezone choice', () => {
  it('when the window names a zone, then that zone is used whatever the lead says', () => {
    expect(chooseTimezone('Asia/Tokyo', { country: 'US', attributes: { timezone: 'Europe/Paris' } })).toBe(
      'Asia/Tokyo',
    );
  });
  it('when the lead has a valid timezone attribute, then it wins over its country', () => {
    expect(chooseTimezone('lead', { country: 'US', attributes: { timezone: 'Europe/Paris' } })).toBe(
      'Europe/Paris',
    );
  });
  it('when the timezone attribute is not an IANA zone, then the country decides', () => {
    expect(chooseTimezone('lead', { country: 'DE', attributes: { timezone: 'Mars/Olympus' } })).toBe(
      'Europe/Berlin',
    );
  });
  it('when a country spans zones, then its most populous zone is used', () => {
    expect(chooseTimezone('lead', { country: 'US', attributes: {} })).toBe('America/New_York');
  });
  it('when a single-zone country is given, then its zone comes from countries-and-timezones', () => {
    expect(chooseTimezone('lead', { country: 'JP', attributes: {} })).toBe('Asia/Tokyo');
  });
  it('when nothing is known, then UTC', () => {
    expect(chooseTimezone('lead', { country: null, attributes: null })).toBe('UTC');
    expect(chooseTimezone('lead', { country: 'ZZ', attributes: { timezone: 42 } })).toBe('UTC');
  });
});

describe('condition evaluation', () => {
  const facts = new Map([
    ['a', { openedAt: new Date(), clickedAt: null }],
    ['b', { openedAt: null, clickedAt: null }],
  ]);
  const sendFor = (id: string) => facts.get(id);
  it('when the referenced step was opened, then opened holds and notOpened does not', () => {
    expect(evaluateCondition({ opened: 'a' }, sendFor)).toBe(true);
    expect(evaluateCondition({ notOpened: 'a' }, sendFor)).toBe(false);
  });
  it('when the referenced step was not clicked, then notClicked holds and clicked does not', () => {
    expect(evaluateCondition({ notClicked: 'a' }, sendFor)).toBe(true);
    expect(evaluateCondition({ clicked: 'a' }, sendFor)).toBe(false);
  });
  it('when the referenced step was never sent, then it counts as not opened', () => {
    expect(evaluateCondition({ opened: 'missing' }, sendFor)).toBe(false);
    expect(evaluateCondition({ notOpened: 'missing' }, sendFor)).toBe(true);
  });
  it('when there is no condition, then the step runs', () => {
    expect(evaluateCondition(undefined, sendFor)).toBe(true);
  });
});

describe('variant choice', () => {
  const variants = [
    { id: 'a', weight: 1 },
    { id: 'b', weight: 3 },
  ];
  it('when the random draw falls in a variant’s share, then that variant is chosen', () => {
    expect(chooseVariant(variants, () => 0.2).id).toBe('a');
    expect(chooseVariant(variants, () => 0.25).id).toBe('b');
    expect(chooseVariant(variants, () => 0.999).id).toBe('b');
  });
  it('when a variant has weight 0, then it is never chosen', () => {
    const vs = [
      { id: 'a', weight: 0 },
      { id: 'b', weight: 1 },
    ];
    for (const r of [0, 0.3, 0.99]) expect(chooseVariant(vs, () => r).id).toBe('b');
  });
  it('when drawn many times, then the split follows the weights', () => {
    const counts = { a: 0, b: 0 };
    for (let i = 0; i < 4000; i++) counts[chooseVariant(variants).id as 'a' | 'b']++;
    expect(counts.a).toBeGreaterThan(700);
    expect(counts.a).toBeLessThan(1300);
  });
  it('when a variant has its own body, then the snapshot uses it with the step subject as fallback', () => {
    const def = sequenceDefinitionSchema.parse({
      name: 'x',
      steps: [
        {
          id: 's',
          subject: 'Step subject',
          html: '<p>step</p>',
          variants: [
            { id: 'a', text: 'variant a' },
            { id: 'b', subject: 'B subject' },
          ],
        },
      ],
    });
    const step = def.steps[0]!;
    expect(stepContent(step, () => 0.1)).toEqual({
      variant: 'a',
      content: { subject: 'Step subject', html: null, text: 'variant a', template: null },
    });
    expect(stepContent(step, () => 0.9)).toEqual({
      variant: 'b',
      content: { subject: 'B subject', html: '<p>step</p>', text: null, template: null },
    });
  });
});

describe('frequency cap', () => {
  const now = new Date('2026-11-23T12:00:00Z');
  const h = (n: number) => new Date(now.getTime() - n * 3_600_000);
  const cap = { count: 2, windowMs: 24 * 3_600_000 };
  it('when fewer sends than the cap happened in the window, then nothing is deferred', () => {
    expect(capDeferral([h(1), h(30)], now, cap)).toBeUndefined();
  });
  it('when the cap is reached, then the send waits until the oldest counted send leaves the window', () => {
    expect(capDeferral([h(1), h(5), h(30)], now, cap)?.toISOString()).toBe(
      new Date(h(5).getTime() + cap.windowMs + 1).toISOString(),
    );
  });
  it('when the cap is 0, then it is off', () => {
    expect(capDeferral([h(1), h(2)], now, { count: 0, windowMs: 1000 })).toBeUndefined();
  });
});

describe('re-enrollment policy', () => {
  const now = new Date('2026-11-23T12:00:00Z');
  const ended = (hoursAgo: number) => ({ finishedAt: new Date(now.getTime() - hoursAgo * 3_600_000) });
  it('when the lead was never enrolled, then any policy allows it', () => {
    for (const p of ['never', 'always', 'after:1d']) expect(reenrollAllowed(p, [], now)).toBe(true);
  });
  it('when an enrollment is still active, then no policy allows another', () => {
    for (const p of ['never', 'always', 'after:1s'])
      expect(reenrollAllowed(p, [{ finishedAt: null }], now)).toBe(false);
  });
  it('when the policy is never, then a finished enrollment blocks re-entry', () => {
    expect(reenrollAllowed('never', [ended(1000)], now)).toBe(false);
  });
  it('when the policy is after:1d, then re-entry waits a day after the last enrollment ended', () => {
    expect(reenrollAllowed('after:1d', [ended(23)], now)).toBe(false);
    expect(reenrollAllowed('after:1d', [ended(25), ended(23)], now)).toBe(false);
    expect(reenrollAllowed('after:1d', [ended(25)], now)).toBe(true);
  });
  it('when the policy is always, then a finished enrollment does not block', () => {
    expect(reenrollAllowed('always', [ended(0)], now)).toBe(true);
  });
});

describe('definition validation', () => {
  const base = { name: 'W', steps: [{ id: 'a', subject: 'Hi', text: 'x' }] };
  const issues = (def: unknown) => {
    const r = sequenceDefinitionSchema.safeParse(def);
    return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
  };
  it('when a step condition names a later step, then the path of that condition is reported', () => {
    expect(
      issues({
        ...base,
        steps: [
          { id: 'a', subject: 'Hi', text: 'x', if: { opened: 'b' } },
          { id: 'b', subject: 'Hi', text: 'x' },
        ],
      }),
    ).toContain('steps.0.if.opened');
  });
  it('when step ids repeat, then the duplicate is reported', () => {
    expect(issues({ ...base, steps: [base.steps[0], base.steps[0]] })).toContain('steps.1.id');
  });
  it('when a subject has a line break, then it is rejected (it would reach a mail header)', () => {
    expect(issues({ ...base, steps: [{ id: 'a', subject: 'Hi\r\nBcc: x@y', text: 'x' }] })).toContain(
      'steps.0.subject',
    );
  });
  it('when the window closes before it opens, then `to` is reported', () => {
    expect(
      issues({ ...base, sendWindow: { days: [1], from: '17:00', to: '09:00', timezone: 'UTC' } }),
    ).toContain('sendWindow.to');
  });
  it('when a valid definition is given, then defaults are filled in', () => {
    const d = sequenceDefinitionSchema.parse(base);
    expect(d.reenroll).toBe('never');
    expect(d.steps[0]!.wait).toBe('0s');
    expect(d.enroll).toEqual({ formIds: [], sources: [], stages: [] });
  });
});

describe('stats folding', () => {
  it('when rows exist per variant, then steps sum them and list each variant in definition order', () => {
    const row = (stepId: string, variant: string | null, sent: number, opened: number) => ({
      stepId,
      variant,
      sent,
      opened,
      clicked: 0,
      unsubscribed: 0,
      bounced: 0,
    });
    const out = foldStepStats(['a', 'b'], new Map([['b', ['x', 'y']]]), [
      row('a', null, 3, 1),
      row('b', 'y', 2, 2),
      row('b', 'x', 1, 0),
    ]);
    expect(out).toEqual([
      { id: 'a', sent: 3, opened: 1, clicked: 0, unsubscribed: 0, bounced: 0 },
      {
        id: 'b',
        sent: 3,
        opened: 2,
        clicked: 0,
        unsubscribed: 0,
        bounced: 0,
        variants: [
          { id: 'x', sent: 1, opened: 0, clicked: 0, unsubscribed: 0, bounced: 0 },
          { id: 'y', sent: 2, opened: 2, clicked: 0, unsubscribed: 0, bounced: 0 },
        ],
      },
    ]);
  });
});
