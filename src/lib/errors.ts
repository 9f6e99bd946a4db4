/** One entry of `error.details`: which input was wrong and why. */
export type ErrorDetail = { path: string; message: string };

export type ErrorCode =
  | 'validation_failed'
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

/** Every error leadflow answers on purpose: the status, API.md's code, and a message for people. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (message: string, details?: ErrorDetail[]) =>
  new AppError(400, 'bad_request', message, details);
export const validationFailed = (details: ErrorDetail[], message = 'the request is not valid') =>
  new AppError(400, 'validation_failed', message, details);
export const unauthorized = (message = 'a valid API key is required') =>
  new AppError(401, 'unauthorized', message, undefined, { 'WWW-Authenticate': 'Bearer' });
export const forbidden = (message = 'this key may not do that') => new AppError(403, 'forbidden', message);
export const notFound = (what = 'resource') => new AppError(404, 'not_found', `${what} not found`);
export const conflict = (message: string) => new AppError(409, 'conflict', message);
export const unsupportedMediaType = (expected: string) =>
  new AppError(415, 'unsupported_media_type', `Content-Type must be ${expected}`);
export const rateLimited = (retryAfterSeconds: number) =>
  new AppError(429, 'rate_limited', 'too many requests', undefined, {
    'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))),
  });
export const unavailable = (message = 'a backing service is unavailable; try again shortly') =>
  new AppError(503, 'unavailable', message, undefined, { 'Retry-After': '5' });

/**
 * MongoDB errors that mean "the database is busy or away right now", not "this request is wrong":
 * it cannot be reached or selected, a socket or operation timed out, the pool stayed exhausted
 * (`waitQueueTimeoutMS`), or the server gave up (`maxTimeMS`) or is stepping down / shutting down.
 */
const mongoUnavailableNames =
  /^Mongo(ServerSelection|Network|NetworkTimeout|NotConnected|Topology|TopologyClosed|PoolCleared|PoolClosed|WaitQueueTimeout|OperationTimeout|ServerClosed|ClientClosed)Error$/;
// MaxTimeMSExpired, ExceededTimeLimit, HostUnreachable, HostNotFound, NetworkTimeout,
// ShutdownInProgress, InterruptedAtShutdown, PrimarySteppedDown, NotWritablePrimary,
// NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary, InterruptedDueToReplStateChange
const mongoUnavailableCodes = new Set([50, 262, 6, 7, 89, 91, 11600, 189, 10107, 13435, 13436, 11602]);

/**
 * A MongoDB-compatible server in front of another database (FerretDB on PostgreSQL, the embedded
 * default) answers `InternalError` (code 1) when the database behind it is away: it cannot
 * connect, its connection was cut, or PostgreSQL is starting up or shutting down (SQLSTATE class
 * 57P: operator intervention; 08: connection exception). MongoDB itself never sends these texts.
 * Also the server's fault, not the request's: a FerretDB v1 restarted under load can lose track of
 * a database made before the restart, and its metadata registry then tries to create it again on
 * every write (`relation "_ferretdb_database_metadata" already exists`, SQLSTATE 42P07, from
 * `metadata.(*Registry)`). Seen in loaded test runs; it lasts until FerretDB is restarted again
 * (docs/faults.md). 503, not 500: nothing is wrong with what was sent.
 */
const backendUnavailable =
  /failed to connect to|unexpected EOF|conn closed|connection reset by peer|connection refused|broken pipe|SQLSTATE (57P0[1-4]|08[0-9A-Z]{3})|the database system is (starting up|shutting down|in recovery mode|not yet accepting)|metadata\.\(\*Registry\).*SQLSTATE 42P07/i;

/** True for errors that mean "MongoDB or Redis cannot serve us right now" (answered 503). */
export function isInfrastructureError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const name = err.name ?? '';
  if (mongoUnavailableNames.test(name) || name === 'MongooseServerSelectionError') return true;
  const code = (err as { code?: unknown }).code;
  if (name.startsWith('Mongo') && typeof code === 'number' && mongoUnavailableCodes.has(code)) return true;
  if (/^Mongo(Server|BulkWrite)Error$/.test(name) && code === 1 && backendUnavailable.test(err.message ?? ''))
    return true;
  // a bulk write that failed as a whole (MongoBulkWriteError) carries the cause in errorResponse
  for (const inner of [
    (err as { errorResponse?: unknown }).errorResponse,
    (err as { cause?: unknown }).cause,
  ]) {
    if (inner && inner !== err && isInfrastructureError(inner)) return true;
  }
  const msg = err.message ?? '';
  return (
    /Connection is closed|Command timed out|Stream isn't writeable|enableOfflineQueue|ECONNREFUSED|ECONNRESET|ETIMEDOUT|Reached the max retries per request limit|Client must be connected|client was closed|topology was destroyed|buffering timed out|Timed out while checking out a connection from connection pool|connection pool .* was cleared/i.test(
      msg,
    ) || code === 'ECONNREFUSED'
  );
}
