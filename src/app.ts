import express, { type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { randomUUID } from 'node:crypto';
import type { AppDeps } from './lib/app-types.js';
import { areas } from './modules/areas.js';
import { mountWebApp } from './web/web.routes.js';
import { errorHandler, jsonBody, notFoundHandler, requireJson } from './lib/http.js';
import { httpDuration } from './lib/metrics.js';
import {
  allow,
  authenticate,
  healthRoutes,
  keyRoutes,
  metricsRoutes,
  queuesBoard,
} from './modules/admin/index.js';

const requestIdPattern = /^[A-Za-z0-9._-]{1,100}$/;

/** The express app, without listening: tests drive it in-process with supertest. */
export function buildApp(deps: AppDeps): Express {
  const { config, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.set('query parser', 'simple');
  app.use(
    pinoHttp({
      logger,
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && requestIdPattern.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      customLogLevel: (_req, res, err) =>
        err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug',
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
    }),
  );
  app.use((req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      httpDuration.observe(
        { method: req.method, route, status: String(res.statusCode) },
        Number(process.hrtime.bigint() - start) / 1e9,
      );
    });
    next();
  });
  // No inline script anywhere (the web app's scripts are files under /app/static); on plain http
  // (local runs) the browser must not be told to upgrade its requests to https.
  const https = config.publicUrl.startsWith('https:');
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          'form-action': null,
          'frame-src': ["'self'"],
          ...(https ? {} : { 'upgrade-insecure-requests': null }),
        },
      },
      ...(https ? {} : { strictTransportSecurity: false }),
    }),
  );

  app.use(healthRoutes(deps.redis));
  for (const area of areas) area.public?.(app, deps);

  const api = express.Router();
  api.use(requireJson, jsonBody(config.bodyLimitBytes), authenticate(config.adminApiKey));
  api.use('/keys', keyRoutes());
  for (const area of areas) area.api?.(api, deps);
  app.use('/api', api);
  app.use('/metrics', authenticate(config.adminApiKey), metricsRoutes());
  app.use(
    '/admin/queues',
    authenticate(config.adminApiKey, { basic: true }),
    allow('admin'),
    queuesBoard('/admin/queues'),
  );

  mountWebApp(app, deps);

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
