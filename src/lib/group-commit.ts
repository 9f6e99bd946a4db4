/**
 * Group commit: calls for the same key made while that key's batch is in flight wait, and go
 * together as the next batch (at most `maxBatch`). An idle key runs a call at once, so a quiet
 * server adds no latency; a busy one turns N concurrent single writes into one bulk write per
 * collection. Each caller gets its own item's answer, or the batch's error.
 */
export function groupCommit<I, O>(
  run: (key: string, items: I[]) => Promise<O[]>,
  opts: { maxBatch: number },
): (key: string, item: I) => Promise<O> {
  type Waiting = { item: I; resolve: (o: O) => void; reject: (err: unknown) => void };
  const lanes = new Map<string, Waiting[]>();

  async function drain(key: string, queue: Waiting[]): Promise<void> {
    while (queue.length) {
      const batch = queue.splice(0, opts.maxBatch);
      try {
        const out = await run(
          key,
          batch.map((w) => w.item),
        );
        batch.forEach((w, i) => w.resolve(out[i]!));
      } catch (err) {
        for (const w of batch) w.reject(err);
      }
    }
    lanes.delete(key);
  }

  return (key, item) =>
    new Promise<O>((resolve, reject) => {
      const queue = lanes.get(key);
      if (queue) {
        queue.push({ item, resolve, reject });
        return;
      }
      const fresh: Waiting[] = [{ item, resolve, reject }];
      lanes.set(key, fresh);
      void drain(key, fresh);
    });
}
