import { z } from 'zod';
import { parseDuration } from '../../lib/clock.js';
import { nameText } from '../leads/index.js';

/** Fit grades, best first (API.md: A–F, no E). */
export const grades = ['A', 'B', 'C', 'D', 'F'] as const;
export type Grade = (typeof grades)[number];

const person = nameText(200).pipe(z.string().trim().min(1, 'must name a person'));

const duration = z
  .string()
  .max(20)
  .refine((v) => parseDuration(v) !== undefined, 'must be a duration like "30d", "2w" or "12h"');

/** PUT /api/qualification */
export const agreementInputSchema = z.strictObject({
  /** the score at which a lead becomes an MQL (and, with the rest, qualified) */
  threshold: z.number().finite().min(0).max(1_000_000_000),
  require: z
    .strictObject({
      budget: z.boolean().optional(),
      authority: z.boolean().optional(),
      need: z.boolean().optional(),
      timeline: z.boolean().optional(),
      /** the lowest fit grade accepted */
      grade: z.enum(grades).nullable().optional(),
    })
    .default({}),
  createOpportunity: z.boolean().default(true),
  opportunity: z
    .strictObject({
      amount: z.number().finite().min(0).max(1e15).nullable().optional(),
      closeIn: duration.nullable().optional(),
    })
    .default({}),
  slaHours: z
    .number()
    .finite()
    .positive()
    .max(24 * 366)
    .default(24),
  agreedBy: z.strictObject({ marketing: person, sales: person }),
});
export type AgreementInput = z.infer<typeof agreementInputSchema>;

export const agreementQuery = z.strictObject({});
