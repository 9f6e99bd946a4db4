import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signToken, verifyToken, type TokenPayload } from '../../src/modules/email/tokens.js';
import { signActionToken, verifyActionToken } from '../../src/modules/handoff/action-links.js';
import {
  newVisitorId,
  signLeadToken,
  verifyLeadToken,
  verifyVisitorId,
} from '../../src/modules/events/visitor.tokens.js';
import { forgedTokens } from '../fixtures/hostile.js';

const secret = 'fuzz-secret-0123456789abcdef';
const runs = { numRuns: 300 };
const objectId = fc.stringMatching(/^[a-f0-9]{24}$/);
const payload: fc.Arbitrary<TokenPayload> = fc.oneof(
  objectId.map((sendId) => ({ kind: 'open' as const, sendId })),
  objectId.map((sendId) => ({ kind: 'unsubscribe' as const, sendId })),
  fc
    .tuple(objectId, fc.webUrl({ withQueryParameters: true, withFragments: true }))
    .map(([sendId, url]) => ({ kind: 'click' as const, sendId, url })),
);

/** Every single-character change of `token` into another URL-safe character (the ones a link keeps). */
const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=';
const altered = (token: string) =>
  fc
    .tuple(fc.nat({ max: token.length - 1 }), fc.constantFrom(...alphabet))
    .filter(([i, c]) => token[i] !== c)
    .map(([i, c]) => token.slice(0, i) + c + token.slice(i + 1));

/** The same token with one bit of one character's code flipped (any character, printable or not). */
const bitFlipped = (token: string) =>
  fc
    .tuple(fc.nat({ max: token.length - 1 }), fc.nat({ max: 6 }))
    .map(
      ([i, bit]) =>
        token.slice(0, i) + String.fromCharCode(token.charCodeAt(i) ^ (1 << bit)) + token.slice(i + 1),
    );

describe('token verification under fuzzing', () => {
  it('when an email token is genuine, then it verifies to its payload', () => {
    fc.assert(
      fc.property(payload, (p) => {
        expect(verifyToken(secret, signToken(secret, p))).toEqual(p);
      }),
      runs,
    );
  });

  it('when any string is given as an email, handoff, visitor or lead token, then it never verifies and never throws', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 })),
        (s) => {
          expect(verifyToken(secret, s)).toBeUndefined();
          expect(verifyActionToken(secret, s)).toBeUndefined();
          expect(verifyVisitorId(secret, s)).toBeUndefined();
          expect(verifyLeadToken(secret, s, Date.now())).toBeUndefined();
        },
      ),
      { numRuns: 500 },
    );
    for (const s of forgedTokens()) {
      expect(verifyToken(secret, s)).toBeUndefined();
      expect(verifyActionToken(secret, s)).toBeUndefined();
    }
  });

  it('when one character or bit of an email token changes, then it never verifies', () => {
    fc.assert(
      fc.property(
        payload.chain((p) => {
          const t = signToken(secret, p);
          return fc.oneof(altered(t), bitFlipped(t), fc.constantFrom(...forgedTokens(t)));
        }),
        (bad) => {
          expect(verifyToken(secret, bad)).toBeUndefined();
        },
      ),
      runs,
    );
  });

  it('when a token is signed with another secret, then it never verifies', () => {
    fc.assert(
      fc.property(payload, fc.string({ minLength: 1, maxLength: 40 }), (p, other) => {
        fc.pre(other !== secret);
        expect(verifyToken(secret, signToken(other, p))).toBeUndefined();
      }),
      runs,
    );
  });

  it('when one character or bit of a handoff link token changes, then it never verifies', () => {
    const ids = fc.tuple(
      fc.constantFrom('accept' as const, 'reject' as const),
      objectId.map((l) => `${l}:1`),
      fc.stringMatching(/^[a-z0-9-]{1,20}$/),
    );
    fc.assert(
      fc.property(
        ids.chain(([action, handoffId, owner]) => {
          const t = signActionToken(secret, action, handoffId, owner);
          expect(verifyActionToken(secret, t)).toEqual({ action, handoffId, ownerId: owner });
          return fc.oneof(altered(t), bitFlipped(t), fc.constantFrom(...forgedTokens(t)));
        }),
        (bad) => {
          expect(verifyActionToken(secret, bad)).toBeUndefined();
        },
      ),
      runs,
    );
  });

  it('when one character or bit of a visitor id or lead token changes, then it never verifies', () => {
    const now = Date.now();
    fc.assert(
      fc.property(
        fc.constant(null).chain(() => {
          const v = newVisitorId(secret);
          expect(verifyVisitorId(secret, v)).toBeDefined();
          return fc.oneof(altered(v), bitFlipped(v));
        }),
        (bad) => {
          expect(verifyVisitorId(secret, bad)).toBeUndefined();
        },
      ),
      runs,
    );
    fc.assert(
      fc.property(
        objectId.chain((leadId) => {
          const t = signLeadToken(secret, leadId, now);
          expect(verifyLeadToken(secret, t, now)).toBe(leadId);
          return fc.oneof(altered(t), bitFlipped(t));
        }),
        (bad) => {
          expect(verifyLeadToken(secret, bad, now)).toBeUndefined();
        },
      ),
      runs,
    );
  });
});
