import { z } from 'zod';

/** The most events one POST /api/events takes. */
export const maxBatch = 1000;

const propertyKey = /^[A-Za-z0-9_-][A-Za-z0-9_ -]{0,63}$/;
const maxPropertiesBytes = 8 * 1024;

/** Event properties: a flat-ish JSON object; keys never start with `$` or hold a `.` (operators). */
function checkProperties(
  value: unknown,
  ctx: z.RefinementCtx,
  depth = 0,
  path: (string | number)[] = [],
): void {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return;
  if (depth >= 3) {
    ctx.addIssue({ code: 'custom', message: 'nests too deep (at most 3 levels)', path });
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkProperties(v, ctx, depth + 1, [...path, i]));
    return;
  }
  if (typeof value !== 'object') {
    ctx.addIssue({ code: 'custom', message: 'must be JSON', path });
    return;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (!propertyKey.test(k)) {
      ctx.addIssue({
        code: 'custom',
        message: `property name "${k.slice(0, 40)}" is not allowed (letters, digits, "_", "-", space; no "$" or ".")`,
        path: [...path, k],
      });
      continue;
    }
    checkProperties(v, ctx, depth + 1, [...path, k]);
  }
}

/** One event of POST /api/events, checked on its own: a bad one is rejected, the rest accepted. */
export const apiEventSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[\x21-\x7e]{1,200}$/, 'must be 1-200 visible ASCII characters')
      .optional(),
    leadId: z
      .string()
      .regex(/^[a-f0-9]{24}$/, 'must be a lead id')
      .optional(),
    email: z.string().min(3).max(254).optional(),
    type: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'must be 1-100 letters, digits, "_", ".", ":" or "-"')
      .refine((t) => t !== 'score_change', 'score_change is recorded by scoring itself'),
    occurredAt: z.iso.datetime({ offset: true, message: 'must be an ISO-8601 time' }).optional(),
    properties: z
      .record(z.string(), z.unknown())
      .superRefine((p, ctx) => {
        checkProperties(p, ctx);
        if (JSON.stringify(p).length > maxPropertiesBytes)
          ctx.addIssue({ code: 'custom', message: `must be at most ${maxPropertiesBytes} bytes of JSON` });
      })
      .optional(),
  })
  .refine((e) => (e.leadId === undefined) !== (e.email === undefined), {
    message: 'needs exactly one of leadId or email',
    path: ['leadId'],
  });
export type ApiEvent = z.infer<typeof apiEventSchema>;

export const eventsBody = z.strictObject({
  events: z.array(z.unknown(), { error: 'must be an array of events' }),
});
