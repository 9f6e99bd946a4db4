import { z } from 'zod';
import { attributeName, bantKeys, nameText } from '../leads/index.js';

export const formIdPattern = /^[A-Za-z0-9_-]{1,64}$/;
export const formIdParam = z.object({
  formId: z.string().regex(formIdPattern, 'must be 1-64 letters, digits, _ or -'),
});

const httpUrl = z
  .string()
  .max(2000)
  .refine(
    (v) => {
      try {
        return ['http:', 'https:'].includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: 'must be an http(s) URL' },
  );

const origin = httpUrl.transform((v) => new URL(v).origin);

/** PUT /api/forms/:formId */
export const formDefinitionSchema = z
  .object({
    name: nameText(200).pipe(z.string().trim().min(1)),
    redirectUrl: httpUrl.nullish(),
    allowedOrigins: z.array(origin).max(50).optional(),
    allowRetUrl: z.boolean().optional(),
    source: nameText(200).nullish(),
    fields: z
      .array(
        z
          .object({
            name: attributeName,
            label: nameText(200).optional(),
            required: z.boolean().optional(),
            bant: z.enum(bantKeys).optional(),
          })
          .strict(),
      )
      .max(50)
      .superRefine((fields, ctx) => {
        const seen = new Set<string>();
        fields.forEach((f, i) => {
          if (!f.bant) return;
          if (seen.has(f.bant))
            ctx.addIssue({
              code: 'custom',
              path: [i, 'bant'],
              message: `another field already answers ${f.bant}`,
            });
          seen.add(f.bant);
        });
      })
      .optional(),
    sequence: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a sequence key')
      .nullish(),
    honeypot: attributeName.optional(),
    minFillSeconds: z.number().int().min(0).max(3600).optional(),
    stage: z.enum(['subscriber']).nullish(),
  })
  .strict();
export type FormDefinition = z.infer<typeof formDefinitionSchema>;
