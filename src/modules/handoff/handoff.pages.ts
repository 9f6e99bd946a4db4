import { readFile } from 'node:fs/promises';
import path from 'node:path';
import express, { type Express, type Request, type Response } from 'express';
import Handlebars from 'handlebars';
import type { AppDeps } from '../../lib/app-types.js';
import { AppError } from '../../lib/errors.js';
import { Lead } from '../leads/index.js';
import { verifyActionToken } from './action-links.js';
import { acceptHandoff, rejectHandoff } from './decision.service.js';
import { Handoff } from './handoff.model.js';

const hb = Handlebars.create();
let compiled: Promise<[Handlebars.TemplateDelegate, Handlebars.TemplateDelegate]> | undefined;

function templates(dir: string) {
  compiled ??= Promise.all(
    ['layout', 'handoff-action'].map(async (n) =>
      hb.compile(await readFile(path.join(dir, 'pages', `${n}.hbs`), 'utf8')),
    ),
  ) as Promise<[Handlebars.TemplateDelegate, Handlebars.TemplateDelegate]>;
  compiled.catch(() => (compiled = undefined));
  return compiled;
}

async function page(deps: AppDeps, res: Response, status: number, ctx: Record<string, unknown>) {
  const [layout, body] = await templates(deps.config.templatesDir);
  res.status(status).type('html').setHeader('Cache-Control', 'no-store');
  res.send(layout({ title: 'leadflow handoff', body: body(ctx) }));
}

async function subject(deps: AppDeps, req: Request, res: Response) {
  const token = verifyActionToken(deps.trackingSecret, String(req.params.token ?? ''));
  const h = token ? await Handoff.findById(token.handoffId, { leadId: 1, ownerId: 1 }).lean() : null;
  if (!token || !h) {
    await page(deps, res, 404, { error: 'This link is not valid' });
    return undefined;
  }
  const lead = await Lead.findById(h.leadId, {
    firstName: 1,
    lastName: 1,
    email: 1,
    company: 1,
    title: 1,
  }).lean();
  const ctx = {
    leadName: [lead?.firstName, lead?.lastName].filter(Boolean).join(' ') || lead?.email || 'The lead',
    company: lead?.company,
    title: lead?.title,
    reject: token.action === 'reject',
  };
  return { token, ctx };
}

/**
 * `/h/:token`: the accept and reject links of the sales notification. GET only shows a page with a
 * button (mail scanners follow links; only a person submits the form); POST acts as the owner the
 * link was made for.
 */
export function handoffPages(app: Express, deps: AppDeps): void {
  const form = express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 5 });
  app.get('/h/:token', async (req, res) => {
    const s = await subject(deps, req, res);
    if (s) await page(deps, res, 200, s.ctx);
  });
  app.post('/h/:token', form, async (req, res) => {
    const s = await subject(deps, req, res);
    if (!s) return;
    try {
      if (s.token.action === 'accept') await acceptHandoff(s.token.handoffId, s.token.ownerId);
      else {
        const reason = typeof req.body?.reason === 'string' ? req.body.reason.trim().slice(0, 1000) : '';
        if (!reason) return void (await page(deps, res, 400, { ...s.ctx, error: 'Please give a reason' }));
        await rejectHandoff(s.token.handoffId, { reason }, s.token.ownerId);
      }
      await page(deps, res, 200, { ...s.ctx, done: s.token.action === 'accept' ? 'Accepted' : 'Rejected' });
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      await page(deps, res, err.status, { ...s.ctx, error: err.message });
    }
  });
}
