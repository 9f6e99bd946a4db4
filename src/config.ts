import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseDuration } from './lib/clock.js';
import type { MongoLimits } from './lib/mongo.js';

/** Durations as API.md writes them: "30s" | "15m" | "2h" | "3d" | "1w". */
export const durationPattern = /^(\d+)(s|m|h|d|w)$/;

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const intFrom = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer between ${min} and ${max}` });
        return z.NEVER;
      }
      return n;
    });

const urlWith = (protocols: string[]) =>
  optionalString.refine(
    (v) => {
      if (v === undefined) return true;
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL (${protocols.join(', ')})` },
  );

const booleanFrom = (def: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const t = v?.trim().toLowerCase();
      if (t === undefined || t === '') return def;
      if (t === 'true' || t === '1') return true;
      if (t === 'false' || t === '0') return false;
      ctx.addIssue({ code: 'custom', message: 'must be true or false' });
      return z.NEVER;
    });

/** Admin keys that appeared in published files: never accepted. */
const publishedAdminKeys = new Set(['change-me-admin-key-0123456789']);

/** A comma-separated list of durations ("5s,5m,30m"), as milliseconds. */
const durationList = (def: string, maxEntries: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const text = v === undefined || v.trim() === '' ? def : v;
      const parts = text.split(',').map((p) => p.trim());
      const ms = parts.map((p) => parseDuration(p));
      const bad = parts.filter((_p, i) => ms[i] === undefined);
      if (bad.length > 0 || parts.length > maxEntries) {
        ctx.addIssue({
          code: 'custom',
          message:
            bad.length > 0
              ? `must be comma-separated durations like "5s,5m,2h" (not ${bad.map((b) => JSON.stringify(b)).join(', ')})`
              : `must list at most ${maxEntries} durations`,
        });
        return z.NEVER;
      }
      return ms as number[];
    });

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: intFrom(3000, 0, 65535),
  PUBLIC_URL: urlWith(['http:', 'https:']),
  MONGODB_URI: urlWith(['mongodb:', 'mongodb+srv:']),
  REDIS_URL: urlWith(['redis:', 'rediss:']),
  /** The PostgreSQL behind the embedded FerretDB (printed by scripts/services.sh): read-serving indexes. */
  EMBEDDED_POSTGRES_URL: urlWith(['postgres:', 'postgresql:']),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, _ . -')
    .default('leadflow'),
  SMTP_URL: urlWith(['smtp:', 'smtps:']),
  /** Longest silence of the SMTP server within a session before the send gives up (outcome unknown after DATA). */
  SMTP_TIMEOUT_MS: intFrom(60_000, 100, 600_000),
  MAIL_FROM: z.string().min(3).default('leadflow <no-reply@localhost>'),
  ADMIN_API_KEY: optionalString
    .refine((v) => v === undefined || v.length >= 16, { message: 'must be at least 16 characters' })
    // a key that was ever published (an old docker-compose default) is no secret: refuse to start
    .refine((v) => v === undefined || !publishedAdminKeys.has(v), {
      message: 'is a published example key; set a secret of your own or leave it unset to generate one',
    }),
  TRACKING_SECRET: optionalString.refine((v) => v === undefined || v.length >= 16, {
    message: 'must be at least 16 characters',
  }),
  DKIM_DOMAIN: optionalString,
  DKIM_SELECTOR: optionalString,
  DKIM_PRIVATE_KEY: optionalString,
  LOG_LEVEL: z.enum(logLevels).default('info'),
  /** Where local state lives: embedded servers' data, the outbox, the generated admin key. */
  DATA_DIR: optionalString,
  /** Largest JSON/form body accepted, in bytes. */
  BODY_LIMIT_BYTES: intFrom(1_000_000, 1024, 50_000_000),
  /** Public endpoints: requests per client per window. */
  RATE_LIMIT_PUBLIC: intFrom(60, 1),
  RATE_LIMIT_WINDOW_SECONDS: intFrom(60, 1),
  /** Website tracking (`/t/e`, `/t/v`): beacons per client address per window. */
  RATE_LIMIT_TRACKING: intFrom(600, 1),
  /** Hosts whose tracked email clicks get a lead token (`lf_t`): comma-separated, `*` for all; unset: none. */
  TRACKING_DOMAINS: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((d) => d.trim().toLowerCase())
        .filter(Boolean),
    )
    .refine((list) => list.every((d) => d === '*' || /^[a-z0-9.-]{1,253}$/.test(d)), {
      message: 'must be comma-separated host names, or *',
    }),
  /** How long SIGTERM waits for in-flight requests and jobs before exiting anyway. */
  SHUTDOWN_TIMEOUT_MS: intFrom(25_000, 100),
  WORKER_CONCURRENCY: intFrom(8, 1, 1000),
  /**
   * How long a scoring writer's per-lead lock lives without renewal (it is renewed every third of
   * this while held): the longest a lead waits after its writer's process was killed.
   */
  SCORING_LOCK_MS: intFrom(15_000, 1_000, 600_000),
  /** Largest CSV accepted by POST /api/imports, in bytes. */
  IMPORT_MAX_BYTES: intFrom(200 * 1024 * 1024, 1024),
  /** Longest CSV line (one record, or one physical line of a multi-line record) an import accepts. */
  IMPORT_MAX_LINE_BYTES: intFrom(1024 * 1024, 1024, 64 * 1024 * 1024),
  /** Marketing emails per lead per FREQUENCY_CAP_WINDOW across all sequences; 0 = no cap. */
  FREQUENCY_CAP_COUNT: intFrom(0, 0, 1000),
  /** MongoDB connections per process; a request waits at most MONGODB_WAIT_QUEUE_TIMEOUT_MS for one. */
  MONGODB_POOL_SIZE: intFrom(50, 1, 1000),
  MONGODB_WAIT_QUEUE_TIMEOUT_MS: intFrom(30_000, 50, 600_000),
  /** Longest wait for one MongoDB reply before the request answers 503 (0 = no limit). */
  MONGODB_SOCKET_TIMEOUT_MS: intFrom(60_000, 0, 3_600_000),
  /** How long to look for a reachable MongoDB server before answering 503. */
  MONGODB_SERVER_SELECTION_TIMEOUT_MS: intFrom(3000, 100, 600_000),
  FREQUENCY_CAP_WINDOW: z
    .string()
    .refine((v) => parseDuration(v) !== undefined, 'must be a duration like "1d"')
    .default('1d'),
  /** Delays between webhook delivery attempts: n durations give n + 1 attempts. */
  WEBHOOK_RETRY_SCHEDULE: durationList('5s,5m,30m,2h,5h,10h,10h', 50),
  /** Allow webhook targets on loopback, private, link-local and other non-public addresses. */
  WEBHOOK_ALLOW_PRIVATE: booleanFrom(false),
  /** How long one webhook attempt may take (connect, send, answer) before it counts as failed. */
  WEBHOOK_TIMEOUT_MS: intFrom(10_000, 100, 120_000),
});

export type Config = {
  env: 'development' | 'production' | 'test';
  port: number;
  publicUrl: string;
  mongodbUri: string | undefined;
  /** driver limits: overload answers 503 with Retry-After instead of hanging or failing with 500 */
  mongo: MongoLimits;
  redisUrl: string | undefined;
  /** set when MONGODB_URI is FerretDB on this PostgreSQL: leadflow adds indexes that serve its reads */
  embeddedPostgresUrl: string | undefined;
  queuePrefix: string;
  smtpUrl: string | undefined;
  /** SMTP socket inactivity limit; connecting and the greeting get at most half of it */
  smtpTimeoutMs: number;
  mailFrom: string;
  adminApiKey: string | undefined;
  trackingSecret: string | undefined;
  dkim: { domainName: string; keySelector: string; privateKey: string } | undefined;
  logLevel: (typeof logLevels)[number];
  rootDir: string;
  dataDir: string;
  outboxDir: string;
  templatesDir: string;
  bodyLimitBytes: number;
  rateLimit: { publicPerWindow: number; windowSeconds: number; trackingPerWindow: number };
  /** hosts whose tracked email clicks carry a lead token to the site (`*`: all); empty: none */
  trackingDomains: string[];
  shutdownTimeoutMs: number;
  workerConcurrency: number;
  /** a scoring writer's per-lead lock lifetime (renewed while held) */
  scoringLockMs: number;
  imports: { maxBytes: number; maxLineBytes: number };
  /** global cap on marketing emails per lead; a capped send is deferred, not dropped */
  frequencyCap: { count: number; windowMs: number } | undefined;
  webhooks: {
    /** delays between attempts, in ms: attempt n + 1 follows attempt n after retryScheduleMs[n - 1] */
    retryScheduleMs: number[];
    allowPrivate: boolean;
    timeoutMs: number;
  };
};

/** Raised when the environment does not parse; the message names every bad key. */
export class ConfigError extends Error {
  constructor(readonly issues: { key: string; message: string }[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.key} ${i.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

// src/config.ts, or dist/src/config.js once built: the repository root either way.
const rootDir = (() => {
  const up = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  return path.basename(up) === 'dist' ? path.dirname(up) : up;
})();

/**
 * Settings from the environment for tools such as the benches: `defaults` fill keys the
 * environment leaves unset, `overrides` win over both.
 */
export function loadConfigWith(
  overrides: Record<string, string | undefined> = {},
  defaults: Record<string, string> = {},
): Config {
  return loadConfig({ ...defaults, ...process.env, ...overrides });
}

/** Parses settings once. The only place in leadflow that reads `process.env`. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ key: String(i.path[0] ?? '(env)'), message: i.message })),
    );
  }
  const e = parsed.data;
  const dkimParts = [e.DKIM_DOMAIN, e.DKIM_SELECTOR, e.DKIM_PRIVATE_KEY];
  if (dkimParts.some(Boolean) && !dkimParts.every(Boolean)) {
    throw new ConfigError([
      { key: 'DKIM_DOMAIN', message: 'DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY go together' },
    ]);
  }
  const dataDir = path.resolve(rootDir, e.DATA_DIR ?? '.data');
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    mongodbUri: e.MONGODB_URI,
    mongo: {
      maxPoolSize: e.MONGODB_POOL_SIZE,
      waitQueueTimeoutMS: e.MONGODB_WAIT_QUEUE_TIMEOUT_MS,
      socketTimeoutMS: e.MONGODB_SOCKET_TIMEOUT_MS,
      serverSelectionTimeoutMS: e.MONGODB_SERVER_SELECTION_TIMEOUT_MS,
    },
    redisUrl: e.REDIS_URL,
    embeddedPostgresUrl: e.EMBEDDED_POSTGRES_URL,
    queuePrefix: e.QUEUE_PREFIX,
    smtpUrl: e.SMTP_URL,
    smtpTimeoutMs: e.SMTP_TIMEOUT_MS,
    mailFrom: e.MAIL_FROM,
    adminApiKey: e.ADMIN_API_KEY,
    trackingSecret: e.TRACKING_SECRET,
    dkim: e.DKIM_DOMAIN
      ? {
          domainName: e.DKIM_DOMAIN,
          keySelector: e.DKIM_SELECTOR!,
          privateKey: e.DKIM_PRIVATE_KEY!.replace(/\\n/g, '\n'),
        }
      : undefined,
    logLevel: e.LOG_LEVEL,
    rootDir,
    dataDir,
    outboxDir: path.join(dataDir, 'outbox'),
    templatesDir: path.join(rootDir, 'templates'),
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    rateLimit: {
      publicPerWindow: e.RATE_LIMIT_PUBLIC,
      windowSeconds: e.RATE_LIMIT_WINDOW_SECONDS,
      trackingPerWindow: e.RATE_LIMIT_TRACKING,
    },
    trackingDomains: e.TRACKING_DOMAINS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    workerConcurrency: e.WORKER_CONCURRENCY,
    scoringLockMs: e.SCORING_LOCK_MS,
    imports: { maxBytes: e.IMPORT_MAX_BYTES, maxLineBytes: e.IMPORT_MAX_LINE_BYTES },
    frequencyCap:
      e.FREQUENCY_CAP_COUNT > 0
        ? { count: e.FREQUENCY_CAP_COUNT, windowMs: parseDuration(e.FREQUENCY_CAP_WINDOW)! }
        : undefined,
    webhooks: {
      retryScheduleMs: e.WEBHOOK_RETRY_SCHEDULE,
      allowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
    },
  };
}

/** A config with both servers known, as every process needs once started. */
export type ReadyConfig = Config & { mongodbUri: string; redisUrl: string };
