import type { LeadDoc } from './lead.model.js';

/** API.md's Lead: `id` as a string, every documented field present, `conversion` null unless set. */
export function toLeadJson(l: LeadDoc) {
  const conv = l.conversion;
  return {
    id: String(l._id),
    email: l.email,
    firstName: l.firstName ?? null,
    lastName: l.lastName ?? null,
    company: l.company ?? null,
    title: l.title ?? null,
    phone: l.phone ?? null,
    country: l.country ?? null,
    source: l.source ?? null,
    status: l.status,
    lifecycleStage: l.lifecycleStage,
    score: l.score ?? 0,
    grade: l.grade ?? null,
    bant: {
      budget: l.bant?.budget ?? null,
      authority: l.bant?.authority ?? null,
      need: l.bant?.need ?? null,
      timeline: l.bant?.timeline ?? null,
    },
    ownerId: l.ownerId ?? null,
    unsubscribed: l.unsubscribed ?? false,
    attributes: l.attributes ?? {},
    existingContactId: l.existingContactId ?? null,
    /** campaign attribution: `{firstTouch, lastTouch}` (website tracking and forms), each null until known */
    attribution: attributionView(l.attribution),
    createdAt: l.createdAt,
    updatedAt: l.updatedAt,
    convertedAt: l.convertedAt ?? null,
    conversion:
      conv && (conv.accountId || conv.contactId || conv.opportunityId)
        ? {
            accountId: conv.accountId ?? null,
            contactId: conv.contactId ?? null,
            opportunityId: conv.opportunityId ?? null,
          }
        : null,
  };
}
export type LeadJson = ReturnType<typeof toLeadJson>;

type TouchJson = Record<string, unknown> & { at: Date };
function attributionView(a: unknown): { firstTouch: TouchJson | null; lastTouch: TouchJson | null } {
  const v = (a ?? {}) as { firstTouch?: TouchJson | null; lastTouch?: TouchJson | null };
  return { firstTouch: v.firstTouch ?? null, lastTouch: v.lastTouch ?? null };
}

/** Why two people look like the same one (Find Duplicates). Pure, so it is unit-tested. */
export function duplicateReasons(
  a: {
    emailKey?: string | null;
    firstName?: string | null;
    lastName?: string | null;
    company?: string | null;
    phone?: string | null;
  },
  b: {
    emailKey?: string | null;
    firstName?: string | null;
    lastName?: string | null;
    company?: string | null;
    phone?: string | null;
  },
): string[] {
  const same = (x?: string | null, y?: string | null) =>
    !!x && !!y && x.trim().toLowerCase() === y.trim().toLowerCase();
  const reasons: string[] = [];
  if (same(a.emailKey, b.emailKey)) reasons.push('email');
  if (same(a.lastName, b.lastName) && same(a.firstName, b.firstName) && same(a.company, b.company)) {
    reasons.push('name_company');
  }
  if (same(a.phone, b.phone)) reasons.push('phone');
  return reasons;
}

const stageOrder = ['subscriber', 'lead', 'mql', 'sql', 'opportunity', 'customer'];

/** Lifecycle stages only move forward. */
export function isForwardStage(from: string, to: string): boolean {
  return stageOrder.indexOf(to) >= stageOrder.indexOf(from);
}

export function furthestStage(stages: string[]): string {
  return stages.reduce((a, b) => (stageOrder.indexOf(b) > stageOrder.indexOf(a) ? b : a));
}

/** Escapes user text for a RegExp (q= search, case-insensitive exact matches). */
export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
