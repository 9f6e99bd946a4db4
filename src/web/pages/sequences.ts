import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import { forbidden } from '../../lib/errors.js';
import { zodDetails, parseInput } from '../../lib/http.js';
import { Lead } from '../../modules/leads/index.js';
import {
  getSequence,
  listSequences,
  previewSequence,
  putSequence,
  sequenceDefinitionSchema,
  sequenceStats,
} from '../../modules/sequences/index.js';
import { renderView } from '../views.js';
import { page, type WebDeps } from '../page.js';

const starter = {
  name: 'Welcome',
  enroll: { formIds: [] },
  steps: [
    {
      id: 'hello',
      wait: '0s',
      subject: 'Hi {{lead.firstName}}',
      html: '<p>Thanks for getting in touch, {{lead.firstName}}.</p>',
    },
  ],
  exitOn: ['qualified', 'converted', 'unsubscribed'],
  reenroll: 'never',
};

const keyPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const editorBody = z.strictObject({
  _csrf: z.string(),
  definition: z.string().max(500_000),
  key: z.string().regex(keyPattern, 'must be 1-64 letters, digits, _ or -').optional(),
  leadEmail: z.string().max(254).optional(),
});

/** Parses the editor's JSON against the API's own schema: the messages the page shows. */
function check(definition: string) {
  let json: unknown;
  try {
    json = JSON.parse(definition);
  } catch (err) {
    return { ok: false as const, errors: [{ path: '(json)', message: (err as Error).message }] };
  }
  const r = sequenceDefinitionSchema.safeParse(json);
  return r.success
    ? { ok: true as const, value: r.data, errors: [] }
    : { ok: false as const, errors: zodDetails(r.error) };
}

async function editor(
  deps: WebDeps,
  req: Request,
  res: Response,
  key: string | null,
  extra: Record<string, unknown> = {},
) {
  const current = key ? await getSequence(key) : null;
  const [stats] = key ? await Promise.all([sequenceStats(key)]) : [null];
  // the stored version without what the server adds (key, version, createdAt): what was PUT
  const { key: _k, version: _v, createdAt, ...definition } = (current ?? {}) as Record<string, unknown>;
  await renderView(
    deps.config.templatesDir,
    res,
    'sequence',
    {
      title: key ? `Sequence ${key}` : 'New sequence',
      nav: 'sequences',
      principal: req.auth,
      csrf: deps.csrfToken(req, res),
      key,
      version: current?.version ?? null,
      savedAt: createdAt ?? null,
      saved: req.query.saved === '1',
      definition: JSON.stringify(key ? definition : starter, null, 2),
      stats,
      ...extra,
    },
    { status: (extra.status as number | undefined) ?? 200 },
  );
}

export function sequencePages(r: Router, deps: WebDeps): void {
  r.get(
    '/sequences',
    page(async (req, res) => {
      const list = await listSequences({ limit: 200 });
      const items = await Promise.all(
        list.items.map(async (s: { key: string }) => ({ ...s, stats: await sequenceStats(s.key) })),
      );
      await renderView(deps.config.templatesDir, res, 'sequences', {
        title: 'Sequences',
        nav: 'sequences',
        principal: req.auth,
        csrf: deps.csrfToken(req, res),
        sequences: items,
      });
    }),
  );
  r.get(
    '/sequences/new',
    page((req, res) => editor(deps, req, res, null)),
  );
  r.get(
    '/sequences/:key',
    page((req, res) => editor(deps, req, res, parseInput(z.string().regex(keyPattern), req.params.key))),
  );

  // validation as you type (htmx posts the editor's text; the answer is the messages fragment)
  r.post(
    '/sequences/validate',
    page(async (req, res) => {
      const body = parseInput(editorBody, req.body);
      await renderView(
        deps.config.templatesDir,
        res,
        'sequence-check',
        { title: '', ...check(body.definition) },
        { fragment: true },
      );
    }),
  );

  r.post(
    '/sequences/save',
    page(async (req, res) => {
      const body = parseInput(editorBody, req.body);
      if (req.auth!.role === 'sales') throw forbidden('the sales role may read sequences, not change them');
      const c = check(body.definition);
      if (!c.ok || !body.key) {
        const errors = body.key
          ? c.errors
          : [{ path: 'key', message: 'a sequence needs a key' }, ...c.errors];
        return editor(deps, req, res, null, {
          definition: body.definition,
          errors,
          status: 400,
          newKey: body.key,
        });
      }
      await putSequence(body.key, c.value);
      res.redirect(303, `/app/sequences/${encodeURIComponent(body.key)}?saved=1`);
    }),
  );

  previewPage(r, deps);
}

/** A preview of every step for a chosen lead (by email) or a sample lead; renders, sends nothing. */
function previewPage(r: Router, deps: WebDeps): void {
  r.post(
    '/sequences/:key/preview',
    page(async (req, res) => {
      const key = parseInput(z.string().regex(keyPattern), req.params.key);
      const body = parseInput(editorBody, req.body);
      const lead = body.leadEmail?.trim()
        ? await Lead.findOne(
            { emailKey: body.leadEmail.trim().toLowerCase(), mergedInto: null },
            { _id: 1 },
          ).lean()
        : null;
      const preview = await previewSequence(deps, key, lead ? { leadId: String(lead._id) } : {});
      await renderView(
        deps.config.templatesDir,
        res,
        'sequence-preview',
        { title: '', steps: preview.steps, leadEmail: body.leadEmail, found: !!lead },
        { fragment: true },
      );
    }),
  );
}
