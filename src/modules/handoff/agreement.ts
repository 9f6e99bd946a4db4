import { parseDuration } from '../../lib/clock.js';
import { agreementVersion, currentAgreement } from '../qualification/index.js';

/** What handoff uses of a qualification agreement (API.md's `PUT /api/qualification`). */
export type AgreementTerms = {
  version: number | null;
  createOpportunity: boolean;
  opportunity: { amount: number | null; closeInMs: number };
  slaHours: number | null;
  agreedBy: { marketing: string | null; sales: string | null };
};

const defaultCloseInMs = 30 * 86_400_000;
const defaultSlaHours = 24;

/** The terms when no agreement is recorded (yet): an opportunity closing in 30 days, a 24 h SLA. */
export const defaultTerms: AgreementTerms = {
  version: null,
  createOpportunity: true,
  opportunity: { amount: null, closeInMs: defaultCloseInMs },
  slaHours: defaultSlaHours,
  agreedBy: { marketing: null, sales: null },
};

type StoredAgreement = {
  /** the qualification area keys each immutable version by `_id` */
  _id?: number;
  version?: number;
  createOpportunity?: boolean;
  opportunity?: { amount?: number; closeIn?: string };
  slaHours?: number;
  agreedBy?: { marketing?: string; sales?: string };
};

/** Terms from a stored agreement document, filling what it leaves out with the defaults. */
export function termsOf(doc: StoredAgreement | null | undefined): AgreementTerms {
  if (!doc) return defaultTerms;
  const closeIn = doc.opportunity?.closeIn ? parseDuration(doc.opportunity.closeIn) : undefined;
  return {
    version: doc._id ?? doc.version ?? null,
    createOpportunity: doc.createOpportunity !== false,
    opportunity: {
      amount: typeof doc.opportunity?.amount === 'number' ? doc.opportunity.amount : null,
      closeInMs: closeIn ?? defaultCloseInMs,
    },
    slaHours: typeof doc.slaHours === 'number' && doc.slaHours > 0 ? doc.slaHours : defaultSlaHours,
    agreedBy: { marketing: doc.agreedBy?.marketing ?? null, sales: doc.agreedBy?.sales ?? null },
  };
}

/** The agreement version a handoff was qualified under (the defaults when none is recorded). */
export async function agreementTerms(version: number | null | undefined): Promise<AgreementTerms> {
  if (version === null || version === undefined) return defaultTerms;
  return termsOf((await agreementVersion(version)) as StoredAgreement | null);
}

/** The current agreement's version (for manual conversions), or null when none is recorded. */
export async function latestAgreementVersion(): Promise<number | null> {
  const doc = await currentAgreement();
  return typeof doc?._id === 'number' ? doc._id : null;
}
