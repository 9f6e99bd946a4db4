import path from 'node:path';
import { createRequire } from 'node:module';
import cookieParser from 'cookie-parser';
import express, { type ErrorRequestHandler, type Express } from 'express';
import type { AppDeps } from '../lib/app-types.js';
import { requireUtf8, toAppError } from '../lib/http.js';
import { csrfProtection } from './csrf.js';
import { dashboardPages } from './pages/dashboard.js';
import { leadPages } from './pages/leads.js';
import { formPages } from './pages/forms.js';
import { sequencePages } from './pages/sequences.js';
import { operationsPages } from './pages/operations.js';
import { scoringPages } from './pages/scoring.js';
import { salesPages } from './pages/sales.js';
import { cookieSecret, requireSession, safeNext, signIn, signOut } from './session.js';
import { page, type WebDeps } from './page.js';
import { renderView } from './views.js';
import { scoringFormBody } from './scoring-form-body.js';

const require = createRequire(import.meta.url);
const htmxFile = require.resolve('htmx.org/dist/htmx.min.js');

/** Pages answer errors as pages (a 4xx names the problem; a 500 gives the errorId of the log). */
function webErrorHandler(deps: AppDeps): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const { error, errorId } = toAppError(err);
    if (errorId) deps.logger.error({ err, errorId }, 'web page failed');
    if (res.headersSent) return void res.end();
    const csrf = (err as { code?: string }).code === 'EBADCSRFTOKEN';
    const status = csrf ? 403 : error.status;
    const message = csrf
      ? 'This form has expired or did not come from leadflow. Reload the page and try again.'
      : error.message;
    renderView(
      deps.config.templatesDir,
      res,
      'error',
      { title: `Error ${status}`, status, message, details: error.details, principal: req.auth },
      { status, fragment: req.get('HX-Request') === 'true' },
    ).catch(() => res.status(status).type('text/plain').send(message));
  };
}

/** The pages' form bodies: urlencoded, bounded, and UTF-8 only. */
const formBody = express.urlencoded({
  extended: false,
  limit: '256kb',
  parameterLimit: 2000,
  verify: requireUtf8('the form is not valid UTF-8'),
});

/** The server-rendered web app under `/app` (API.md "Web app"); `GET /` leads there. */
export function mountWebApp(app: Express, deps: AppDeps): void {
  const { protect, token, preSession } = csrfProtection(deps);
  const web: WebDeps = { ...deps, csrfToken: token };
  const router = express.Router();
  router.use(cookieParser(cookieSecret(deps)));
  // the scoring rules form has six inputs per row: its own (still bounded) parser
  router.use((req, res, next) =>
    (req.method === 'POST' && req.path === '/scoring/form' ? scoringFormBody : formBody)(req, res, next),
  );
  router.use(
    '/static',
    express.static(path.join(import.meta.dirname, 'static'), { maxAge: '1h', index: false }),
  );
  router.get('/static/htmx.min.js', (_req, res) =>
    res.setHeader('Cache-Control', 'public, max-age=86400').sendFile(htmxFile),
  );

  router.get(
    '/login',
    preSession,
    page(async (req, res) => {
      await renderView(deps.config.templatesDir, res, 'login', {
        title: 'Sign in',
        csrf: token(req, res),
        next: safeNext(req.query.next),
      });
    }),
  );
  router.post(
    '/login',
    preSession,
    protect,
    page(async (req, res) => {
      const key = typeof req.body?.key === 'string' ? req.body.key.trim() : '';
      const principal = key ? await signIn(deps, res, key) : undefined;
      if (!principal) {
        await renderView(
          deps.config.templatesDir,
          res,
          'login',
          {
            title: 'Sign in',
            csrf: token(req, res),
            next: safeNext(req.body?.next),
            error: 'That key is not valid (or has been revoked).',
          },
          { status: 401 },
        );
        return;
      }
      res.redirect(303, safeNext(req.body?.next));
    }),
  );

  const authed = express.Router();
  authed.use(requireSession(deps), protect);
  authed.post(
    '/logout',
    page(async (req, res) => {
      await signOut(deps, req, res);
      res.redirect(303, '/app/login');
    }),
  );
  for (const mount of [
    dashboardPages,
    leadPages,
    formPages,
    sequencePages,
    scoringPages,
    salesPages,
    operationsPages,
  ])
    mount(authed, web);
  router.use(authed);
  router.use(webErrorHandler(deps));

  app.get('/', (_req, res) => res.redirect(302, '/app'));
  app.use('/app', router);
}
