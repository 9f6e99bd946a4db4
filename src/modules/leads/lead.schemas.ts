import { z } from 'zod';
import { leadStatuses, lifecycleStages } from './lead.model.js';

/**
 * Text that is safe to keep: well-formed Unicode (no lone surrogates), no U+FFFD left by a decoder
 * that met invalid UTF-8, and no NUL. Objects such as `{"$gt": ""}` fail `z.string()` itself.
 */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export const safeText = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !loneSurrogate.test(s) && !s.includes('\uFFFD') && !s.includes('\u0000'), {
      message: 'must be valid UTF-8 text',
    });

/**
 * Names reach mail headers and HTML pages: no line breaks (CR, LF, NEL, and Unicode's line and
 * paragraph separators U+2028/U+2029), control characters or angle brackets.
 */
export const nameText = (max = 200) =>
  safeText(max).refine((s) => !/[\p{Cc}\p{Zl}\p{Zp}<>]/u.test(s), {
    message: 'must not contain line breaks, control characters, < or >',
  });

/**
 * A custom field name: stored as a key under `attributes`, so never `$…` or dotted. A leading
 * digit is allowed: Salesforce custom field ids look like `00N5e00000abcde`.
 */
export const attributeName = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, _ or -');

export const attributeValue = z.union([safeText(2000), z.number().finite(), z.boolean(), z.null()]);

export const attributesSchema = z
  .record(attributeName, attributeValue)
  .refine((o) => Object.keys(o).length <= 100, { message: 'at most 100 attributes' });

const optionalName = nameText().nullish();

/** What a form, the API or an import gives us for one lead (API.md's lead fields, camelCase). */
/** The person fields a form, the API, an import or a PATCH may set. */
const personFields = {
  firstName: optionalName,
  lastName: optionalName,
  company: optionalName,
  title: optionalName,
  phone: nameText(50).nullish(),
  country: nameText(100).nullish(),
  source: nameText().nullish(),
};

const emailField = safeText(300)
  .transform((s) => s.trim())
  .pipe(z.email({ message: 'must be an email address' }).max(254));

export const leadInputSchema = z
  .object({
    email: emailField,
    ...personFields,
    attributes: attributesSchema.optional(),
    /** the person asked for no marketing email (Web-to-Lead's "Email Opt Out"): suppressed before any enrollment */
    emailOptOut: z.boolean().optional(),
  })
  .strict();
export type LeadInput = z.input<typeof leadInputSchema>;

/**
 * A BANT answer (API.md): printable text or `true`/`false`; `null` clears it. It counts as given
 * when `true` or non-empty text.
 */
export const bantValue = z.union([z.boolean(), safeText(500)]).nullable();
export const bantKeys = ['budget', 'authority', 'need', 'timeline'] as const;
export type BantKey = (typeof bantKeys)[number];

/** PATCH /api/leads/:id. Sales may only send status, bant and ownerId. */
export const leadPatchSchema = z
  .object({
    status: z.enum(leadStatuses).optional(),
    lifecycleStage: z.enum(lifecycleStages).optional(),
    /** moves the lead's claim in the email registry: 409 when another lead has the address */
    email: emailField.optional(),
    ...personFields,
    bant: z
      .object({
        budget: bantValue.optional(),
        authority: bantValue.optional(),
        need: bantValue.optional(),
        timeline: bantValue.optional(),
      })
      .strict()
      .optional(),
    ownerId: nameText(100).nullable().optional(),
    attributes: attributesSchema.optional(),
  })
  .strict();
export type LeadPatch = z.infer<typeof leadPatchSchema>;
export const salesPatchFields = new Set(['status', 'bant', 'ownerId']);

export const objectIdParam = z.object({ id: z.string().regex(/^[a-f0-9]{24}$/, 'must be an id') });

export const leadListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z
    .string()
    .regex(/^[a-f0-9]{24}$/, 'must be a cursor from nextCursor')
    .optional(),
  status: z.enum(leadStatuses).optional(),
  stage: z.enum(lifecycleStages).optional(),
  email: safeText(254).optional(),
  ownerId: nameText(100).optional(),
  q: nameText(200).optional(),
  source: nameText(200).optional(),
  grade: z.enum(['A', 'B', 'C', 'D', 'F']).optional(),
  minScore: z.coerce.number().int().min(-1_000_000).max(1_000_000).optional(),
  maxScore: z.coerce.number().int().min(-1_000_000).max(1_000_000).optional(),
});

export const mergeSchema = z
  .object({
    ids: z
      .array(z.string().regex(/^[a-f0-9]{24}$/, 'must be an id'))
      .min(1)
      .max(100),
  })
  .strict();

export const timelineQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,200}$/, 'must be a cursor from nextCursor')
    .optional(),
});
