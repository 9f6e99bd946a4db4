import express, { type Request, type Response, type NextFunction } from 'express';
import type { AppDeps, AreaRoutes } from '../../lib/app-types.js';
import { notFound } from '../../lib/errors.js';
import { parseInput } from '../../lib/http.js';
import { rateLimit } from '../../lib/rate-limit.js';
import { clock } from '../../lib/clock.js';
import { allow } from '../admin/index.js';
import { signLeadToken, wantsLeadToken, withLeadToken } from '../events/index.js';
import { suppressionInput } from './email.schemas.js';
import { suppressAddress } from './email.service.js';
import { recordClick, recordOpen, unsubscribeBySend } from './tracking.service.js';
import { renderPage } from './pages.js';
import { verifyToken, type TokenPayload } from './tokens.js';

// the smallest transparent GIF
const pixel = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

type Handler = (req: Request, res: Response) => Promise<void>;
const wrap = (fn: Handler) => (req: Request, res: Response, next: NextFunction) => {
  fn(req, res).catch(next);
};

function tokenOf<K extends TokenPayload['kind']>(
  deps: AppDeps,
  req: Request,
  kind: K,
): Extract<TokenPayload, { kind: K }> | undefined {
  const raw = req.params.token;
  const payload = typeof raw === 'string' ? verifyToken(deps.trackingSecret, raw) : undefined;
  return payload?.kind === kind ? (payload as Extract<TokenPayload, { kind: K }>) : undefined;
}

/** Tracking gets a wider per-client allowance than the unsubscribe pages. */
function limiters(deps: AppDeps) {
  const { config, logger } = deps;
  const limiter = (name: string, limit: number) =>
    rateLimit({
      redis: deps.redis,
      prefix: `${config.queuePrefix}:${name}`,
      limit,
      windowSeconds: config.rateLimit.windowSeconds,
      logger,
    });
  // Mail providers fetch images and scan links from a few proxy addresses.
  return {
    trackLimit: limiter('track', config.rateLimit.publicPerWindow * 10),
    pageLimit: limiter('unsub', config.rateLimit.publicPerWindow),
  };
}

function publicRoutes(app: express.Express, deps: AppDeps): void {
  trackingRoutes(app, deps);
  unsubscribeRoutes(app, deps);
}

/** The open pixel and tracked links. */
function trackingRoutes(app: express.Express, deps: AppDeps): void {
  const { config, logger } = deps;
  const { trackLimit } = limiters(deps);

  app.get(
    '/t/o/:token',
    trackLimit,
    wrap(async (req, res) => {
      const t = tokenOf(deps, req, 'open');
      if (!t) throw notFound('link');
      // the pixel is served even if recording fails: a mail client must never see an error
      await recordOpen(t.sendId).catch((err: unknown) => logger.error({ err }, 'recording an open failed'));
      res
        .status(200)
        .type('image/gif')
        .setHeader('Cache-Control', 'no-store, no-cache, must-revalidate, private')
        .send(pixel);
    }),
  );

  app.get(
    '/t/c/:token',
    trackLimit,
    wrap(async (req, res) => {
      const t = tokenOf(deps, req, 'click');
      if (!t) throw notFound('link');
      // the person reaches the link even if recording fails
      const leadId = await recordClick(t.sendId, t.url).catch((err: unknown) => {
        logger.error({ err }, 'recording a click failed');
        return undefined;
      });
      // on the operator's own sites, the click makes the visitor known as the lead (website tracking)
      const to =
        leadId && wantsLeadToken(t.url, config.trackingDomains)
          ? withLeadToken(t.url, signLeadToken(deps.trackingSecret, leadId, clock.now().getTime()))
          : t.url;
      res.setHeader('Cache-Control', 'no-store');
      res.redirect(302, to);
    }),
  );
}

/** The unsubscribe page and its confirm / one-click POST. */
function unsubscribeRoutes(app: express.Express, deps: AppDeps): void {
  const { config } = deps;
  const { pageLimit } = limiters(deps);
  const form = express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 20 });
  const sendPage = async (
    res: Response,
    status: number,
    name: Parameters<typeof renderPage>[1],
    title: string,
    ctx = {},
  ) => {
    const html = await renderPage(config.templatesDir, name, title, ctx);
    res.status(status).type('html').setHeader('Cache-Control', 'no-store').send(html);
  };

  app.get(
    '/u/:token',
    pageLimit,
    wrap(async (req, res) => {
      if (!tokenOf(deps, req, 'unsubscribe')) return sendPage(res, 404, 'link-invalid', 'Link not valid');
      await sendPage(res, 200, 'unsubscribe', 'Unsubscribe', { action: req.originalUrl });
    }),
  );

  // A form's confirm button and RFC 8058 one-click (body `List-Unsubscribe=One-Click`) both land here.
  app.post(
    '/u/:token',
    pageLimit,
    form,
    wrap(async (req, res) => {
      const t = tokenOf(deps, req, 'unsubscribe');
      if (!t) return sendPage(res, 404, 'link-invalid', 'Link not valid');
      const { found } = await unsubscribeBySend(t.sendId);
      if (!found) return sendPage(res, 404, 'link-invalid', 'Link not valid');
      await sendPage(res, 200, 'unsubscribed', 'Unsubscribed');
    }),
  );
}

export const emailRoutes: AreaRoutes = {
  name: 'email',
  public: publicRoutes,
  api(api) {
    api.post(
      '/suppressions',
      allow('marketing'),
      wrap(async (req, res) => {
        const input = parseInput(suppressionInput, req.body);
        const { created, leadIds } = await suppressAddress(input.email, input.reason);
        res.status(201).json({ email: input.email, reason: input.reason, created, leadIds });
      }),
    );
  },
};
