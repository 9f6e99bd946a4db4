import type { Router } from 'express';
import { z } from 'zod';
import { badRequest, forbidden } from '../../lib/errors.js';
import { parseInput, zodDetails } from '../../lib/http.js';
import { getRulesetView, putRuleset, rescoreStatus, rulesetInput } from '../../modules/scoring/index.js';
import { getAgreements } from '../../modules/qualification/index.js';
import { renderView } from '../views.js';
import { page, type WebDeps } from '../page.js';
import { diffLines } from '../diff.js';

const scoringQuery = z.strictObject({
  compare: z.coerce.number().int().min(1).optional(),
  saved: z.string().optional(),
});
const saveBody = z.strictObject({ _csrf: z.string(), rules: z.string().max(200_000) });

/** The rule set as the editor shows it: what PUT /api/scoring takes. */
const editable = (v: Awaited<ReturnType<typeof getRulesetView>>) =>
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

/** `/app/scoring`: the rule set (editable by marketing), its versions side by side, rescoring. */
export function scoringPages(r: Router, deps: WebDeps): void {
  r.get(
    '/scoring',
    page(async (req, res) => {
      const q = parseInput(scoringQuery, req.query);
      const current = await getRulesetView();
      const versions = await history(current.version);
      const compareTo = q.compare ? versions.find((v) => v.version === q.compare) : versions[1];
      await renderView(deps.config.templatesDir, res, 'scoring', {
        title: 'Scoring',
        nav: 'scoring',
        principal: req.auth,
        csrf: deps.csrfToken(req, res),
        current,
        editor: editable(current),
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
        saved: q.saved === '1',
        ...(await agreementContext()),
      });
    }),
  );
  r.post(
    '/scoring',
    page(async (req, res) => {
      if (req.auth!.role === 'sales') throw forbidden('the sales role may read scoring, not change it');
      const body = parseInput(saveBody, req.body);
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.rules);
      } catch (err) {
        throw badRequest(`the rules are not valid JSON: ${(err as Error).message}`);
      }
      const r2 = rulesetInput.safeParse(parsed);
      if (!r2.success) {
        const current = await getRulesetView();
        await renderView(
          deps.config.templatesDir,
          res,
          'scoring',
          {
            title: 'Scoring',
            nav: 'scoring',
            principal: req.auth,
            csrf: deps.csrfToken(req, res),
            current,
            editor: body.rules,
            errors: zodDetails(r2.error),
            versions: [],
            rescore: await rescoreStatus(),
            ...(await agreementContext()),
          },
          { status: 400 },
        );
        return;
      }
      await putRuleset(r2.data, req.auth!.name);
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
