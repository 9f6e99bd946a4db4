import { IANAZone } from 'luxon';
import { z } from 'zod';
import { parseDuration } from '../../lib/clock.js';
import { templateNamePattern } from '../email/index.js';
import { lifecycleStages } from '../leads/index.js';

/** Sequence keys appear in URLs and send keys: plain, short, no `:`. */
export const sequenceKeyPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const sequenceKey = z.string().regex(sequenceKeyPattern, 'must be 1-64 letters, digits, _ or -');

const stepIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, _ or -');

const duration = z
  .string()
  .refine((v) => parseDuration(v) !== undefined, 'must be a duration like "30s", "15m", "2h", "3d", "1w"');

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24h)');

// Template names are file names under templates/ (email's rule): no path tricks.
const templateName = z
  .string()
  .regex(templateNamePattern, 'must be a template name (letters, digits, _ or -, one optional folder/)');

const subject = z
  .string()
  .min(1)
  .max(500)
  // a subject reaches a mail header: no line breaks
  .refine((s) => !/[\r\n]/.test(s), 'must not contain line breaks');

const body = z.string().min(1).max(200_000);

const variantSchema = z.strictObject({
  id: stepIdSchema,
  subject: subject.optional(),
  html: body.optional(),
  text: body.optional(),
  template: templateName.optional(),
  weight: z.number().int().min(0).max(1000).default(1),
});

const conditionSchema = z
  .strictObject({
    opened: stepIdSchema.optional(),
    clicked: stepIdSchema.optional(),
    notOpened: stepIdSchema.optional(),
    notClicked: stepIdSchema.optional(),
  })
  .refine((c) => Object.values(c).filter((v) => v !== undefined).length === 1, {
    message: 'must name exactly one of opened, clicked, notOpened, notClicked',
  });

const stepSchema = z
  .strictObject({
    id: stepIdSchema,
    wait: duration.default('0s'),
    subject: subject.optional(),
    template: templateName.optional(),
    html: body.optional(),
    text: body.optional(),
    if: conditionSchema.optional(),
    variants: z.array(variantSchema).min(2).max(10).optional(),
  })
  .superRefine((step, ctx) => {
    const hasContent = (v: { template?: string; html?: string; text?: string }) =>
      v.template !== undefined || v.html !== undefined || v.text !== undefined;
    if (step.variants) {
      step.variants.forEach((v, i) => {
        if (!(v.subject ?? step.subject)) {
          ctx.addIssue({
            code: 'custom',
            path: ['variants', i, 'subject'],
            message: 'a subject is required',
          });
        }
        if (!hasContent(v) && !hasContent(step)) {
          ctx.addIssue({
            code: 'custom',
            path: ['variants', i, 'template'],
            message: 'one of template, html or text is required',
          });
        }
      });
      const ids = step.variants.map((v) => v.id);
      if (new Set(ids).size !== ids.length) {
        ctx.addIssue({ code: 'custom', path: ['variants'], message: 'variant ids must be unique' });
      }
      if (step.variants.every((v) => v.weight === 0)) {
        ctx.addIssue({ code: 'custom', path: ['variants'], message: 'at least one variant needs a weight' });
      }
    } else {
      if (!step.subject)
        ctx.addIssue({ code: 'custom', path: ['subject'], message: 'a subject is required' });
      if (!hasContent(step)) {
        ctx.addIssue({
          code: 'custom',
          path: ['template'],
          message: 'one of template, html or text is required',
        });
      }
    }
  });

export const exitGoals = ['qualified', 'converted', 'unsubscribed', 'replied'] as const;
export type ExitGoal = (typeof exitGoals)[number];

const sendWindowSchema = z
  .strictObject({
    days: z.array(z.number().int().min(1).max(7)).min(1).max(7).default([1, 2, 3, 4, 5, 6, 7]),
    from: hhmm.default('00:00'),
    to: hhmm.default('23:59'),
    timezone: z
      .string()
      .max(100)
      .refine((tz) => tz === 'lead' || IANAZone.isValidZone(tz), 'must be "lead" or an IANA time zone name')
      .default('lead'),
  })
  .refine((w) => w.from < w.to, { path: ['to'], message: 'must be later than from' });

const reenrollSchema = z.union([
  z.literal('never'),
  z.literal('always'),
  z
    .string()
    .regex(/^after:\d{1,9}[smhdw]$/, 'must be "never", "always" or "after:<duration>"')
    .refine((v) => parseDuration(v.slice(6)) !== undefined, 'must be "after:<duration>"'),
]);

/** PUT /api/sequences/:key body. */
export const sequenceDefinitionSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    description: z.string().max(2000).optional(),
    enroll: z
      .strictObject({
        formIds: z.array(z.string().min(1).max(100)).max(100).default([]),
        sources: z.array(z.string().min(1).max(200)).max(100).default([]),
        /** lifecycle stages that enroll a lead when it reaches them (e.g. the MQL nurture) */
        stages: z.array(z.enum(lifecycleStages)).max(6).default([]),
      })
      .default({ formIds: [], sources: [], stages: [] }),
    steps: z.array(stepSchema).min(1).max(50),
    exitOn: z.array(z.enum(exitGoals)).max(4).default([]),
    sendWindow: sendWindowSchema.optional(),
    reenroll: reenrollSchema.default('never'),
  })
  .superRefine((def, ctx) => {
    const seen = new Map<string, number>();
    def.steps.forEach((step, i) => {
      if (seen.has(step.id)) {
        ctx.addIssue({ code: 'custom', path: ['steps', i, 'id'], message: `duplicate step id "${step.id}"` });
      }
      seen.set(step.id, i);
    });
    def.steps.forEach((step, i) => {
      if (!step.if) return;
      for (const [kind, ref] of Object.entries(step.if)) {
        if (ref === undefined) continue;
        const at = seen.get(ref);
        if (at === undefined || at >= i) {
          ctx.addIssue({
            code: 'custom',
            path: ['steps', i, 'if', kind],
            message: `must name an earlier step (no earlier step "${ref}")`,
          });
        }
      }
    });
  });

export type SequenceDefinition = z.infer<typeof sequenceDefinitionSchema>;
export type SequenceStep = SequenceDefinition['steps'][number];
export type StepCondition = NonNullable<SequenceStep['if']>;
export type StepVariant = NonNullable<SequenceStep['variants']>[number];
export type SendWindow = NonNullable<SequenceDefinition['sendWindow']>;

export const objectIdString = z.string().regex(/^[a-f0-9]{24}$/, 'must be an id');

export const enrollBodySchema = z.strictObject({ leadId: objectIdString });

export const getSequenceQuerySchema = z.object({
  version: z.coerce.number().int().min(1).optional(),
});

export const previewBodySchema = z
  .strictObject({
    leadId: objectIdString.optional(),
    lead: z
      .strictObject({
        email: z.string().max(320).optional(),
        firstName: z.string().max(200).optional(),
        lastName: z.string().max(200).optional(),
        company: z.string().max(200).optional(),
        title: z.string().max(200).optional(),
        phone: z.string().max(50).optional(),
        country: z.string().max(100).optional(),
        source: z.string().max(200).optional(),
        attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
      })
      .optional(),
  })
  .refine((b) => !(b.leadId && b.lead), { message: 'give leadId or lead, not both' });

export type PreviewBody = z.infer<typeof previewBodySchema>;
