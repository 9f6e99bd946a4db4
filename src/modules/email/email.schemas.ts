import { z } from 'zod';

/** POST /api/suppressions: a bounce/complaint webhook or a manual entry. */
export const suppressionInput = z.strictObject({
  email: z.string().trim().max(254).email(),
  reason: z.enum(['bounce', 'complaint', 'manual']),
});

/** A tracking or unsubscribe token as it appears in a path. */
export const tokenParam = z.object({ token: z.string().min(10).max(4096) });
