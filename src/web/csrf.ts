import { randomBytes } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { doubleCsrf } from 'csrf-csrf';
import type { AppDeps } from '../lib/app-types.js';
import { cookieSecret, sessionIdOf } from './session.js';

const PRE_COOKIE = 'lf_pre';

/**
 * CSRF protection for every state-changing form (csrf-csrf's signed double-submit cookie), bound
 * to the session, or before sign-in to a random pre-session cookie (login CSRF). Forms carry the
 * token in a hidden `_csrf` field; htmx requests send it as `X-CSRF-Token`.
 */
export function csrfProtection(deps: AppDeps) {
  const secure = deps.config.publicUrl.startsWith('https:');
  const { doubleCsrfProtection, generateCsrfToken } = doubleCsrf({
    getSecret: () => cookieSecret(deps),
    getSessionIdentifier: (req) => sessionIdOf(req) ?? String(req.cookies?.[PRE_COOKIE] ?? ''),
    cookieName: secure ? '__Host-lf_csrf' : 'lf_csrf',
    cookieOptions: { sameSite: 'lax', secure, httpOnly: true, path: '/' },
    getCsrfTokenFromRequest: (req) => {
      const field = (req.body as Record<string, unknown> | undefined)?._csrf;
      return typeof field === 'string' ? field : req.headers['x-csrf-token'];
    },
  });
  /** Gives an anonymous browser a pre-session id to bind the login form's token to. */
  const preSession: RequestHandler = (req, res, next) => {
    if (!sessionIdOf(req) && !/^[A-Za-z0-9_-]{22}$/.test(String(req.cookies?.[PRE_COOKIE] ?? ''))) {
      const id = randomBytes(16).toString('base64url');
      req.cookies = { ...req.cookies, [PRE_COOKIE]: id };
      res.cookie(PRE_COOKIE, id, { httpOnly: true, sameSite: 'lax', secure, path: '/' });
    }
    next();
  };
  return {
    protect: doubleCsrfProtection,
    token: (req: Request, res: Parameters<typeof generateCsrfToken>[1]) =>
      generateCsrfToken(req, res, { overwrite: false }),
    preSession,
  };
}
