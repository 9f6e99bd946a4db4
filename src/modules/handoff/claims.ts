import { randomUUID } from 'node:crypto';
import { isDuplicateKey } from '../../lib/mongo.js';
import { HandoffClaim } from './handoff.model.js';

/**
 * Claims `id` with `value`: the first insert wins and every later caller gets the winner's value.
 * An insert whose answer was lost (a timeout, a driver retry meeting its own write) is recognised
 * by its owner token, so the caller that in fact won is told so.
 */
export async function claimOnce<T>(id: string, value: T): Promise<{ won: boolean; value: T }> {
  const owner = randomUUID();
  try {
    await HandoffClaim.collection.insertOne({ _id: id, value, owner, createdAt: new Date() } as never);
    return { won: true, value };
  } catch (err) {
    const held = await HandoffClaim.findById(id).lean<{ owner: string; value: T }>();
    if (held) return { won: held.owner === owner, value: held.value };
    if (isDuplicateKey(err)) throw new Error(`claim ${id} refused but not found`, { cause: err });
    throw err;
  }
}

/** The value of a claim, if it was taken. */
export async function readClaim<T>(id: string): Promise<T | undefined> {
  return (await HandoffClaim.findById(id).lean<{ value: T }>())?.value;
}
