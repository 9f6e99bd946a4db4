import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeWarnings,
  htmlCheck,
  mailpitBinary,
  samples,
  startMailpit,
  type Mailpit,
} from '../../scripts/mail-html-check.js';

/** Mailpit's "supported" share every email we send must reach. */
const minSupported = 95;

let mailpit: Mailpit | undefined;
let missing: string | undefined;
beforeAll(async () => {
  // built by `npm test`'s pretest and by .ci/run; built here when neither ran (about a minute)
  const bin = mailpitBinary({ build: false }) ?? mailpitBinary({ timeoutMs: 100_000 });
  if (!bin) {
    missing = 'Mailpit could not be built (scripts/mailpit.sh install needs Go and the Go module proxy)';
    return;
  }
  mailpit = await startMailpit(bin);
}, 120_000);
afterAll(async () => {
  await mailpit?.stop();
});

describe("email HTML compatibility (Mailpit's html-check)", () => {
  it('lists at least the default layout with a marketing template', () => {
    expect(samples().map((s) => s.name)).toContain('layouts/default + welcome');
  });

  it.for(samples().map((s) => [s.name, s] as const))(
    `when %s is sent, then at least ${minSupported}% of it is supported across mail clients`,
    async ([, sample], ctx) => {
      if (!mailpit) return ctx.skip(missing);
      const check = await htmlCheck(mailpit, await sample.render());
      expect(check.Total.Nodes).toBeGreaterThan(0);
      expect(check.Total.Supported, describeWarnings(check).join('\n')).toBeGreaterThanOrEqual(minSupported);
    },
  );
});
