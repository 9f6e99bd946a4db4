import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import Handlebars from 'handlebars';
import { convert } from 'html-to-text';
import type { Config } from '../../config.js';
import { badRequest } from '../../lib/errors.js';
import { isTrackableUrl, signToken } from './tokens.js';

/** What a send (or a sequence step) says to render; `html`/`text` are inline Handlebars. */
export type EmailContent = {
  subject: string;
  html?: string | null;
  text?: string | null;
  template?: string | null;
};

/** The lead fields templates may use; extra keys and `attributes` are passed through too. */
export type RenderLead = {
  email?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  company?: string | null;
  title?: string | null;
  country?: string | null;
  source?: string | null;
  attributes?: Record<string, unknown> | null;
  [key: string]: unknown;
};

export type RenderInput = {
  lead: RenderLead;
  content: EmailContent;
  /** the EmailSend id; without it (a preview) links stay as written and nothing is tracked */
  sendId?: string;
  /** marketing mail gets an unsubscribe link and List-Unsubscribe headers */
  marketing: boolean;
  /** more values for the template (e.g. the sales notification's handoff); escaped like the lead */
  data?: Record<string, unknown>;
};

export type RenderedEmail = { subject: string; html: string; text: string; headers: Record<string, string> };

export type RenderRuntime = {
  config: Pick<Config, 'publicUrl' | 'templatesDir' | 'mailFrom' | 'dkim'>;
  trackingSecret: string;
};

/** A template name: letters, digits, `-`, `_`, optionally one folder (`promo/spring`); no traversal. */
export const templateNamePattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}(\/[A-Za-z0-9][A-Za-z0-9_-]{0,63})?$/;
/** The path of an unsubscribe link in previews: answered 404, never unsubscribes anyone. */
export const previewUnsubscribePath = '/u/preview';

type Compiled = Handlebars.TemplateDelegate;

// One Handlebars environment per templates directory: partials and helpers are registered once and
// compiled templates are cached for the life of the process (templates are deployed with the code).
type Engine = {
  hb: typeof Handlebars;
  ready: Promise<void>;
  files: Map<string, Promise<Compiled | undefined>>;
  inline: Map<string, Compiled>;
};
const engines = new Map<string, Engine>();
const maxInlineCache = 1000;

function registerHelpers(hb: typeof Handlebars): void {
  /** `{{fallback lead.firstName "there"}}`: the value, or the fallback when it is empty */
  hb.registerHelper('fallback', (value: unknown, fallback: unknown) => {
    const v = typeof value === 'string' ? value.trim() : value;
    return v === undefined || v === null || v === '' ? fallback : v;
  });
  hb.registerHelper('upper', (v: unknown) => (typeof v === 'string' ? v.toUpperCase() : v));
  hb.registerHelper('lower', (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v));
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
}

async function loadPartials(hb: typeof Handlebars, dir: string): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.hbs'));
  } catch {
    return;
  }
  for (const n of names) hb.registerPartial(n.slice(0, -4), await readFile(path.join(dir, n), 'utf8'));
}

function engineFor(templatesDir: string): Engine {
  let e = engines.get(templatesDir);
  if (!e) {
    const hb = Handlebars.create();
    registerHelpers(hb);
    e = {
      hb,
      ready: loadPartials(hb, path.join(templatesDir, 'email', 'partials')),
      files: new Map(),
      inline: new Map(),
    };
    engines.set(templatesDir, e);
  }
  return e;
}

function compileOrReject(hb: typeof Handlebars, source: string, what: string, noEscape: boolean): Compiled {
  try {
    const t = hb.compile(source, { noEscape, strict: false });
    // compile() is lazy: run it once on nothing so a syntax error surfaces here, as a 400
    t({});
    return t;
  } catch (err) {
    throw badRequest(`${what} is not a valid template: ${(err as Error).message.split('\n')[0]}`);
  }
}

function compileInline(e: Engine, source: string, what: string, noEscape: boolean): Compiled {
  const key = `${noEscape ? 't' : 'h'}:${source}`;
  let t = e.inline.get(key);
  if (!t) {
    t = compileOrReject(e.hb, source, what, noEscape);
    if (e.inline.size >= maxInlineCache) e.inline.clear();
    e.inline.set(key, t);
  }
  return t;
}

/** A file under templates/email (or templates/email/layouts); undefined when it does not exist. */
function compileFile(
  e: Engine,
  templatesDir: string,
  relative: string,
  noEscape: boolean,
): Promise<Compiled | undefined> {
  const key = `${noEscape ? 't' : 'h'}:${relative}`;
  let p = e.files.get(key);
  if (!p) {
    const root = path.resolve(templatesDir, 'email');
    const file = path.resolve(root, relative);
    if (!file.startsWith(root + path.sep)) throw badRequest(`template ${relative} is outside templates/`);
    p = readFile(file, 'utf8').then(
      (src) => compileOrReject(e.hb, src, `template ${relative}`, noEscape),
      () => undefined,
    );
    e.files.set(key, p);
  }
  return p;
}

// eslint-disable-next-line no-control-regex -- stripping control characters is the point
const controlChars = /[\u0000-\u001f\u007f]+/g;

/** Header-safe text: control characters (CR/LF above all) become spaces. */
export function headerSafe(v: string, max = 500): string {
  return v.replace(controlChars, ' ').replace(/\s+/g, ' ').trim().slice(0, max);
}

/** The lead as templates see it: plain values only, strings without control characters. */
export function templateLead(lead: RenderLead): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const clean = (v: unknown): unknown => {
    if (typeof v === 'string') return headerSafe(v, 2000);
    if (typeof v === 'number' || typeof v === 'boolean') return v;
    if (v instanceof Date) return v.toISOString();
    return undefined;
  };
  for (const [k, v] of Object.entries(lead)) {
    if (k === 'attributes' || k.startsWith('$') || k.startsWith('_')) continue;
    const c = clean(v);
    if (c !== undefined) out[k] = c;
  }
  const attributes: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(lead.attributes ?? {})) {
    const c = clean(v);
    if (c !== undefined) attributes[k] = c;
  }
  out.attributes = attributes;
  if (lead._id !== undefined) out.id = String(lead._id);
  return out;
}

const namedEntities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes the entities an attribute value may carry (Handlebars writes &amp; &#x3D; &#x27; ...). */
export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, ent: string) => {
    if (ent[0] === '#') {
      const code = ent[1] === 'x' || ent[1] === 'X' ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : m;
    }
    return namedEntities[ent.toLowerCase()] ?? m;
  });
}

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

const anchorHref = /(<a\b[^>]*?\bhref\s*=\s*)("([^"]*)"|'([^']*)'|([^\s"'>]+))/gi;

/**
 * Rewrites the href of every `<a>` whose target is an http(s) URL through `track`; other links
 * (mailto:, tel:, anchors) and links `track` declines are left as they are.
 */
export function rewriteLinks(html: string, track: (url: string) => string | undefined): string {
  return html.replace(anchorHref, (whole, lead: string, _q, dq?: string, sq?: string, bare?: string) => {
    const url = decodeEntities((dq ?? sq ?? bare ?? '').trim());
    if (!isTrackableUrl(url)) return whole;
    const tracked = track(url);
    return tracked ? `${lead}"${escapeAttr(tracked)}"` : whole;
  });
}

const textUrl = /https?:\/\/[^\s<>"'`]+/g;

/** Rewrites bare http(s) URLs of a plain-text part (trailing punctuation stays outside the link). */
export function rewriteTextLinks(text: string, track: (url: string) => string | undefined): string {
  return text.replace(textUrl, (found) => {
    const m = /[.,;:!?)\]]+$/.exec(found);
    const url = m ? found.slice(0, -m[0].length) : found;
    const tracked = isTrackableUrl(url) ? track(url) : undefined;
    return tracked ? tracked + (m ? m[0] : '') : found;
  });
}

/** The domain our Message-IDs are minted on: the DKIM domain, else the sender's domain. */
export function messageIdDomain(config: RenderRuntime['config']): string {
  if (config.dkim) return config.dkim.domainName;
  const m = /@([A-Za-z0-9.-]+)>?\s*$/.exec(config.mailFrom);
  return m?.[1] ?? new URL(config.publicUrl).hostname;
}

function insertPixel(html: string, pixel: string): string {
  const i = html.toLowerCase().lastIndexOf('</body>');
  return i < 0 ? html + pixel : html.slice(0, i) + pixel + html.slice(i);
}

/**
 * Renders one email for one lead: subject, HTML (layout + template or inline html, escaped by
 * default), a plain-text part (given, or derived from the HTML), every http(s) link rewritten to a
 * signed click link, an open pixel, and for marketing mail an unsubscribe link and RFC 8058 headers.
 *
 * Without `sendId` (previews) nothing is tracked: links stay as written, there is no pixel, and the
 * unsubscribe link points at `/u/preview`, which unsubscribes no one.
 */
export async function renderEmail(rt: RenderRuntime, input: RenderInput): Promise<RenderedEmail> {
  const { config, trackingSecret } = rt;
  const { content, sendId, marketing } = input;
  const e = engineFor(config.templatesDir);
  await e.ready;
  const base = config.publicUrl;

  const unsubscribeUrl = marketing
    ? sendId
      ? `${base}/u/${signToken(trackingSecret, { kind: 'unsubscribe', sendId })}`
      : `${base}${previewUnsubscribePath}`
    : undefined;
  const context = { ...input.data, lead: templateLead(input.lead), unsubscribeUrl, marketing };

  let bodyTemplate: Compiled | undefined;
  let textTemplate: Compiled | undefined;
  if (content.template) {
    if (!templateNamePattern.test(content.template)) {
      throw badRequest(`template name ${JSON.stringify(content.template)} is not allowed`);
    }
    bodyTemplate = await compileFile(e, config.templatesDir, `${content.template}.hbs`, false);
    if (!bodyTemplate) throw badRequest(`template ${content.template} does not exist`);
    textTemplate = await compileFile(e, config.templatesDir, `${content.template}.txt.hbs`, true);
  }
  if (content.html) bodyTemplate = compileInline(e, content.html, 'html', false);
  if (content.text) textTemplate = compileInline(e, content.text, 'text', true);
  if (!bodyTemplate && !textTemplate) throw badRequest('an email needs a template, html or text');

  const subject = headerSafe(compileInline(e, content.subject, 'subject', true)(context));
  const layout = await compileFile(e, config.templatesDir, 'layouts/default.hbs', false);

  const track = (url: string) =>
    sendId && !url.startsWith(`${base}/u/`) && !url.startsWith(`${base}/t/`)
      ? `${base}/t/c/${signToken(trackingSecret, { kind: 'click', sendId, url })}`
      : undefined;

  let html: string;
  if (bodyTemplate) {
    const body = bodyTemplate(context);
    html = layout ? layout({ ...context, subject, body }) : body;
  } else {
    // text only: a minimal HTML part that shows the text as written
    const escaped = Handlebars.escapeExpression(textTemplate!(context));
    html = layout ? layout({ ...context, subject, body: `<pre>${escaped}</pre>` }) : `<pre>${escaped}</pre>`;
  }
  html = rewriteLinks(html, track);

  let text: string;
  if (textTemplate) {
    text = rewriteTextLinks(textTemplate(context), track);
    if (unsubscribeUrl && !text.includes(unsubscribeUrl)) text += `\n\nUnsubscribe: ${unsubscribeUrl}\n`;
  } else {
    text = convert(html, {
      wordwrap: 78,
      selectors: [
        { selector: 'img', format: 'skip' },
        { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
      ],
    });
  }

  if (sendId) {
    const pixel = `<img src="${base}/t/o/${signToken(trackingSecret, { kind: 'open', sendId })}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />`;
    html = insertPixel(html, pixel);
  }

  const headers: Record<string, string> = {};
  if (unsubscribeUrl) {
    headers['List-Unsubscribe'] = `<${unsubscribeUrl}>`;
    headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
  }
  if (sendId) headers['Message-ID'] = `<${sendId}@${messageIdDomain(config)}>`;
  return { subject, html, text, headers };
}
