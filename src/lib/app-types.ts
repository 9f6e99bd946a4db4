import type { Express, Router } from 'express';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { Logger } from './logger.js';

/** What the HTTP app is built from. */
export type AppDeps = {
  config: Config;
  logger: Logger;
  /** fail-fast client connection: rate limits and health */
  redis: Redis;
  /** HMAC key of tracking and unsubscribe links (public tracking routes verify with it) */
  trackingSecret: string;
};

/**
 * How a domain area plugs into the app: `public` mounts unauthenticated routes (forms, tracking),
 * `api` mounts routes under `/api`, after authentication and the JSON body parser.
 */
export type AreaRoutes = {
  name: string;
  public?: (app: Express, deps: AppDeps) => void;
  api?: (api: Router, deps: AppDeps) => void;
};
