import { z } from 'zod';
import { secretKey } from './signature.js';
import { deliveryStatuses } from './delivery.model.js';
import { webhookEventTypes } from './webhook.model.js';

export const webhookIdPattern = /^[A-Za-z0-9_-]{1,100}$/;
/** An emitter's event id: `:` may join parts (`handoff.created:<requestId>`); at most 99 characters. */
export const eventIdPattern = /^[A-Za-z0-9._-][A-Za-z0-9._:-]{0,98}$/;

export const webhookIdParams = z.object({
  id: z.string().regex(webhookIdPattern, 'must be 1-100 letters, digits, _ or -'),
});

export const deliveryParams = webhookIdParams.extend({
  deliveryId: z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9._:-]+$/, 'must be a delivery id'),
});

/**
 * A receiver URL: http or https, no credentials, no whitespace or control characters (WHATWG URL
 * parsing drops CR, LF and tabs silently, so they are refused before parsing, not after).
 */
export const webhookUrl = z
  .string()
  .max(2048, 'must be at most 2048 characters')
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  .refine((v) => !/[\u0000-\u0020\u007f-\u009f]/.test(v), 'must not contain spaces or control characters')
  .superRefine((v, ctx) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an absolute http(s) URL' });
      return;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', message: 'must be an http or https URL' });
    } else if (u.username || u.password) {
      ctx.addIssue({ code: 'custom', message: 'must not carry credentials (the signature authenticates)' });
    } else if (!u.hostname) {
      ctx.addIssue({ code: 'custom', message: 'must name a host' });
    }
  });

export const putWebhookBody = z.strictObject({
  url: webhookUrl,
  events: z
    .array(z.enum(webhookEventTypes))
    .min(1, 'must name at least one event')
    .max(webhookEventTypes.length)
    .refine((e) => new Set(e).size === e.length, 'must not repeat an event'),
  secret: z
    .string()
    .max(100)
    .refine((s) => secretKey(s) !== undefined, 'must be whsec_ followed by the base64 of 24 to 64 bytes')
    .optional(),
  active: z.boolean().optional(),
});
export type PutWebhookBody = z.infer<typeof putWebhookBody>;

const cursor = z
  .string()
  .max(300)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a cursor from nextCursor')
  .optional();
const limit = z.coerce.number().int().min(1).max(500).default(50);

export const listWebhooksQuery = z.strictObject({ limit, cursor });

export const listDeliveriesQuery = z.strictObject({
  limit,
  cursor,
  status: z.enum(deliveryStatuses).optional(),
});

/** What an emitter gives emitWebhookEvent. */
export const emitInput = z.object({
  type: z.enum(webhookEventTypes),
  eventId: z.string().regex(eventIdPattern, 'must be 1-99 letters, digits, . _ - or :'),
  data: z
    .record(z.string(), z.unknown())
    .refine((d) => JSON.stringify(d).length <= 256 * 1024, 'must serialise to at most 256 KiB'),
  /** when it happened (the body's `timestamp`); now when not given */
  occurredAt: z.date().optional(),
});
export type EmitInput = z.input<typeof emitInput>;
