import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * One writer per lead: a short Redis lock per lead id (SET NX PX), taken for a whole batch in one
 * round trip. Only the holder writes a lead's ledger and score; leads held elsewhere are handed
 * back to be retried later. The ledger's `_id`s keep even a lost lock from double-counting.
 */
const ttlMs = 120_000;
const release = `
for i, k in ipairs(KEYS) do
  if redis.call('get', k) == ARGV[1] then redis.call('del', k) end
end
return 1`;

export type LeadLocks = { held: string[]; busy: string[]; release: () => Promise<void> };

export async function lockLeads(redis: Redis, prefix: string, leadIds: string[]): Promise<LeadLocks> {
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
  return {
    held,
    busy,
    release: async () => {
      if (heldKeys.length) await redis.eval(release, heldKeys.length, ...heldKeys, token);
    },
  };
}
