import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { AppDeps, AreaRoutes } from '../../lib/app-types.js';
import { clock } from '../../lib/clock.js';
import { badRequest, unsupportedMediaType } from '../../lib/errors.js';
import { counter } from '../../lib/metrics.js';
import { rateLimit } from '../../lib/rate-limit.js';
import { beaconLimitBytes, parseBeacon, verifyUtf8 } from './tracking.schemas.js';
import { recordPageView } from './tracking.service.js';
import { trackingScript } from './tracking.snippet.js';
import { newVisitorId, verifyLeadToken, verifyVisitorId } from './visitor.tokens.js';

const beacons = counter('leadflow_tracking_beacons_total', 'Website page-view beacons by outcome', [
  'outcome',
]);

type Handler = (req: Request, res: Response) => Promise<void>;
const wrap = (fn: Handler) => (req: Request, res: Response, next: NextFunction) => {
  fn(req, res).catch(next);
};

/** The browser asked not to be tracked (Do Not Track, Global Privacy Control): nothing is recorded. */
function optedOut(req: Request): boolean {
  return req.get('DNT') === '1' || req.get('Sec-GPC') === '1';
}

const beaconTypes = ['text/plain', 'application/x-www-form-urlencoded', 'application/json'];

function beaconParsers(): RequestHandler[] {
  const opts = { limit: beaconLimitBytes, verify: verifyUtf8 };
  return [
    (req, _res, next) => {
      const hasBody =
        Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
      if (!hasBody) return next(badRequest('the beacon has no body'));
      if (!req.is(beaconTypes)) return next(unsupportedMediaType(beaconTypes.join(', ')));
      next();
    },
    express.text({ ...opts, type: 'text/plain' }),
    express.urlencoded({ ...opts, extended: false, parameterLimit: 20 }),
    express.json({ ...opts, strict: true }),
  ];
}

function publicRoutes(app: express.Express, deps: AppDeps): void {
  const { config, logger, trackingSecret } = deps;
  const limiter = rateLimit({
    redis: deps.redis,
    prefix: `${config.queuePrefix}:web`,
    limit: config.rateLimit.trackingPerWindow,
    windowSeconds: config.rateLimit.windowSeconds,
    logger,
  });
  const script = trackingScript(config.publicUrl);

  app.get('/t/js', (_req, res) => {
    // a site on another origin loads it; helmet's default would refuse that
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    res.setHeader('Cache-Control', 'public, max-age=3600, stale-while-revalidate=86400');
    res.type('application/javascript; charset=utf-8').send(script);
  });

  // a fresh signed visitor id, for a browser that has none (read by fetch from the site's page)
  app.get('/t/v', limiter, (_req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
    res.setHeader('Cache-Control', 'no-store');
    res.json({ vid: newVisitorId(trackingSecret) });
  });

  // fetch() with application/json asks first; sendBeacon's text/plain does not need to
  app.options('/t/e', (_req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Methods', 'POST');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type');
    res.setHeader('Access-Control-Max-Age', '600');
    res.status(204).end();
  });

  app.post(
    '/t/e',
    limiter,
    (req, res, next) => {
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Cache-Control', 'no-store');
      if (!optedOut(req)) return next();
      beacons.inc({ outcome: 'opted_out' });
      res.status(204).end();
    },
    ...beaconParsers(),
    wrap(async (req, res) => {
      const b = parseBeacon(req.body);
      const visitor = verifyVisitorId(trackingSecret, b.v);
      if (!visitor) {
        beacons.inc({ outcome: 'unsigned_visitor' });
        res.status(204).end();
        return;
      }
      const at = clock.now();
      const leadId = b.t ? verifyLeadToken(trackingSecret, b.t, at.getTime()) : undefined;
      const out = await recordPageView({
        visitor,
        pageViewId: b.id,
        url: new URL(b.url),
        title: b.title,
        referrer: b.referrer,
        at,
        leadId,
      });
      beacons.inc({ outcome: out.leadId ? 'lead' : 'anonymous' });
      res.status(204).end();
    }),
  );
}

/** `GET /t/js` (the snippet), `GET /t/v` (a signed visitor id), `POST /t/e` (the page-view beacon). */
export const trackingRoutes: AreaRoutes = { name: 'tracking', public: publicRoutes };
