import { describe, expect, it } from 'vitest';
import { describeEvent, eventTitle, eventTone } from '../../src/web/timeline-text.js';

describe('the timeline in words', () => {
  it('when known kinds are described, then each reads as one sentence of its properties', () => {
    expect(describeEvent('page_view', { path: '/pricing', title: 'Pricing', utm_campaign: 'spring' })).toBe(
      'Viewed /pricing “Pricing” · campaign spring',
    );
    expect(
      describeEvent('score_change', { from: 40, to: 95, delta: 55, grade: 'A', reasons: ['+40 demo'] }),
    ).toBe('Score 40 → 95 (+55) · grade A · +40 demo');
    expect(describeEvent('bant_change', { bant: { budget: '50k', need: null } })).toBe(
      'BANT answered · budget: 50k',
    );
    expect(describeEvent('stage_change', { from: 'lead', to: 'sql' })).toBe('Stage lead → sql');
    expect(describeEvent('handoff_rejected', { by: 'rep-ana', reason: 'no budget' })).toBe(
      'Rejected by rep-ana: no budget',
    );
    // with the page's rep names, people are named; an id with no rep (or a key) stays as it is
    const names = { 'rep-ana': 'Ana Rivera', 'rep-ben': 'Ben Okafor' };
    expect(describeEvent('handoff_rejected', { by: 'rep-ana', reason: 'no budget' }, names)).toBe(
      'Rejected by Ana Rivera: no budget',
    );
    expect(
      describeEvent('handoff_reassigned', { ownerId: 'rep-ben', previousOwnerId: 'rep-old' }, names),
    ).toBe('Reassigned to Ben Okafor from rep-old');
    expect(describeEvent('handoff_accepted', { by: 'key:Ops' }, names)).toBe('Accepted by key:Ops');
    expect(describeEvent('handoff_assigned', { ownerId: 'toString' }, names)).toBe('Assigned to toString');
    expect(
      describeEvent('email_click', { sequenceKey: 'welcome', stepId: 'hello', url: 'https://x.example/' }),
    ).toBe('Clicked a link · welcome / hello · https://x.example/');
  });

  it('when a kind is unknown or its properties are odd, then it shows a few scalar properties and never throws', () => {
    expect(describeEvent('webinar_attended', { webinar: 'Q3 launch', minutes: 42, nested: { a: 1 } })).toBe(
      'webinar: Q3 launch · minutes: 42',
    );
    expect(describeEvent('demo_requested', null)).toBe('');
    expect(describeEvent('score_change', { reasons: 'not a list' })).toBe('Score 0 → 0');
    expect(describeEvent('merged', { emails: ['a@x.example', 3] })).toBe('Merged a@x.example');
  });

  it('when only the fit grade changed, then the entry says so instead of a score change of nothing', () => {
    expect(describeEvent('score_change', { from: 0, to: 0, delta: 0, grade: 'A', reasons: [] })).toBe(
      'Grade A, score unchanged at 0',
    );
  });

  it('when an entry is titled, then abbreviations and submissions read as words, other kinds capitalised', () => {
    expect(eventTitle('api_submit')).toBe('API submission');
    expect(eventTitle('bant_change')).toBe('BANT answers');
    expect(eventTitle('stage_change')).toBe('Stage change');
    expect(eventTitle('handoff_accepted')).toBe('Handoff accepted');
  });

  it('when entries are grouped by tone, then sales, email, scoring and record kinds are told apart', () => {
    expect(eventTone('handoff_accepted')).toBe('sales');
    expect(eventTone('email_open')).toBe('email');
    expect(eventTone('score_change')).toBe('score');
    expect(eventTone('status_change')).toBe('record');
    expect(eventTone('page_view')).toBe('web');
  });
});
