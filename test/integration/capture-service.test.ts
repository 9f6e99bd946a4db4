import { describe, expect, it } from 'vitest';
import { Contact } from '../../src/modules/crm/index.js';
import { LeadEvent } from '../../src/modules/events/index.js';
import { captureLead, captureLeads, Lead } from '../../src/modules/leads/index.js';
import { getQueue } from '../../src/queues/index.js';
import { useTestEnv } from '../helpers/env.js';

describe('captureLeads (the one capture path)', () => {
  useTestEnv();

  it('when a batch repeats an email in another case, then one lead is created and both inputs land on it', async () => {
    const results = await captureLeads(
      [
        { email: ' Ada@Example.com ', firstName: ' Ada ', country: 'Germany', phone: '030 1234567' },
        { email: 'ada@example.COM', company: 'Analytical Engines', firstName: 'Other' },
        { email: 'bob@example.com' },
      ],
      { via: 'import', source: 'Trade show' },
    );
    expect(results.map((r) => r.created)).toEqual([true, false, true]);
    expect(results[0]!.leadId).toBe(results[1]!.leadId);
    const ada = await Lead.findById(results[0]!.leadId).lean();
    expect(ada).toMatchObject({
      email: 'Ada@Example.com',
      emailKey: 'ada@example.com',
      firstName: 'Ada',
      company: 'Analytical Engines',
      country: 'DE',
      phone: '+49301234567',
      source: 'Trade show',
    });
    expect(await LeadEvent.countDocuments({ leadId: ada!._id, type: 'import' })).toBe(2);
    const jobs = await getQueue('lead-captured').getJobs(['waiting']);
    expect(jobs.filter((j) => j.data.via === 'import')).toHaveLength(2);
  });

  it('when a batch mixes new and existing emails, then each result says which, in input order', async () => {
    const existing = await captureLeads(
      Array.from({ length: 50 }, (_, i) => ({ email: `mix${i * 2}@batch.example`, firstName: `Old${i}` })),
      { via: 'import' },
    );
    const rows = Array.from({ length: 100 }, (_, i) => ({ email: `MIX${i}@batch.example`, title: `T${i}` }));
    const results = await captureLeads(rows, { via: 'import' });
    expect(results.map((r) => r.created)).toEqual(rows.map((_, i) => i % 2 === 1));
    expect(results.filter((_, i) => i % 2 === 0).map((r) => r.leadId)).toEqual(existing.map((r) => r.leadId));
    expect(await Lead.countDocuments({ emailKey: /@batch\.example$/ })).toBe(100);
    const old = await Lead.findOne({ emailKey: 'mix4@batch.example' }).lean();
    expect(old).toMatchObject({ firstName: 'Old2', title: 'T4' });
  });

  it('when an existing lead is captured again, then empty fields are filled and existing values kept', async () => {
    const first = await captureLead({ email: 'fill@example.com', firstName: 'Fay' }, { via: 'api' });
    const again = await captureLead(
      { email: 'FILL@example.com', firstName: 'Changed', lastName: 'Filler', attributes: { size: 50 } },
      { via: 'form', formId: 'contact' },
    );
    expect(again).toEqual({ leadId: first.leadId, created: false, merged: true });
    const lead = await Lead.findById(first.leadId).lean();
    expect(lead).toMatchObject({ firstName: 'Fay', lastName: 'Filler', attributes: { size: 50 } });
    const events = await LeadEvent.find({ leadId: lead!._id }).sort({ _id: 1 }).lean();
    expect(events.map((e) => e.type)).toEqual(['api_submit', 'form_submit']);
    expect(events[1]!.properties).toMatchObject({ submission: { firstName: 'Changed' }, formId: 'contact' });
  });

  it('when 100 captures of one email run concurrently, then exactly one lead exists and one says created', async () => {
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        captureLead({ email: 'race@example.com', firstName: `R${i}` }, { via: 'api' }),
      ),
    );
    expect(await Lead.countDocuments({ emailKey: 'race@example.com' })).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.leadId)).size).toBe(1);
    expect(await LeadEvent.countDocuments({ leadId: results[0]!.leadId })).toBe(100);
  });

  it('when the email belongs to a Contact, then the lead is flagged with it', async () => {
    const contact = await Contact.create({ email: 'known@example.com', emailKey: 'known@example.com' });
    const r = await captureLead({ email: 'Known@example.com' }, { via: 'form' });
    expect(r.contactId).toBe(String(contact._id));
    const lead = await Lead.findById(r.leadId).lean();
    expect(lead!.existingContactId).toBe(String(contact._id));
  });

  it('when dryRun is set, then nothing is written', async () => {
    const before = await Lead.countDocuments();
    const r = await captureLeads([{ email: 'dry@example.com' }, { email: 'fill@example.com' }], {
      via: 'import',
      dryRun: true,
    });
    expect(r[0]).toEqual({ leadId: null, created: true, merged: false });
    expect(r[1]!.created).toBe(false);
    expect(r[1]!.leadId).toMatch(/^[a-f0-9]{24}$/);
    expect(await Lead.countDocuments()).toBe(before);
  });
});
