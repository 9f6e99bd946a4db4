import { grades } from './qualification.schemas.js';

/** The parts of an agreement that decide a lead's stage. */
export type Criteria = {
  threshold: number;
  require: {
    budget?: boolean | null;
    authority?: boolean | null;
    need?: boolean | null;
    timeline?: boolean | null;
    grade?: string | null;
  };
};

export type LeadFacts = {
  score?: number | null;
  grade?: string | null;
  bant?: Partial<Record<'budget' | 'authority' | 'need' | 'timeline', unknown>> | null;
};

export const bantParts = ['budget', 'authority', 'need', 'timeline'] as const;

/** API.md: a BANT answer counts as given when `true` or non-empty text. */
export function bantGiven(v: unknown): boolean {
  return v === true || (typeof v === 'string' && v.trim() !== '');
}

/** Whether `grade` is at least `lowest` (A is best). No grade never meets a requirement. */
export function gradeAtLeast(grade: string | null | undefined, lowest: string): boolean {
  const g = grades.indexOf((grade ?? '') as (typeof grades)[number]);
  const min = grades.indexOf(lowest as (typeof grades)[number]);
  return g >= 0 && min >= 0 && g <= min;
}

export type Evaluation = {
  /** score ≥ threshold: an MQL */
  mql: boolean;
  /** the whole agreement is met: qualified */
  qualified: boolean;
  /** what is still missing for qualification (`score`, `budget`…, `grade`) */
  missing: string[];
};

/** Evaluates one lead against the agreement. Pure. */
export function evaluateCriteria(lead: LeadFacts, c: Criteria): Evaluation {
  const missing: string[] = [];
  const mql = (lead.score ?? 0) >= c.threshold;
  if (!mql) missing.push('score');
  for (const part of bantParts) {
    if (c.require[part] && !bantGiven(lead.bant?.[part])) missing.push(part);
  }
  if (c.require.grade && !gradeAtLeast(lead.grade, c.require.grade)) missing.push('grade');
  return { mql, qualified: missing.length === 0, missing };
}

const stageOrder = ['subscriber', 'lead', 'mql', 'sql', 'opportunity', 'customer'];

/** Whether moving from `from` to `to` goes forward (stages only move forward). */
export function isLaterStage(from: string | null | undefined, to: string): boolean {
  return stageOrder.indexOf(to) > stageOrder.indexOf(from ?? 'lead');
}
