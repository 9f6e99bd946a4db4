import type { Router } from 'express';
import { simpleParser } from 'mailparser';
import { z } from 'zod';
import { forbidden } from '../../lib/errors.js';
import { parseInput } from '../../lib/http.js';
import { listOutbox } from '../../lib/mailer.js';
import { escapeRegex } from '../../modules/leads/index.js';
import { createApiKey, listApiKeys, revokeApiKey, roles } from '../../modules/admin/index.js';
import { renderView } from '../views.js';
import { page, type WebDeps } from '../page.js';

const adminOnly = (role: string | undefined) => {
  if (role !== 'admin') throw forbidden('operations pages are for admin keys');
};

/**
 * The HTML of a message for the outbox page, inert: reading the outbox is not the recipient
 * reading the email, so the open pixel is removed and tracked links go nowhere (loading the pixel
 * recorded an open, and could score and qualify the lead).
 */
export function inertPreview(html: string, publicUrl: string): string {
  const base = escapeRegex(publicUrl.replace(/\/+$/, ''));
  return html
    .replace(new RegExp(`<img\\b[^>]*\\bsrc=["']${base}/t/o/[^"']*["'][^>]*>`, 'gi'), '')
    .replace(
      new RegExp(`\\bhref=(["'])${base}/t/c/[^"']*\\1`, 'gi'),
      'href="#" title="a tracked link (inert in the outbox)"',
    );
}

/** The newest 50 messages of the outbox, parsed: headers, and the HTML as it would arrive. */
async function outboxMessages(outboxDir: string, publicUrl: string) {
  const all = (await listOutbox(outboxDir)).reverse().slice(0, 50);
  return Promise.all(
    all.map(async (m, i) => {
      const p = await simpleParser(m.raw);
      const headers = [...p.headerLines]
        .map((h) => h.line)
        .filter((l) => !/^(dkim-signature|content-)/i.test(l))
        .slice(0, 30);
      return {
        n: i + 1,
        file: m.file,
        subject: p.subject ?? '',
        to: Array.isArray(p.to) ? p.to.map((t) => t.text).join(', ') : (p.to?.text ?? ''),
        date: p.date,
        headers,
        html: typeof p.html === 'string' ? inertPreview(p.html, publicUrl) : null,
        text: p.text ?? '',
      };
    }),
  );
}

/** Operations (admin): the local outbox as mail would arrive, and API keys. */
export function operationsPages(r: Router, deps: WebDeps): void {
  r.get(
    '/outbox',
    page(async (req, res) => {
      adminOnly(req.auth?.role);
      const messages = await outboxMessages(deps.config.outboxDir, deps.config.publicUrl);
      await renderView(deps.config.templatesDir, res, 'outbox', {
        title: 'Outbox',
        nav: 'outbox',
        principal: req.auth,
        csrf: deps.csrfToken(req, res),
        messages,
        smtp: Boolean(deps.config.smtpUrl),
      });
    }),
  );

  r.get(
    '/keys',
    page(async (req, res) => {
      adminOnly(req.auth?.role);
      await renderView(deps.config.templatesDir, res, 'keys', {
        title: 'API keys',
        nav: 'keys',
        principal: req.auth,
        csrf: deps.csrfToken(req, res),
        keys: await listApiKeys(),
        roles,
      });
    }),
  );
  r.post(
    '/keys',
    page(async (req, res) => {
      adminOnly(req.auth?.role);
      const body = parseInput(
        z.strictObject({
          _csrf: z.string(),
          name: z
            .string()
            .trim()
            .min(1)
            .max(200)
            .regex(/^[^\r\n<>]*$/, 'no line breaks or < >'),
          role: z.enum(roles),
        }),
        req.body,
      );
      const created = await createApiKey(body.name, body.role);
      await renderView(
        deps.config.templatesDir,
        res,
        'keys',
        {
          title: 'API keys',
          nav: 'keys',
          principal: req.auth,
          csrf: deps.csrfToken(req, res),
          keys: await listApiKeys(),
          roles,
          created,
        },
        { status: 201 },
      );
    }),
  );
  r.post(
    '/keys/:id/revoke',
    page(async (req, res) => {
      adminOnly(req.auth?.role);
      await revokeApiKey(parseInput(z.string().regex(/^[a-f0-9]{24}$/, 'must be a key id'), req.params.id));
      res.redirect(303, '/app/keys');
    }),
  );
}
