import { createHash } from 'node:crypto';
import { conflict } from '../../lib/errors.js';
import { isDuplicateKey } from '../../lib/mongo.js';
import { clock } from '../../lib/clock.js';
import { IdempotencyKey, idempotencyTtlMs } from './idempotency.model.js';

const abandonedAfterMs = 60_000;

export type StoredAnswer = { status: number; body: unknown };

/** A stable hash of a JSON body (object keys sorted), to tell a true repeat from a reused key. */
export function hashRequest(body: unknown): string {
  const canon = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canon)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v as object)
              .sort()
              .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canon(body)))
    .digest('hex');
}

/**
 * Runs `fn` once per key: the first caller claims the key and stores the answer; a repeat with the
 * same body gets the stored answer; another body, or a repeat while the first is still running,
 * is 409. A failed first attempt releases the key so the client can retry.
 */
export async function withIdempotency(
  key: string,
  body: unknown,
  fn: () => Promise<StoredAnswer>,
): Promise<StoredAnswer & { replayed: boolean }> {
  const requestHash = hashRequest(body);
  try {
    await IdempotencyKey.create({ key, requestHash });
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const prior = await IdempotencyKey.findOne({ key }).lean();
    if (prior && clock.now().getTime() - prior.createdAt.getTime() > idempotencyTtlMs) {
      // expired: release it; the retry claims it afresh (the unique index still picks one owner)
      await IdempotencyKey.deleteOne({ _id: prior._id, createdAt: prior.createdAt });
      return withIdempotency(key, body, fn);
    }
    if (!prior) throw conflict('a request with this Idempotency-Key was just released; retry');
    if (prior.requestHash !== requestHash) {
      throw conflict('this Idempotency-Key was used with a different request body');
    }
    if (prior.state !== 'done') {
      // a claim left pending by a crashed process is released after a minute
      if (clock.now().getTime() - prior.createdAt.getTime() > abandonedAfterMs) {
        await IdempotencyKey.deleteOne({ _id: prior._id, state: 'pending' });
        return withIdempotency(key, body, fn);
      }
      throw conflict('a request with this Idempotency-Key is still in progress');
    }
    return { status: prior.status!, body: prior.body, replayed: true };
  }
  let answer: StoredAnswer;
  try {
    answer = await fn();
  } catch (err) {
    await IdempotencyKey.deleteOne({ key }).catch(() => undefined);
    throw err;
  }
  await IdempotencyKey.updateOne(
    { key },
    { $set: { state: 'done', status: answer.status, body: answer.body } },
  );
  return { ...answer, replayed: false };
}

/** Deletes claims older than the honoured window (the maintenance worker may call it). */
export async function purgeIdempotencyKeys(): Promise<number> {
  const cutoff = new Date(clock.now().getTime() - idempotencyTtlMs);
  return (await IdempotencyKey.deleteMany({ createdAt: { $lt: cutoff } })).deletedCount;
}
