import { z } from 'zod';
import { opportunityStages } from '../crm/index.js';
import { nameText, safeText } from '../leads/index.js';
import { handoffStatuses } from './handoff.model.js';

const objectId = z.string().regex(/^[a-f0-9]{24}$/, 'must be an id');
/** A rep id: what `PUT /api/reps/:id` names it, and what ownerId holds. */
export const repIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const repId = z.string().regex(repIdPattern, 'must be 1-64 letters, digits, ., _ or -');
const limit = z.coerce.number().int().min(1).max(500).default(50);
const isoDate = z.iso
  .datetime({ offset: true })
  .or(z.iso.date())
  .transform((s) => new Date(s));

export const repParam = z.object({ id: repId }).strict();
export const handoffParam = z
  .object({ id: z.string().regex(/^[a-f0-9]{24}:[0-9]{1,6}$/, 'must be a handoff id') })
  .strict();
export const objectIdParam = z.object({ id: objectId }).strict();

const matchField = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, 'must be a lead field or attribute name');
export const repBody = z
  .object({
    name: nameText(200).refine((s) => s.trim().length > 0, 'must not be empty'),
    email: z.email().max(254),
    active: z.boolean().optional(),
    match: z.record(matchField, z.array(nameText(200)).max(500)).optional(),
    capacity: z.number().int().min(0).max(1_000_000).nullable().optional(),
  })
  .strict();
export type RepBody = z.infer<typeof repBody>;

export const handoffListQuery = z
  .object({
    status: z.enum(handoffStatuses).optional(),
    ownerId: repId.optional(),
    limit,
    cursor: z.string().max(200).optional(),
  })
  .strict();

export const rejectBody = z
  .object({
    reason: safeText(1000).refine((s) => s.trim().length > 0, 'must not be empty'),
    recycleTo: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be a sequence key')
      .optional(),
  })
  .strict();

export const convertBody = z
  .object({
    createOpportunity: z.boolean().optional(),
    accountId: objectId.optional(),
    contactId: objectId.optional(),
    ownerId: repId.optional(),
    opportunity: z
      .object({
        name: nameText(200).optional(),
        amount: z.number().finite().min(0).max(1e13).optional(),
        closeDate: isoDate.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const opportunityListQuery = z
  .object({
    ownerId: repId.optional(),
    stage: z.enum(opportunityStages).optional(),
    accountId: objectId.optional(),
    limit,
    cursor: objectId.optional(),
  })
  .strict();

export const opportunityPatch = z
  .object({
    stage: z.enum(opportunityStages).optional(),
    amount: z.number().finite().min(0).max(1e13).nullable().optional(),
    closeDate: isoDate.nullable().optional(),
    reason: safeText(1000).optional(),
  })
  .strict()
  .refine((o) => Object.keys(o).length > 0, 'give stage, amount, closeDate or reason');
