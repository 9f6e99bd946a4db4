import { clock } from '../../lib/clock.js';
import type { ErrorDetail } from '../../lib/errors.js';
import { enqueue } from '../../queues/index.js';
import { recordEvents } from '../events/index.js';
import { Lead, type LeadDoc } from '../leads/index.js';
import type { FormDoc } from './form.model.js';

type Answers = Record<string, string | boolean>;

/**
 * The BANT answers a submission gives through the fields its form maps (`fields[].bant`): text,
 * or a checkbox-like `true`/`false` (also `yes`/`no`, `on`/`off`) as the boolean. Blank values
 * answer nothing; a value that is not one short text is an error naming the field.
 */
export function bantAnswers(
  form: Pick<FormDoc, 'fields'>,
  body: Record<string, unknown>,
): { answers: Answers; errors: ErrorDetail[] } {
  const answers: Answers = {};
  const errors: ErrorDetail[] = [];
  for (const f of form.fields ?? []) {
    if (!f.bant || !f.name) continue;
    const raw = body[f.name];
    if (raw === undefined) continue;
    if (typeof raw !== 'string') continue; // mapping names non-text values already
    const v = raw.trim();
    if (v === '') continue;
    if (v.length > 500) {
      errors.push({ path: f.name, message: 'must be at most 500 characters' });
      continue;
    }
    const lower = v.toLowerCase();
    answers[f.bant] = ['true', 'yes', 'on'].includes(lower)
      ? true
      : ['false', 'no', 'off'].includes(lower)
        ? false
        : v;
  }
  return { answers, errors };
}

const unanswered = (v: unknown) =>
  v === null || v === undefined || (typeof v === 'string' && v.trim() === '');

/**
 * Stores a submission's BANT answers on the lead the way capture treats fields: an answer fills
 * an empty one and never overwrites an answer already there (sales' answers after a
 * qualification call stay). Then asks the qualification area to re-evaluate the lead.
 */
export async function applyBantAnswers(leadId: string, answers: Answers): Promise<void> {
  if (Object.keys(answers).length === 0) return;
  const lead = await Lead.findById(leadId, { bant: 1 }).lean<Pick<LeadDoc, '_id' | 'bant'>>();
  if (!lead) return;
  const set: Record<string, unknown> = {};
  const bant = (lead.bant ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(answers)) if (unanswered(bant[k])) set[`bant.${k}`] = v;
  if (Object.keys(set).length === 0) return;
  await Lead.updateOne({ _id: lead._id }, { $set: set });
  await recordEvents([
    {
      leadId: lead._id,
      type: 'bant_change',
      occurredAt: clock.now(),
      properties: {
        via: 'form',
        bant: Object.fromEntries(Object.entries(set).map(([k, v]) => [k.slice(5), v])),
      },
    },
  ]);
  await enqueue('qualification', { leadId });
}
