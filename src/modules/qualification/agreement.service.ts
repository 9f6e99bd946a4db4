import { clock } from '../../lib/clock.js';
import { conflict } from '../../lib/errors.js';
import { isDuplicateKey } from '../../lib/mongo.js';
import { enqueue } from '../../queues/index.js';
import { QualificationAgreement, type AgreementDoc } from './agreement.model.js';
import type { AgreementInput } from './qualification.schemas.js';

export type AgreementJson = {
  version: number;
  threshold: number;
  require: {
    budget: boolean;
    authority: boolean;
    need: boolean;
    timeline: boolean;
    grade: string | null;
  };
  createOpportunity: boolean;
  opportunity: { amount: number | null; closeIn: string | null };
  slaHours: number;
  agreedBy: { marketing: string; sales: string };
  createdAt: string | null;
  /** the background re-evaluation of open leads this version started */
  reevaluation: { status: string; enqueued: number; finishedAt: string | null };
};

export function toAgreementJson(a: AgreementDoc): AgreementJson {
  const req = a.require ?? {};
  return {
    version: a._id,
    threshold: a.threshold,
    require: {
      budget: !!req.budget,
      authority: !!req.authority,
      need: !!req.need,
      timeline: !!req.timeline,
      grade: req.grade ?? null,
    },
    createOpportunity: a.createOpportunity ?? true,
    opportunity: { amount: a.opportunity?.amount ?? null, closeIn: a.opportunity?.closeIn ?? null },
    slaHours: a.slaHours ?? 24,
    agreedBy: { marketing: a.agreedBy?.marketing ?? '', sales: a.agreedBy?.sales ?? '' },
    createdAt: a.createdAt ? a.createdAt.toISOString() : null,
    reevaluation: {
      status: a.sweep?.status ?? 'done',
      enqueued: a.sweep?.enqueued ?? 0,
      finishedAt: a.sweep?.finishedAt ? a.sweep.finishedAt.toISOString() : null,
    },
  };
}

/** The BullMQ job id of one chunk of a version's re-evaluation (a retried chunk adds nothing). */
export function sweepJobId(version: number, after?: string | null): string {
  return `qual-sweep-${version}-${after ?? 'start'}`;
}

/**
 * Stores the next version of the agreement and starts the background re-evaluation of open
 * leads. The version is the `_id`: of racing PUTs exactly one inserts each number, the others
 * read the latest again and take the next.
 */
export async function putAgreement(input: AgreementInput, changedBy: string | null): Promise<AgreementJson> {
  const now = clock.now();
  for (let attempt = 0; attempt < 50; attempt++) {
    const latest = await QualificationAgreement.findOne({}, { _id: 1 }).sort({ _id: -1 }).lean();
    const version = (latest?._id ?? 0) + 1;
    try {
      const created = await QualificationAgreement.create({
        _id: version,
        threshold: input.threshold,
        require: {
          budget: input.require.budget ?? false,
          authority: input.require.authority ?? false,
          need: input.require.need ?? false,
          timeline: input.require.timeline ?? false,
          grade: input.require.grade ?? null,
        },
        createOpportunity: input.createOpportunity,
        opportunity: {
          amount: input.opportunity.amount ?? null,
          closeIn: input.opportunity.closeIn ?? null,
        },
        slaHours: input.slaHours,
        agreedBy: input.agreedBy,
        changedBy,
        sweep: { status: 'running', cursor: null, enqueued: 0, updatedAt: now, finishedAt: null },
        createdAt: now,
        updatedAt: now,
      });
      await enqueue('qualification-sweep', { version }, { jobId: sweepJobId(version) });
      return toAgreementJson(created.toObject() as AgreementDoc);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }
  throw conflict('the qualification agreement is being changed concurrently; try again');
}

/** The agreement in force (the highest version), or null before the first PUT. */
/** One recorded version of the agreement (versions are immutable), or null. */
export async function agreementVersion(version: number): Promise<AgreementDoc | null> {
  return QualificationAgreement.findById(version).lean<AgreementDoc>();
}

export async function currentAgreement(): Promise<AgreementDoc | null> {
  return QualificationAgreement.findOne({}).sort({ _id: -1 }).lean<AgreementDoc>();
}

/** GET /api/qualification: the current version and every version, newest first. */
export async function getAgreements(): Promise<{ current: AgreementJson | null; history: AgreementJson[] }> {
  const all = await QualificationAgreement.find({}).sort({ _id: -1 }).limit(1000).lean<AgreementDoc[]>();
  const history = all.map(toAgreementJson);
  return { current: history[0] ?? null, history };
}
