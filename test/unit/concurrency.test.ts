import { describe, expect, it } from 'vitest';
import { forEachLimit } from '../../src/lib/concurrency.js';

describe('forEachLimit', () => {
  it('when items are many, then every item runs once with at most `limit` in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const seen: number[] = [];
    await forEachLimit([...Array(25).keys()], 4, async (n) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setImmediate(r));
      seen.push(n);
      inFlight--;
    });
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(25).keys()]);
    expect(most).toBe(4);
  });

  it('when a call fails, then it rejects with that error after the started calls finish', async () => {
    const done: number[] = [];
    await expect(
      forEachLimit([1, 2, 3], 3, async (n) => {
        await new Promise((r) => setImmediate(r));
        if (n === 2) throw new Error('two failed');
        done.push(n);
      }),
    ).rejects.toThrow('two failed');
    expect(done.sort()).toEqual([1, 3]);
    await forEachLimit([], 3, async () => undefined);
  });
});
