import { describe, expect, it } from 'vitest';
import { groupCommit } from '../../src/lib/group-commit.js';

/** A run whose batches finish only when the test says so, recording what each batch held. */
function controlledRun() {
  const batches: { key: string; items: number[]; finish: (err?: Error) => void }[] = [];
  const run = (key: string, items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push({
        key,
        items,
        finish: (err) => (err ? reject(err) : resolve(items.map((i) => `${key}:${i * 10}`))),
      });
    });
  return { batches, run };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('groupCommit', () => {
  it('when a key is idle, then a call runs at once, alone', async () => {
    const { batches, run } = controlledRun();
    const call = groupCommit(run, { maxBatch: 10 });
    const p = call('a', 1);
    expect(batches.map((b) => b.items)).toEqual([[1]]);
    batches[0]!.finish();
    expect(await p).toBe('a:10');
  });

  it('when calls arrive while a batch is in flight, then they go together next, each getting its own answer, at most maxBatch at a time', async () => {
    const { batches, run } = controlledRun();
    const call = groupCommit(run, { maxBatch: 3 });
    const first = call('a', 1);
    const later = [2, 3, 4, 5].map((i) => call('a', i));
    const other = call('b', 9); // another key has a lane of its own
    expect(batches.map((b) => [b.key, b.items])).toEqual([
      ['a', [1]],
      ['b', [9]],
    ]);
    batches[0]!.finish();
    await first;
    await tick();
    expect(batches[2]!.items).toEqual([2, 3, 4]);
    batches[2]!.finish();
    await tick();
    expect(batches[3]!.items).toEqual([5]);
    batches[3]!.finish();
    batches[1]!.finish();
    expect(await Promise.all(later)).toEqual(['a:20', 'a:30', 'a:40', 'a:50']);
    expect(await other).toBe('b:90');
  });

  it('when a batch fails, then each of its callers gets the error, and the next batch still runs', async () => {
    const { batches, run } = controlledRun();
    const call = groupCommit(run, { maxBatch: 10 });
    const first = call('a', 1);
    const failing = [call('a', 2), call('a', 3)];
    const results = failing.map((p) => p.catch((e: Error) => e.message));
    batches[0]!.finish();
    await first;
    await tick();
    const after = call('a', 4);
    batches[1]!.finish(new Error('database unavailable'));
    expect(await Promise.all(results)).toEqual(['database unavailable', 'database unavailable']);
    await tick();
    expect(batches[2]!.items).toEqual([4]);
    batches[2]!.finish();
    expect(await after).toBe('a:40');
  });
});
