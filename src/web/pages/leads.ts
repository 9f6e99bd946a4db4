import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import { badRequest, forbidden } from '../../lib/errors.js';
import { parseInput } from '../../lib/http.js';
import {
  findDuplicates,
  getLead,
  getTimeline,
  leadListQuery,
  leadStatuses,
  lifecycleStages,
  listLeads,
  mergeLeads,
  patchLead,
} from '../../modules/leads/index.js';
import { repDirectory } from '../../modules/handoff/index.js';
import { getLeadScore } from '../../modules/scoring/index.js';
import { Enrollment, enrollLead, listSequences } from '../../modules/sequences/index.js';
import { leadsCsv } from '../lead-csv.js';
import { describeEvent, eventTitle, eventTone } from '../timeline-text.js';
import { renderView } from '../views.js';
import { page, type WebDeps } from '../page.js';

const filterKeys = ['q', 'status', 'stage', 'ownerId', 'source', 'grade', 'minScore', 'maxScore'] as const;
/** The list page's query: the API's list filters (strict: an unknown parameter is a 400). */
const listPageQuery = leadListQuery.strict();

const pageKeys = new Set<string>([...filterKeys, 'cursor', 'limit', 'done']);

/** The filters a form sent: empty fields mean "no filter"; an unknown parameter is a 400. */
function filtersOf(input: Record<string, unknown>, extra: readonly string[] = []): Record<string, string> {
  const unknown = Object.keys(input).filter((k) => !pageKeys.has(k) && !extra.includes(k));
  if (unknown.length) parseInput(z.strictObject({}), Object.fromEntries(unknown.map((k) => [k, input[k]])));
  const out: Record<string, string> = {};
  for (const k of [...filterKeys, 'cursor', 'limit']) {
    const v = input[k];
    if (typeof v === 'string' && v.trim() !== '') out[k] = v.trim();
  }
  return out;
}

const touchFields: [string, string][] = [
  ['utm_source', 'Source'],
  ['utm_medium', 'Medium'],
  ['utm_campaign', 'Campaign'],
  ['utm_term', 'Term'],
  ['utm_content', 'Content'],
  ['gclid', 'Google click id'],
  ['fbclid', 'Meta click id'],
  ['landingPage', 'Landing page'],
  ['referrer', 'Referrer'],
];

type Touch = Record<string, unknown> | null;
/** First and last touch side by side, only the rows either one has; null when nothing is known. */
function attributionRows(a: { firstTouch: Touch; lastTouch: Touch }) {
  if (!a.firstTouch && !a.lastTouch) return null;
  const text = (t: Touch, k: string) => (typeof t?.[k] === 'string' && t[k] ? (t[k] as string) : null);
  const rows = touchFields
    .map(([k, label]) => ({ label, first: text(a.firstTouch, k), last: text(a.lastTouch, k) }))
    .filter((r) => r.first || r.last);
  return { firstAt: a.firstTouch?.at ?? null, lastAt: a.lastTouch?.at ?? null, rows };
}

const bulkBody = z.strictObject({
  _csrf: z.string(),
  action: z.enum(['assign', 'enroll', 'export']),
  scope: z.enum(['selected', 'filter']).default('selected'),
  ids: z.union([z.string(), z.array(z.string())]).optional(),
  assignTo: z.string().max(100).optional(),
  sequence: z.string().max(100).optional(),
  ...Object.fromEntries(filterKeys.map((k) => [k, z.string().max(200).optional()])),
});

async function leadsPage(deps: WebDeps, req: Request, res: Response): Promise<void> {
  const filters = filtersOf(req.query as Record<string, unknown>);
  const query = parseInput(listPageQuery, filters);
  const list = await listLeads(query);
  const { cursor: _c, limit: _l, ...kept } = filters;
  const reps = await repDirectory();
  const next = list.nextCursor ? `?${new URLSearchParams({ ...kept, cursor: list.nextCursor })}` : null;
  const ctx = {
    title: 'Leads',
    nav: 'leads',
    principal: req.auth,
    csrf: deps.csrfToken(req, res),
    leads: list.items,
    next,
    f: kept,
    statuses: leadStatuses.map((s) => ({ value: s, selected: s === kept.status })),
    stages: lifecycleStages.map((s) => ({ value: s, selected: s === kept.stage })),
    grades: ['A', 'B', 'C', 'D', 'F'].map((g) => ({ value: g, selected: g === kept.grade })),
    reps: reps.names,
    owners: reps.active.map((r) => ({ ...r, selected: r.id === kept.ownerId })),
    // a filter on a rep no longer active (or an id typed into the URL) still shows as chosen
    ownerElsewhere: Boolean(kept.ownerId) && !reps.active.some((r) => r.id === kept.ownerId),
    sequences: (await listSequences({ limit: 200 })).items.map((s: { key: string; name: string }) => ({
      key: s.key,
      name: s.name,
    })),
  };
  // htmx search-as-you-type swaps only the results
  const fragment = req.get('HX-Request') === 'true' && req.get('HX-Target') === 'lead-results';
  await renderView(deps.config.templatesDir, res, fragment ? 'leads-results' : 'leads', ctx, { fragment });
}

/** Every lead id a bulk action applies to: the ticked ones, or every lead matching the filter. */
async function bulkTargets(body: z.infer<typeof bulkBody>): Promise<string[]> {
  if (body.scope === 'selected')
    return ([] as string[]).concat(body.ids ?? []).filter((i) => /^[a-f0-9]{24}$/.test(i));
  const query = parseInput(listPageQuery, { ...filtersOf(body, Object.keys(bulkBody.shape)), limit: '500' });
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const list = await listLeads({ ...query, cursor });
    ids.push(...list.items.map((l) => l.id));
    cursor = list.nextCursor ?? undefined;
  } while (cursor && ids.length < 100_000);
  return ids;
}

/** One lead: fields, attribution, score ledger, timeline, enrollments, duplicates, convert. */
async function leadPage(deps: WebDeps, req: Request, res: Response): Promise<void> {
  const lead = await getLead(String(req.params.id));
  const [timeline, duplicates, enrollments, score, reps] = await Promise.all([
    getTimeline(lead.id, { limit: 50 }),
    findDuplicates(lead.id),
    Enrollment.find({ leadId: lead.id }).sort({ enrolledAt: -1 }).limit(20).lean(),
    getLeadScore(lead.id),
    repDirectory(),
  ]);
  // the contact this lead was converted into is the same person, not a duplicate to look at
  const dups = duplicates.items.filter((d) => !(d.kind === 'contact' && d.id === lead.conversion?.contactId));
  await renderView(deps.config.templatesDir, res, 'lead', {
    title: lead.email,
    nav: 'leads',
    reps: reps.names,
    principal: req.auth,
    csrf: deps.csrfToken(req, res),
    lead,
    attributes: Object.entries(lead.attributes ?? {}).map(([k, v]) => ({
      k,
      v: typeof v === 'string' ? v : JSON.stringify(v),
    })),
    attribution: attributionRows(lead.attribution),
    timeline: timeline.items.map((e) => ({
      ...e,
      text: describeEvent(e.kind, e.properties, reps.names),
      tone: eventTone(e.kind),
      title: eventTitle(e.kind),
    })),
    duplicates: dups,
    mergeable: dups.some((d) => d.kind === 'lead'),
    reasons: score.reasons.slice(0, 5),
    convertable: lead.status !== 'converted' && !lead.conversion,
    ledger: [...score.ledger].reverse().slice(0, 50),
    enrollments: enrollments.map((e) => ({
      key: e.sequenceKey,
      state: e.state,
      step: e.currentStep,
      reason: e.exitReason,
      at: e.enrolledAt,
    })),
  });
}

export function leadPages(r: Router, deps: WebDeps): void {
  r.get(
    '/leads',
    page((req, res) => leadsPage(deps, req, res)),
  );

  r.post(
    '/leads/bulk',
    page(async (req, res) => {
      const body = parseInput(bulkBody, req.body);
      const ids = await bulkTargets(body);
      if (body.action === 'export') {
        res.setHeader('Content-Disposition', 'attachment; filename="leads.csv"');
        res.type('text/csv; charset=utf-8').send(leadsCsv(await Promise.all(ids.map((id) => getLead(id)))));
        return;
      }
      if (req.auth!.role === 'sales') throw forbidden('the sales role may not change leads in bulk');
      // the owner menu starts on "choose an owner…" (empty): a click on Assign with nothing chosen
      // must not unassign every lead; "no owner" is an explicit choice (`none`)
      const owner = body.assignTo?.trim();
      if (body.action === 'assign' && !owner) throw badRequest('choose an owner (or "no owner") to assign');
      for (const id of ids) {
        if (body.action === 'assign')
          await patchLead(id, { ownerId: owner === 'none' ? null : owner }, req.auth!.role);
        else if (body.sequence) await enrollLead(body.sequence, id).catch(() => undefined);
      }
      res.redirect(303, `/app/leads?done=${encodeURIComponent(`${body.action}:${ids.length}`)}`);
    }),
  );

  r.get(
    '/leads/:id',
    page((req, res) => leadPage(deps, req, res)),
  );

  r.post(
    '/leads/:id/merge',
    page(async (req, res) => {
      // as POST /api/leads/:id/merge: merging rewrites leads, which sales may only read
      if (req.auth!.role === 'sales') throw forbidden('the sales role may not merge leads');
      const body = parseInput(
        z.strictObject({ _csrf: z.string(), ids: z.union([z.string(), z.array(z.string())]) }),
        req.body,
      );
      const survivor = await mergeLeads(String(req.params.id), ([] as string[]).concat(body.ids));
      res.redirect(303, `/app/leads/${survivor.id}`);
    }),
  );
}
