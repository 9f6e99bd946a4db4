/**
 * Polls `check` until it returns a truthy value or the deadline passes (then throws with the
 * last value seen). Timing-sensitive tests wait on conditions, never on fixed sleeps.
 */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  {
    timeout = 15_000,
    interval = 50,
    what = 'condition',
  }: { timeout?: number; interval?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  let last: T | undefined;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(
    `timed out after ${timeout}ms waiting for ${what}; last value: ${JSON.stringify(last)}${lastErr ? `; last error: ${String(lastErr)}` : ''}`,
  );
}
