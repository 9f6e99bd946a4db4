import { createHash, createHmac, randomBytes } from 'node:crypto';
import type { CookieOptions, NextFunction, Request, RequestHandler, Response } from 'express';
import type { AppDeps } from '../lib/app-types.js';
import { clock } from '../lib/clock.js';
import { authenticateKey, hashKey, principalForKeyHash, type Principal } from '../modules/admin/index.js';
import { WebSession } from './session.model.js';

export const SESSION_COOKIE = 'lf_session';
const SESSION_HOURS = 12;

declare module 'express-serve-static-core' {
  interface Request {
    /** the signed-in web session (set by `requireSession`) */
    webSession?: { id: string; principal: Principal };
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The cookie-signing secret, derived from the tracking secret every process shares. */
export function cookieSecret(deps: AppDeps): string {
  return createHmac('sha256', deps.trackingSecret).update('leadflow web session cookie').digest('hex');
}

export function sessionCookieOptions(deps: AppDeps): CookieOptions {
  return {
    httpOnly: true,
    sameSite: 'lax',
    secure: deps.config.publicUrl.startsWith('https:'),
    signed: true,
    path: '/',
    maxAge: SESSION_HOURS * 3600_000,
  };
}

/** Signs in with an API key: a new session row and its cookie; undefined for a wrong key. */
export async function signIn(deps: AppDeps, res: Response, key: string): Promise<Principal | undefined> {
  const principal = await authenticateKey(key, deps.config.adminApiKey);
  if (!principal) return undefined;
  const token = randomBytes(32).toString('base64url');
  await WebSession.create({
    _id: sha256(token),
    keyHash: hashKey(key),
    expiresAt: new Date(clock.now().getTime() + SESSION_HOURS * 3600_000),
  });
  res.cookie(SESSION_COOKIE, token, sessionCookieOptions(deps));
  return principal;
}

function tokenOf(req: Request): string | undefined {
  const t = (req.signedCookies as Record<string, unknown> | undefined)?.[SESSION_COOKIE];
  return typeof t === 'string' && /^[A-Za-z0-9_-]{43}$/.test(t) ? t : undefined;
}

/** The session id a request carries (for CSRF binding), whether or not it is still valid. */
export function sessionIdOf(req: Request): string | undefined {
  const t = tokenOf(req);
  return t ? sha256(t) : undefined;
}

export async function signOut(deps: AppDeps, req: Request, res: Response): Promise<void> {
  const id = sessionIdOf(req);
  if (id) await WebSession.deleteOne({ _id: id });
  const { maxAge: _drop, ...opts } = sessionCookieOptions(deps);
  res.clearCookie(SESSION_COOKIE, opts);
}

/** Pages need a live session: expired, signed-out or revoked-key sessions go to the login page. */
export function requireSession(deps: AppDeps): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const id = sessionIdOf(req);
    const row = id ? await WebSession.findById(id).lean() : null;
    const principal =
      row && row.expiresAt > clock.now()
        ? await principalForKeyHash(row.keyHash, deps.config.adminApiKey)
        : undefined;
    if (!row || !principal) {
      if (row) await WebSession.deleteOne({ _id: row._id });
      if (req.method === 'GET') {
        const next = req.originalUrl.startsWith('/app') ? `?next=${encodeURIComponent(req.originalUrl)}` : '';
        res.redirect(303, `/app/login${next}`);
      } else res.status(401).type('text/plain').send('Your session has ended: sign in again.');
      return;
    }
    req.webSession = { id: row._id, principal };
    req.auth = principal;
    next();
  };
}

/** Where to go after signing in: only a path inside the app (no open redirect). */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/app(\/[A-Za-z0-9/_\-.?=&%]*)?$/.test(next) && !next.includes('//')
    ? next
    : '/app';
}
