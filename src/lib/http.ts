import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type RequestHandler, type Request } from 'express';
import { z } from 'zod';
import {
  AppError,
  badRequest,
  isInfrastructureError,
  unsupportedMediaType,
  validationFailed,
  type ErrorDetail,
} from './errors.js';
import type { Logger } from './logger.js';

/** Turns zod issues into API.md's `details`. */
export function zodDetails(error: z.ZodError): ErrorDetail[] {
  return error.issues.flatMap((i) => {
    const at = i.path.map(String);
    // a strict schema's unknown keys: one detail per key, named by its own path
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => ({
        path: [...at, k].join('.'),
        message: 'is not a known field or parameter',
      }));
    }
    return [{ path: at.join('.') || '(body)', message: i.message }];
  });
}

/** Parses `input` with `schema` or throws 400 validation_failed naming every bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, message?: string): z.infer<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw validationFailed(zodDetails(r.error), message);
  return r.data;
}

/** Requires a JSON body on methods that carry one (POST/PUT/PATCH with content). */
export const requireJson: RequestHandler = (req, _res, next) => {
  const hasBody =
    Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (['POST', 'PUT', 'PATCH'].includes(req.method) && hasBody && !req.is('application/json')) {
    next(unsupportedMediaType('application/json'));
    return;
  }
  next();
};

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A body parser `verify` that refuses bodies that are not UTF-8, raw or percent-encoded (`%FF` in
 * a form): decoders would otherwise keep U+FFFD or the escapes themselves as text.
 */
export function requireUtf8(message = 'the body is not valid UTF-8') {
  return (req: Request, _res: unknown, buf: Buffer): void => {
    let text: string;
    try {
      text = fatalUtf8.decode(buf);
    } catch {
      throw badRequest(message);
    }
    if (!text.includes('%') || !req.is('application/x-www-form-urlencoded')) return;
    for (const part of text.split('&')) {
      try {
        decodeURIComponent(part.replace(/\+/g, ' '));
      } catch {
        throw badRequest(message);
      }
    }
  };
}

/** JSON body parser with the configured limit; strict (objects and arrays only). */
export function jsonBody(limitBytes: number): RequestHandler {
  return express.json({ limit: limitBytes, strict: true, type: ['application/json', 'application/*+json'] });
}

type BodyParserError = Error & { type?: string; status?: number; expose?: boolean };

/** Maps body-parser failures to API.md's codes. */
function fromBodyParser(err: BodyParserError): AppError | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return new AppError(413, 'payload_too_large', 'the request body is too large');
    case 'entity.parse.failed':
      return new AppError(400, 'bad_request', 'the body is not valid JSON');
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new AppError(415, 'unsupported_media_type', err.message);
    case 'parameters.too.many':
      return new AppError(413, 'payload_too_large', 'too many form fields');
    case 'request.aborted':
      return new AppError(400, 'bad_request', 'the request was aborted');
    default:
      if (err.status && err.status >= 400 && err.status < 500 && err.expose) {
        return new AppError(err.status, 'bad_request', err.message);
      }
      return undefined;
  }
}

/** Normalises any thrown value into an AppError; unknown failures become 500 with an errorId. */
export function toAppError(err: unknown): { error: AppError; errorId?: string } {
  if (err instanceof AppError) return { error: err };
  if (err instanceof z.ZodError) return { error: validationFailed(zodDetails(err)) };
  if (err instanceof Error) {
    const mapped = fromBodyParser(err as BodyParserError);
    if (mapped) return { error: mapped };
    if (isInfrastructureError(err)) {
      return {
        error: new AppError(
          503,
          'unavailable',
          'a backing service is unavailable; try again shortly',
          undefined,
          {
            'Retry-After': '5',
          },
        ),
      };
    }
    // express could not decode a path parameter (`/api/leads/%FF`): bad input, not a failure
    if (err instanceof URIError) {
      return { error: new AppError(400, 'bad_request', 'a path segment is not valid URL-encoded UTF-8') };
    }
    if (err.name === 'CastError' || err.name === 'BSONError') {
      return { error: new AppError(404, 'not_found', 'resource not found') };
    }
  }
  const errorId = randomUUID();
  return { error: new AppError(500, 'internal', `internal error; quote errorId ${errorId}`), errorId };
}

/** The single error handler: API.md's error shape for every failure. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const { error, errorId } = toAppError(err);
    const log = (req as Request & { log?: Logger }).log ?? logger;
    if (errorId) log.error({ err, errorId }, 'unhandled error');
    else if (error.status >= 500) log.warn({ err, status: error.status }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    for (const [k, v] of Object.entries(error.headers ?? {})) res.setHeader(k, v);
    res.status(error.status).json({
      error: {
        code: error.code,
        message: error.message,
        ...(error.details ? { details: error.details } : {}),
        ...(errorId ? { errorId } : {}),
      },
    });
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new AppError(404, 'not_found', `no route for ${req.method} ${req.path}`));
};

/** `?limit=` as API.md defines it (default 50, max 500). */
export const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});

/** Query details: an unknown parameter is named by itself (`staus`, `email[$ne]`), not the whole query. */
function queryDetails(error: z.ZodError): ErrorDetail[] {
  return error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ path: k, message: 'is not a known query parameter' }))
      : [{ path: i.path.map(String).join('.') || '(query)', message: i.message }],
  );
}

/**
 * The one way routes read `req.query`: strict (an unknown or malformed parameter is
 * `400 validation_failed` naming it, never ignored). Give the accepted parameters as a zod shape or
 * object; `{}` accepts none. With express' simple query parser, `?email[$ne]=x` is the unknown
 * parameter `email[$ne]`, and a repeated parameter is an array, which a string schema refuses.
 */
export function parseQuery<T extends z.ZodRawShape>(
  shape: T | z.ZodObject<T>,
  query: unknown,
): z.infer<z.ZodObject<T>> {
  const schema = shape instanceof z.ZodObject ? shape.strict() : z.strictObject(shape);
  const r = schema.safeParse(query ?? {});
  if (!r.success) throw validationFailed(queryDetails(r.error), 'the query is not valid');
  return r.data as z.infer<z.ZodObject<T>>;
}
