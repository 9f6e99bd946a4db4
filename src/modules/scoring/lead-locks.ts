import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * One writer per lead: a short Redis lock per lead id (SET NX PX), taken for a whole batch in one
 * round trip. Only the holder writes a lead's ledger and score; leads held elsewhere are handed
 * back to be retried later. The holder renews its locks every third of their lifetime, so a long
 * batch keeps them while a killed writer's locks lapse within `ttlMs`. The ledger's `_id`s keep
 * even a lost lock from double-counting.
 */
const release = `
for i, k in ipairs(KEYS) do
  if redis.call('get', k) == ARGV[1] then redis.call('del', k) end
end
return 1`;
const renew = `
for i, k in ipairs(KEYS) do
  if redis.call('get', k) == ARGV[1] then redis.call('pexpire', k, ARGV[2]) end
end
return 1`;

export type LeadLocks = { held: string[]; busy: string[]; release: () => Promise<void> };

export async function lockLeads(
  redis: Redis,
  prefix: string,
  leadIds: string[],
  ttlMs = 15_000,
): Promise<LeadLocks> {
  const token = randomUUID();
  const unique = [...new Set(leadIds)];
  const keys = unique.map((id) => `${prefix}:scoring-lock:${id}`);
  const pipe = redis.pipeline();
  for (const k of keys) pipe.set(k, token, 'PX', ttlMs, 'NX');
  const results = (await pipe.exec()) ?? [];
  const held: string[] = [];
  const busy: string[] = [];
  unique.forEach((id, i) => (results[i]?.[1] === 'OK' ? held : busy).push(id));
  const heldKeys = keys.filter((_, i) => results[i]?.[1] === 'OK');
  const renewal = heldKeys.length
    ? setInterval(
        () => void redis.eval(renew, heldKeys.length, ...heldKeys, token, ttlMs).catch(() => undefined),
        Math.max(200, Math.floor(ttlMs / 3)),
      )
    : undefined;
  renewal?.unref();
  return {
    held,
    busy,
    release: async () => {
      clearInterval(renewal);
      if (heldKeys.length) await redis.eval(release, heldKeys.length, ...heldKeys, token);
    },
  };
}

/**
 * Work for a lead that another writer holds waits in the lead's mailbox (a Redis list of ids);
 * whoever releases a lead checks its mailbox and takes what waits there, so a hot lead's events
 * are scored in ever larger batches instead of jobs spinning on its lock. Ids stranded by a crash
 * are found by the reconciler (their events stay unscored in MongoDB).
 */
const mailboxTtlSeconds = 86_400;
const mailbox = (prefix: string, leadId: string) => `${prefix}:scoring-mailbox:${leadId}`;

export async function postToMailboxes(
  redis: Redis,
  prefix: string,
  byLead: Map<string, string[]>,
): Promise<void> {
  if (byLead.size === 0) return;
  const pipe = redis.pipeline();
  for (const [leadId, ids] of byLead) {
    if (ids.length === 0) continue;
    pipe.rpush(mailbox(prefix, leadId), ...ids);
    pipe.expire(mailbox(prefix, leadId), mailboxTtlSeconds);
  }
  await pipe.exec();
}

/** Takes (atomically: read and delete) everything waiting in these leads' mailboxes. */
export async function takeFromMailboxes(redis: Redis, prefix: string, leadIds: string[]): Promise<string[]> {
  if (leadIds.length === 0) return [];
  const multi = redis.multi();
  for (const id of leadIds) {
    multi.lrange(mailbox(prefix, id), 0, -1);
    multi.del(mailbox(prefix, id));
  }
  const res = (await multi.exec()) ?? [];
  return res.filter((_, i) => i % 2 === 0).flatMap(([, v]) => (v as string[] | null) ?? []);
}
