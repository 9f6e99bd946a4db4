import type { RequestHandler } from 'express';
import { AppError, forbidden, unauthorized } from '../../lib/errors.js';
import type { Role } from './api-key.model.js';
import { authenticateKey, type Principal } from './admin.service.js';

declare module 'express-serve-static-core' {
  interface Request {
    auth?: Principal;
  }
}

/** The key in `Authorization: Bearer <key>`, or, where allowed, HTTP Basic with the key as password. */
function presentedKey(header: string, basic: boolean): string | undefined {
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer) return bearer[1];
  const b = basic ? /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header) : null;
  if (!b) return undefined;
  const decoded = Buffer.from(b[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

/**
 * Requires an API key; sets `req.auth`. `basic` also accepts HTTP Basic (any user name, the key as
 * password) so a browser can open operator pages such as /admin/queues with its own login prompt.
 */
export function authenticate(
  adminApiKey: string | undefined,
  opts: { basic?: boolean } = {},
): RequestHandler {
  const challenge = (err: AppError) =>
    opts.basic
      ? new AppError(err.status, err.code, err.message, undefined, {
          'WWW-Authenticate': 'Basic realm="leadflow", charset="UTF-8"',
        })
      : err;
  return async (req, _res, next) => {
    const key = presentedKey(req.headers.authorization ?? '', opts.basic ?? false);
    if (!key) return next(challenge(unauthorized()));
    const principal = await authenticateKey(key, adminApiKey);
    if (!principal) return next(challenge(unauthorized('the API key is not valid')));
    req.auth = principal;
    next();
  };
}

/** Lets through the given roles; `admin` may do everything. */
export function allow(...allowed: Role[]): RequestHandler {
  return (req, _res, next) => {
    const role = req.auth?.role;
    if (!role) return next(unauthorized());
    if (role === 'admin' || allowed.includes(role)) return next();
    next(forbidden(`the ${role} role may not do this`));
  };
}
