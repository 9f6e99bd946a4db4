import type { RequestHandler } from 'express';
import { forbidden, unauthorized } from '../../lib/errors.js';
import type { Role } from './api-key.model.js';
import { authenticateKey, type Principal } from './admin.service.js';

declare module 'express-serve-static-core' {
  interface Request {
    auth?: Principal;
  }
}

/** Requires `Authorization: Bearer <api key>`; sets `req.auth`. */
export function authenticate(adminApiKey: string | undefined): RequestHandler {
  return async (req, _res, next) => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) return next(unauthorized());
    const principal = await authenticateKey(m[1]!, adminApiKey);
    if (!principal) return next(unauthorized('the API key is not valid'));
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
