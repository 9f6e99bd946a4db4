import { describe, expect, it } from 'vitest';
import { chooseRep, repMatches, type RepForAssignment } from '../../src/modules/handoff/assignment.logic.js';
import {
  companyDomain,
  normalizeCompanyName,
  normalizeDomain,
  opportunityName,
} from '../../src/modules/handoff/conversion.logic.js';

const rep = (id: string, extra: Partial<RepForAssignment> = {}): RepForAssignment => ({
  _id: id,
  active: true,
  ...extra,
});
const at = (s: string) => new Date(`2026-01-01T${s}:00Z`);

describe('assignment', () => {
  it('when several reps match, then the least recently assigned goes first (never assigned before anyone)', () => {
    const reps = [
      rep('a', { lastAssignedAt: at('10:00') }),
      rep('b', { lastAssignedAt: at('09:00') }),
      rep('c'),
    ];
    expect(chooseRep(reps, {}, new Map())).toBe('c');
    expect(chooseRep(reps.slice(0, 2), {}, new Map())).toBe('b');
  });

  it('when reps have rules, then only the matching ones take the lead, compared case-insensitively, attributes included', () => {
    const reps = [
      rep('de', { match: { country: ['DE', 'AT'] } }),
      rep('fair', { match: { source: ['trade show'], industry: ['Pharma'] } }),
      rep('all'),
    ];
    expect(chooseRep(reps, { country: 'at' }, new Map())).toBe('de');
    expect(chooseRep(reps, { source: 'Trade Show', attributes: { industry: 'pharma' } }, new Map())).toBe(
      'fair',
    );
    expect(repMatches(reps[1]!, { source: 'Trade Show' })).toBe(false);
    expect(repMatches(reps[2]!, { anything: 1 })).toBe(true);
  });

  it('when no rule matches, then every active rep is eligible; inactive ones never are', () => {
    const reps = [
      rep('de', { match: { country: ['DE'] }, lastAssignedAt: at('08:00') }),
      rep('x', { active: false }),
      rep('y', { lastAssignedAt: at('09:00') }),
    ];
    expect(chooseRep(reps, { country: 'FR' }, new Map())).toBe('de');
    expect(chooseRep([reps[1]!], { country: 'FR' }, new Map())).toBeUndefined();
  });

  it('when a rep is at capacity, then the next one gets the lead; unset capacity is unlimited; none left is undefined', () => {
    const reps = [
      rep('full', { capacity: 2 }),
      rep('free', { capacity: 3, lastAssignedAt: at('12:00') }),
      rep('unl', { lastAssignedAt: at('13:00') }),
    ];
    const open = new Map([
      ['full', 2],
      ['free', 3],
      ['unl', 999],
    ]);
    expect(chooseRep(reps, {}, open)).toBe('unl');
    expect(chooseRep(reps.slice(0, 2), {}, open)).toBeUndefined();
    expect(chooseRep(reps, {}, new Map([['full', 1]]))).toBe('full');
    expect(chooseRep([rep('zero', { capacity: 0 })], {}, new Map())).toBeUndefined();
  });

  it('when reps are excluded (SLA reassignment), then they are skipped', () => {
    expect(chooseRep([rep('a'), rep('b')], {}, new Map(), new Set(['a']))).toBe('b');
    expect(chooseRep([rep('a')], {}, new Map(), new Set(['a']))).toBeUndefined();
  });
});

describe('conversion matching keys', () => {
  it('when the email is at a free-mail domain, then it says nothing about the company', () => {
    for (const d of [
      'gmail.com',
      'GMail.com',
      'yahoo.co.uk',
      'outlook.com',
      'web.de',
      'icloud.com',
      'proton.me',
      'qq.com',
    ])
      expect(companyDomain(`a@${d}`, undefined), d).toBeUndefined();
    expect(companyDomain('a@gmail.com', 'https://www.Acme.example/about')).toBe('acme.example');
    expect(companyDomain('a@Sales.Initech.example', null)).toBe('sales.initech.example');
    expect(companyDomain('a@acme.example', 'https://gmail.com')).toBe('acme.example');
  });

  it('when domains and names are normalised, then spelling variants meet', () => {
    expect(normalizeDomain('www.acme.example:8080/x')).toBe('acme.example');
    expect(normalizeDomain('javascript:alert(1)')).toBeUndefined();
    expect(normalizeDomain('not a host')).toBeUndefined();
    expect(normalizeCompanyName('  Umbrella   Corp. ')).toBe('umbrella');
    expect(normalizeCompanyName('ACME, Inc.')).toBe('acme');
    expect(normalizeCompanyName('Globex GmbH')).toBe('globex');
    expect(normalizeCompanyName('   ')).toBeUndefined();
    expect(opportunityName('Acme', new Date('2026-03-04T23:00:00Z'))).toBe('Acme – 2026-03-04');
  });
});
