import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import { forbidden } from '../../lib/errors.js';
import { parseInput } from '../../lib/http.js';
import { opportunityStages } from '../../modules/crm/index.js';
import {
  acceptHandoff,
  agreementTerms,
  convertLeadManually,
  latestAgreementVersion,
  listHandoffs,
  listOpportunities,
  patchOpportunity,
  rejectHandoff,
  repDirectory,
} from '../../modules/handoff/index.js';
import { getLead } from '../../modules/leads/index.js';
import { listSequences } from '../../modules/sequences/index.js';
import { clock } from '../../lib/clock.js';
import { renderView } from '../views.js';
import { page, type WebDeps } from '../page.js';

const handoffId = z.string().regex(/^[a-f0-9]{24}:[0-9]{1,6}$/, 'must be a handoff id');
const oppId = z.string().regex(/^[a-f0-9]{24}$/, 'must be an opportunity id');
const csrfOnly = z.strictObject({ _csrf: z.string() });
const rejectForm = z.strictObject({
  _csrf: z.string(),
  reason: z.string().max(1000),
  recycleTo: z.string().max(64).optional(),
});
const inboxQuery = z.strictObject({
  status: z.enum(['pending', 'accepted', 'rejected', 'expired']).optional(),
  done: z.string().max(40).optional(),
});

/** Who acts from the web: the rep a sales key is tied to, else the key's name (as the API does). */
const actor = (req: Request) => req.auth?.repId ?? `key:${req.auth?.name ?? 'unknown'}`;
const mayDecide = (req: Request) => {
  if (req.auth?.role === 'marketing') throw forbidden('handoffs are decided by sales');
};

/** Hours left on the SLA (negative: overdue), for the inbox's countdown. */
function slaLeft(due: Date | string | null): { text: string; overdue: boolean } | null {
  if (!due) return null;
  const h = (new Date(due).getTime() - clock.now().getTime()) / 3_600_000;
  const abs = Math.abs(h);
  const text = abs < 1 ? `${Math.round(abs * 60)} min` : `${abs.toFixed(1)} h`;
  return { text: h < 0 ? `overdue by ${text}` : `${text} left`, overdue: h < 0 };
}

async function inbox(deps: WebDeps, req: Request, res: Response): Promise<void> {
  const q = parseInput(inboxQuery, req.query);
  const list = await listHandoffs({ status: q.status ?? 'pending', limit: 100 }, req.auth?.repId);
  const rows = await Promise.all(
    list.items.map(async (h) => {
      const lead = await getLead(h.leadId).catch(() => null);
      const reasons = (h.reasons ?? {}) as {
        score?: number;
        grade?: string;
        topReasons?: { reason: string; points: number }[];
      };
      return { ...h, lead, sla: h.status === 'pending' ? slaLeft(h.slaDueAt) : null, why: reasons };
    }),
  );
  const sequences = (await listSequences({ limit: 200 })).items.map((s: { key: string; name: string }) => ({
    key: s.key,
    name: s.name,
  }));
  await renderView(deps.config.templatesDir, res, 'handoffs', {
    title: 'Handoffs',
    reps: (await repDirectory()).names,
    nav: 'handoffs',
    principal: req.auth,
    csrf: deps.csrfToken(req, res),
    handoffs: rows,
    status: q.status ?? 'pending',
    statuses: ['pending', 'accepted', 'rejected', 'expired'].map((s) => ({
      value: s,
      selected: s === (q.status ?? 'pending'),
    })),
    sequences,
    done: q.done,
    canDecide: req.auth?.role !== 'marketing',
  });
}

/** Sales: the handoff inbox (accept, reject with a reason) and the opportunity board. */
export function salesPages(r: Router, deps: WebDeps): void {
  r.get(
    '/handoffs',
    page((req, res) => inbox(deps, req, res)),
  );
  r.post(
    '/handoffs/:id/accept',
    page(async (req, res) => {
      mayDecide(req);
      parseInput(csrfOnly, req.body);
      await acceptHandoff(parseInput(handoffId, req.params.id), actor(req));
      res.redirect(303, '/app/handoffs?done=accepted');
    }),
  );
  r.post(
    '/handoffs/:id/reject',
    page(async (req, res) => {
      mayDecide(req);
      const body = parseInput(rejectForm, req.body);
      await rejectHandoff(
        parseInput(handoffId, req.params.id),
        { reason: body.reason, ...(body.recycleTo ? { recycleTo: body.recycleTo } : {}) },
        actor(req),
      );
      res.redirect(303, '/app/handoffs?done=rejected');
    }),
  );
  opportunityPages(r, deps);
}

function opportunityPages(r: Router, deps: WebDeps): void {
  r.get(
    '/opportunities',
    page(async (req, res) => {
      parseInput(z.strictObject({ mine: z.enum(['1']).optional() }), req.query);
      const mine = req.query.mine === '1' && req.auth?.repId ? req.auth.repId : undefined;
      const list = await listOpportunities({ limit: 500, ...(mine ? { ownerId: mine } : {}) });
      const columns = opportunityStages.map((stage) => {
        const items = list.items.filter((o) => o.stage === stage);
        return { stage, items, total: items.reduce((s, o) => s + (o.amount ?? 0), 0) };
      });
      await renderView(deps.config.templatesDir, res, 'opportunities', {
        title: 'Opportunities',
        reps: (await repDirectory()).names,
        nav: 'opportunities',
        principal: req.auth,
        csrf: deps.csrfToken(req, res),
        columns,
        stages: opportunityStages,
        mine: Boolean(mine),
        hasRep: Boolean(req.auth?.repId),
        isMarketingOnly: req.auth?.role === 'marketing',
      });
    }),
  );
  r.post(
    '/opportunities/:id/stage',
    page(async (req, res) => {
      if (req.auth?.role === 'marketing') throw forbidden('opportunities are moved by sales');
      const body = parseInput(
        z.strictObject({
          _csrf: z.string(),
          stage: z.enum(opportunityStages),
          reason: z.string().max(1000).optional(),
        }),
        req.body,
      );
      await patchOpportunity(
        parseInput(oppId, req.params.id),
        {
          stage: body.stage,
          ...(body.stage === 'closed_lost' && body.reason ? { reason: body.reason } : {}),
        },
        actor(req),
      );
      res.redirect(303, '/app/opportunities');
    }),
  );
  r.post(
    '/leads/:id/convert',
    page(async (req, res) => {
      const body = parseInput(
        z.strictObject({ _csrf: z.string(), createOpportunity: z.enum(['true']).optional() }),
        req.body,
      );
      const id = parseInput(oppId, req.params.id);
      const terms = await agreementTerms(await latestAgreementVersion());
      await convertLeadManually(id, { createOpportunity: body.createOpportunity === 'true', terms });
      res.redirect(303, `/app/leads/${id}`);
    }),
  );
}
