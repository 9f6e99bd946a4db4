import type { Request } from 'express';
import { z } from 'zod';
import { badRequest } from '../../lib/errors.js';
import { parseInput } from '../../lib/http.js';
import { httpUrl } from './attribution.logic.js';

/** Largest beacon body: a page view is a few hundred bytes. */
export const beaconLimitBytes = 8 * 1024;

// eslint-disable-next-line no-control-regex
const controlChars = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
// a UTF-16 surrogate without its pair (JSON's "\ud800"): not text, and not storable as UTF-8
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !controlChars.test(s) && !loneSurrogate.test(s), 'must be printable text');

/** The snippet's page-view beacon (`POST /t/e`); anything else in it is refused. */
export const beaconSchema = z.strictObject({
  /** event type; only page views so far */
  e: z.literal('page_view').optional(),
  /** the signed visitor id leadflow issued (`GET /t/v`) */
  v: z.string().max(100),
  /** the page view's own id (the snippet makes one), so a repeated beacon counts once */
  id: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8-64 letters, digits, _ or -'),
  /** the page: origin, path and campaign parameters (the snippet drops the rest of the query) */
  url: text(2048).refine((u) => httpUrl(u) !== undefined, 'must be an http(s) URL'),
  title: text(300).optional(),
  referrer: text(2048).optional(),
  /** a lead token from a tracked email click (`?lf_t=`) */
  t: z.string().max(200).optional(),
});
export type Beacon = z.infer<typeof beaconSchema>;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** body-parser `verify`: refuses bodies that are not valid UTF-8, raw or percent-encoded. */
export function verifyUtf8(req: Request, _res: unknown, buf: Buffer): void {
  let body: string;
  try {
    body = utf8.decode(buf);
  } catch {
    throw badRequest('the body is not valid UTF-8');
  }
  if (!req.is('application/x-www-form-urlencoded') || !body.includes('%')) return;
  for (const part of body.split('&')) {
    try {
      decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      throw badRequest('the body is not valid UTF-8');
    }
  }
}

/**
 * A beacon body as parsed by express: a JSON text (`text/plain`, what sendBeacon sends without a
 * CORS preflight), urlencoded fields, or a JSON object. 400 naming the problem otherwise.
 */
export function parseBeacon(body: unknown): Beacon {
  let value: unknown = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      throw badRequest('the body is not valid JSON');
    }
  }
  if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest('the body must be a JSON object or urlencoded fields');
  }
  return parseInput(beaconSchema, value, 'the beacon is not valid');
}
