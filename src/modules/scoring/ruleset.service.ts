import { parseDuration } from '../../lib/clock.js';
import { notFound } from '../../lib/errors.js';
import { isDuplicateKey } from '../../lib/mongo.js';
import { enqueue } from '../../queues/index.js';
import { Lead } from '../leads/index.js';
import type { Ruleset } from './scoring.logic.js';
import { RescoreRun, ScoringRuleset } from './scoring.model.js';
import type { RulesetInput } from './scoring.schemas.js';

type RulesetDoc = {
  _id: number;
  rules?: unknown;
  fit?: unknown;
  decay?: { halfLife: string } | null;
  cap?: number | null;
  createdAt?: Date;
  createdBy?: string | null;
};

export function toRuleset(doc: RulesetDoc): Ruleset {
  const decay = doc.decay ?? null;
  return {
    version: doc._id,
    rules: (doc.rules ?? []) as Ruleset['rules'],
    fit: (doc.fit ?? []) as Ruleset['fit'],
    decay,
    cap: doc.cap ?? null,
    halfLifeMs: decay ? (parseDuration(decay.halfLife) ?? null) : null,
  };
}

/** No rule set saved yet: nothing scores and nobody has a grade. */
export const emptyRuleset: Ruleset = {
  version: 0,
  rules: [],
  fit: [],
  decay: null,
  cap: null,
  halfLifeMs: null,
};

/** The rule set in force (the highest version). */
export async function currentRuleset(): Promise<Ruleset> {
  const doc = await ScoringRuleset.findOne({}).sort({ _id: -1 }).lean<RulesetDoc>();
  return doc ? toRuleset(doc) : emptyRuleset;
}

async function latestVersion(): Promise<number> {
  const doc = await ScoringRuleset.findOne({}, { _id: 1 }).sort({ _id: -1 }).lean<{ _id: number }>();
  return doc?._id ?? 0;
}

/**
 * Saves a new version (every version is kept; racing PUTs get distinct versions: the insert of
 * `_id` = next version is the claim) and starts rescoring every lead under it in the background.
 */
export async function putRuleset(input: RulesetInput, createdBy: string | null) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const version = (await latestVersion()) + 1;
    try {
      await ScoringRuleset.create({
        _id: version,
        rules: input.rules,
        fit: input.fit ?? [],
        decay: input.decay ?? null,
        cap: input.cap ?? null,
        createdBy,
      });
    } catch (err) {
      if (isDuplicateKey(err)) continue;
      throw err;
    }
    await startRescore(version);
    return getRulesetView(version);
  }
  throw new Error('could not claim a rule-set version');
}

async function startRescore(version: number): Promise<void> {
  const total = await Lead.countDocuments({ mergedInto: null });
  await RescoreRun.create({ _id: version, status: 'running', done: 0, total, cursor: null }).catch((err) => {
    if (!isDuplicateKey(err)) throw err;
  });
  await enqueue('scoring', { rescore: { version } }, { jobId: `rescore-${version}` });
}

export type RescoreView = {
  version: number;
  status: string;
  done: number;
  total: number;
  finishedAt: Date | null;
};

export async function rescoreStatus(version?: number): Promise<RescoreView | null> {
  const run = version
    ? await RescoreRun.findById(version).lean()
    : await RescoreRun.findOne({}).sort({ _id: -1 }).lean();
  if (!run) return null;
  return {
    version: run._id,
    status: run.status,
    done: run.done ?? 0,
    total: run.total ?? 0,
    finishedAt: run.finishedAt ?? null,
  };
}

/** GET /api/scoring: the current rule set (or `version`), with its rescoring progress. */
export async function getRulesetView(version?: number) {
  const doc = version
    ? await ScoringRuleset.findById(version).lean<RulesetDoc>()
    : await ScoringRuleset.findOne({}).sort({ _id: -1 }).lean<RulesetDoc>();
  if (!doc && version) throw notFound(`scoring rule set version ${version}`);
  if (!doc) return { version: 0, rules: [], fit: [], decay: null, cap: null, createdAt: null, rescore: null };
  return {
    version: doc._id,
    rules: doc.rules,
    fit: doc.fit ?? [],
    decay: doc.decay ?? null,
    cap: doc.cap ?? null,
    createdAt: doc.createdAt ?? null,
    createdBy: doc.createdBy ?? null,
    rescore: await rescoreStatus(doc._id),
  };
}
