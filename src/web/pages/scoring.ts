import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import { AppError, badRequest, forbidden, type ErrorDetail } from '../../lib/errors.js';
import { parseInput, zodDetails } from '../../lib/http.js';
import {
  getRulesetView,
  parseRuleset,
  putRuleset,
  rescoreStatus,
  rulesetInput,
} from '../../modules/scoring/index.js';
import { getAgreements } from '../../modules/qualification/index.js';
import { renderView } from '../views.js';
import { page, type WebDeps } from '../page.js';
import { diffLines } from '../diff.js';
import { formToRuleset, rulesetToForm, type RulesetShape, type ScoringForm } from '../scoring-form.js';
import { describeProblems } from '../scoring-form-errors.js';
import { addRows, maxExtraRows, maxFitRows, maxRuleRows, readScoringForm } from '../scoring-form-body.js';
import { formView, readOnlyView } from '../scoring-form-view.js';

const scoringQuery = z.strictObject({
  compare: z.coerce.number().int().min(1).optional(),
  saved: z.string().optional(),
  rows: z.coerce.number().int().min(0).max(maxExtraRows).optional(),
  fitRows: z.coerce.number().int().min(0).max(maxExtraRows).optional(),
});
const saveBody = z.strictObject({ _csrf: z.string(), rules: z.string().max(200_000) });

type RulesetView = Awaited<ReturnType<typeof getRulesetView>>;

const shapeOf = (v: RulesetView): RulesetShape => ({
  rules: v.rules as RulesetShape['rules'],
  fit: v.fit as RulesetShape['fit'],
  decay: v.decay ?? null,
  cap: v.cap ?? null,
});

/** The rule set as the editor shows it: what PUT /api/scoring takes. */
const editable = (v: RulesetView) =>
  JSON.stringify(
    { rules: v.rules, fit: v.fit, decay: v.decay ?? undefined, cap: v.cap ?? undefined },
    null,
    2,
  );

async function history(current: number) {
  const versions = [];
  for (let v = current; v >= 1 && versions.length < 20; v--) versions.push(await getRulesetView(v));
  return versions;
}

type Extra = {
  compare?: number;
  saved?: boolean;
  /** the form as typed (re-rendered after a problem or "add rows"); the current rule set's otherwise */
  form?: ScoringForm;
  invalid?: Set<string>;
  problems?: string[];
  rows?: { rules: number; fit: number };
  /** the JSON editor's text and its problems (after a JSON save that failed) */
  json?: { text: string; errors: ErrorDetail[] };
};

/** Everything the page shows: the rule set (as a form and as JSON), versions, rescoring, agreement. */
async function pageContext(deps: WebDeps, req: Request, res: Response, extra: Extra) {
  const current = await getRulesetView();
  const versions = await history(current.version);
  const compareTo = extra.compare ? versions.find((v) => v.version === extra.compare) : versions[1];
  const form = extra.form ?? rulesetToForm(shapeOf(current));
  return {
    title: 'Scoring',
    nav: 'scoring',
    principal: req.auth,
    csrf: deps.csrfToken(req, res),
    current,
    form: formView(form, extra.invalid, extra.rows),
    readOnly: readOnlyView(rulesetToForm(shapeOf(current))),
    problems: extra.problems,
    editor: extra.json?.text ?? editable(current),
    errors: extra.json?.errors,
    versions: versions.map((v) => ({
      version: v.version,
      createdAt: v.createdAt,
      rules: (v.rules as unknown[]).length,
      fit: (v.fit as unknown[]).length,
      selected: v.version === compareTo?.version,
    })),
    diff:
      compareTo && compareTo.version !== current.version
        ? diffLines(editable(compareTo), editable(current))
        : null,
    compareVersion: compareTo?.version,
    rescore: await rescoreStatus(),
    saved: extra.saved,
    ...(await agreementContext()),
  };
}

const refuseSales = (req: Request) => {
  if (req.auth!.role === 'sales') throw forbidden('the sales role may read scoring, not change it');
};

/** The schema's details for a candidate rule set (the API's own parseRuleset), or none. */
function schemaDetails(candidate: RulesetShape): {
  details: ErrorDetail[];
  data?: ReturnType<typeof parseRuleset>;
} {
  try {
    return { details: [], data: parseRuleset(candidate) };
  } catch (err) {
    if (err instanceof AppError && err.details) return { details: err.details };
    throw err;
  }
}

/** `/app/scoring`: the rule set (a form for marketing, a table for sales), versions, rescoring. */
export function scoringPages(r: Router, deps: WebDeps): void {
  const render = async (req: Request, res: Response, extra: Extra, status = 200) =>
    renderView(deps.config.templatesDir, res, 'scoring', await pageContext(deps, req, res, extra), {
      status,
    });

  r.get(
    '/scoring',
    page(async (req, res) => {
      const q = parseInput(scoringQuery, req.query);
      await render(req, res, {
        compare: q.compare,
        saved: q.saved === '1',
        rows: { rules: q.rows ?? addRows, fit: q.fitRows ?? 2 },
      });
    }),
  );

  // the JSON editor ("Edit as JSON"): the whole rule set as PUT /api/scoring takes it
  r.post(
    '/scoring',
    page(async (req, res) => {
      refuseSales(req);
      const body = parseInput(saveBody, req.body);
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.rules);
      } catch (err) {
        throw badRequest(`the rules are not valid JSON: ${(err as Error).message}`);
      }
      const r2 = rulesetInput.safeParse(parsed);
      if (!r2.success) {
        await render(req, res, { json: { text: body.rules, errors: zodDetails(r2.error) } }, 400);
        return;
      }
      await putRuleset(r2.data, req.auth!.name);
      res.redirect(303, '/app/scoring?saved=1');
    }),
  );

  // the rules form: rows of inputs → the same schema as the API → a new version, or the form again
  r.post(
    '/scoring/form',
    page(async (req, res) => {
      refuseSales(req);
      const { form, more } = readScoringForm(req.body);
      if (more) {
        // never more rows than the form accepts back
        const rows = {
          rules: more === 'rules' ? Math.min(addRows, maxRuleRows - form.rules.length) : 0,
          fit: more === 'fit' ? Math.min(addRows, maxFitRows - form.fit.length) : 0,
        };
        await render(req, res, { form, rows });
        return;
      }
      const parsed = formToRuleset(form);
      const { details, data } = schemaDetails(parsed.candidate);
      if (parsed.issues.length || details.length || !data) {
        const { messages, invalid } = describeProblems(parsed, form, details);
        await render(req, res, { form, invalid, problems: messages, rows: { rules: 0, fit: 0 } }, 400);
        return;
      }
      await putRuleset(data, req.auth!.name);
      res.redirect(303, '/app/scoring?saved=1');
    }),
  );
}

/** The qualification agreement's part of the page (filled in once that area is present). */
async function agreementContext(): Promise<Record<string, unknown>> {
  const { current } = await getAgreements();
  if (!current) return {};
  const req = (current.require ?? {}) as Record<string, unknown>;
  const requires = Object.entries(req)
    .filter(([, v]) => v)
    .map(([k, v]) => (k === 'grade' ? `grade ${String(v)} or better` : k));
  return { agreement: current, requires };
}
