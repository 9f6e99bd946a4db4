import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Response } from 'express';
import Handlebars from 'handlebars';
import type { Principal } from '../modules/admin/index.js';
import { repName } from './timeline-text.js';

type Compiled = Handlebars.TemplateDelegate;
type Env = { hb: typeof Handlebars; views: Map<string, Compiled>; layout: Compiled };
const envs = new Map<string, Promise<Env>>();

const dateFmt = new Intl.DateTimeFormat('en-GB', {
  dateStyle: 'medium',
  timeStyle: 'short',
  timeZone: 'UTC',
});

const dayFmt = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' });

function registerHelpers(hb: typeof Handlebars): void {
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hb.registerHelper('or', (...args: unknown[]) => args.slice(0, -1).some(Boolean));
  hb.registerHelper('date', (d: unknown) => {
    const t = d instanceof Date ? d : typeof d === 'string' ? new Date(d) : null;
    return t && !Number.isNaN(t.getTime()) ? `${dateFmt.format(t)} UTC` : '—';
  });
  hb.registerHelper('day', (d: unknown) => {
    const t = d instanceof Date ? d : typeof d === 'string' ? new Date(d) : null;
    return t && !Number.isNaN(t.getTime()) ? dayFmt.format(t) : '—';
  });
  hb.registerHelper('pct', (n: unknown) => (typeof n === 'number' ? `${(n * 100).toFixed(1)}%` : '—'));
  hb.registerHelper('num', (n: unknown) => (typeof n === 'number' ? n.toLocaleString('en') : '—'));
  hb.registerHelper('days', (n: unknown) => (typeof n === 'number' ? `${n} d` : '—'));
  hb.registerHelper('json', (v: unknown) => JSON.stringify(v, null, 2));
  hb.registerHelper('signed', (n: unknown) => (typeof n === 'number' && n > 0 ? `+${n}` : String(n)));
  // a rep's name for an owner id, from the page's `reps` (id → name); the id when the rep is gone
  hb.registerHelper('owner', (id: unknown, options: Handlebars.HelperOptions) => {
    const reps = (options?.data?.root as { reps?: Record<string, string> } | undefined)?.reps;
    return typeof id === 'string' ? (repName(id, reps) ?? '') : '';
  });
  hb.registerHelper('humanize', (s: unknown) => (typeof s === 'string' ? s.replaceAll('_', ' ') : ''));
}

async function load(dir: string): Promise<Env> {
  const hb = Handlebars.create();
  registerHelpers(hb);
  const views = new Map<string, Compiled>();
  const partialDir = path.join(dir, 'partials');
  for (const f of await readdir(partialDir).catch(() => [] as string[])) {
    if (f.endsWith('.hbs'))
      hb.registerPartial(f.slice(0, -4), await readFile(path.join(partialDir, f), 'utf8'));
  }
  for (const f of await readdir(dir)) {
    if (f.endsWith('.hbs'))
      views.set(f.slice(0, -4), hb.compile(await readFile(path.join(dir, f), 'utf8'), { strict: false }));
  }
  const layout = views.get('layout');
  if (!layout) throw new Error(`no layout.hbs in ${dir}`);
  return { hb, views, layout };
}

/** The app's views (`templates/app/*.hbs`, partials in `partials/`), compiled once per process. */
function viewsOf(templatesDir: string): Promise<Env> {
  const dir = path.join(templatesDir, 'app');
  let env = envs.get(dir);
  if (!env) {
    env = load(dir);
    envs.set(dir, env);
    env.catch(() => envs.delete(dir));
  }
  return env;
}

export type PageContext = {
  title: string;
  /** the navigation entry to highlight */
  nav?: string;
  principal?: Principal;
  csrf?: string;
  [k: string]: unknown;
};

/**
 * Renders a page in the layout (or alone, for htmx fragments). Handlebars escapes every `{{value}}`,
 * so whatever came from a lead is text on the page; views use `{{{…}}}` only for markup we build
 * (the SVG charts, whose labels are escaped by charts.ts).
 */
export async function renderView(
  templatesDir: string,
  res: Response,
  view: string,
  ctx: PageContext,
  opts: { status?: number; fragment?: boolean } = {},
): Promise<void> {
  const env = await viewsOf(templatesDir);
  const tpl = env.views.get(view);
  if (!tpl) throw new Error(`no view ${view}`);
  const role = ctx.principal?.role;
  const full = {
    ...ctx,
    role,
    isAdmin: role === 'admin',
    canMarket: role === 'admin' || role === 'marketing',
    isSales: role === 'sales',
  };
  const body = tpl(full);
  const html = opts.fragment ? body : env.layout({ ...full, body });
  res
    .status(opts.status ?? 200)
    .type('html')
    .setHeader('Cache-Control', 'no-store')
    .send(html);
}
