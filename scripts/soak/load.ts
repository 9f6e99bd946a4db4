// The soak's load: a closed loop to measure capacity, an open loop at a fixed arrival rate.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `clients` loops each running `work` back to back for `ms`; resolves to how many completed */
export async function closedLoop(clients: number, ms: number, work: (n: number) => Promise<void>) {
  const end = Date.now() + ms;
  let n = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (Date.now() < end) {
        await work(n++).catch(() => undefined);
        done++;
      }
    }),
  );
  return done;
}

/**
 * Starts `work` at a fixed rate (per second) until `end`, whatever the answers take (an open loop:
 * a slow system meets the same arrivals). With `maxInFlight` started and not finished, an arrival
 * is shed (counted, not sent), so a stalled system cannot exhaust the driver.
 */
export async function openLoop(opts: {
  rate: number;
  end: number;
  firstN: number;
  maxInFlight: number;
  work: (n: number) => Promise<void>;
  onShed: () => void;
}) {
  const start = Date.now();
  const pending = new Set<Promise<void>>();
  let i = 0;
  let shed = 0;
  while (Date.now() < opts.end) {
    const wait = start + (i / opts.rate) * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
    if (Date.now() >= opts.end) break;
    if (pending.size >= opts.maxInFlight) {
      shed++;
      opts.onShed();
    } else {
      const p: Promise<void> = opts
        .work(opts.firstN + i)
        .catch(() => undefined)
        .finally(() => pending.delete(p));
      pending.add(p);
    }
    i++;
  }
  await Promise.allSettled([...pending]);
  return { started: i - shed, shed, lastN: opts.firstN + i };
}
