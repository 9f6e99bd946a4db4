import express, { type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import type { AppDeps, AreaRoutes } from '../../lib/app-types.js';
import { badRequest, forbidden, notFound, unsupportedMediaType } from '../../lib/errors.js';
import { listQuery, parseInput, parseQuery, toAppError } from '../../lib/http.js';
import { rateLimit } from '../../lib/rate-limit.js';
import { allow } from '../admin/index.js';
import { requireQueueConnection } from '../leads/index.js';
import { embedScript, renderErrorPage, renderFormPage, renderThanksPage } from './form.embed.js';
import type { FormDoc } from './form.model.js';
import { formDefinitionSchema, formIdParam, formIdPattern } from './forms.schemas.js';
import { getForm, listForms, loadForm, putForm, submitForm } from './forms.service.js';
import { originAllowed } from './submission.mapping.js';

type FormRequest = Request & { form?: FormDoc };

/** A browser (urlencoded post, or asking for HTML) gets HTML pages; scripts get JSON. */
function wantsHtml(req: Request): boolean {
  if (req.is('application/json')) return false;
  if (req.is('application/x-www-form-urlencoded') || req.is('multipart/form-data')) return true;
  return req.accepts(['json', 'html']) === 'html';
}

/** Finds the form (404) and checks the Origin against its allowed origins (403); sets CORS headers. */
const withForm: RequestHandler = async (req, res, next) => {
  const formId = String(req.params.formId);
  const form = formIdPattern.test(formId) ? await loadForm(formId) : null;
  if (!form) return next(notFound('form'));
  const origin = req.get('Origin');
  if (!originAllowed(form.allowedOrigins, origin))
    return next(forbidden('this origin may not post to this form'));
  if (origin) {
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Vary', 'Origin');
  }
  (req as FormRequest).form = form;
  next();
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Refuses bodies that are not valid UTF-8, raw or percent-encoded (`%FF`): decoders would
 * otherwise keep replacement characters or the escapes themselves as text.
 */
function verifyUtf8(req: Request, _res: unknown, buf: Buffer): void {
  const invalid = () => badRequest('the form body is not valid UTF-8');
  let text: string;
  try {
    text = utf8.decode(buf);
  } catch {
    throw invalid();
  }
  if (!text.includes('%') || req.is('application/json')) return;
  for (const part of text.split('&')) {
    try {
      decodeURIComponent(part.replace(/\+/g, ' '));
    } catch {
      throw invalid();
    }
  }
}

function formBodyParsers(limitBytes: number): RequestHandler[] {
  const limit = Math.min(limitBytes, 256 * 1024);
  return [
    (req, _res, next) => {
      const hasBody =
        Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
      if (hasBody && !req.is(['application/x-www-form-urlencoded', 'application/json'])) {
        return next(unsupportedMediaType('application/x-www-form-urlencoded or application/json'));
      }
      next();
    },
    express.urlencoded({ extended: false, limit, parameterLimit: 200, verify: verifyUtf8 }),
    express.json({ limit, strict: true, verify: verifyUtf8 }),
  ];
}

/** Errors on `/f/*`: browsers get a small HTML page naming the fields, scripts API.md's JSON. */
function formErrors(deps: AppDeps): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (!wantsHtml(req) || res.headersSent) return next(err);
    const { error, errorId } = toAppError(err);
    if (errorId) deps.logger.error({ err, errorId }, 'unhandled error');
    for (const [k, v] of Object.entries(error.headers ?? {})) res.setHeader(k, v);
    res
      .status(error.status)
      .type('html')
      .send(renderErrorPage(error.status, error.message, error.details));
  };
}

/** `POST /f/:formId` (Web-to-Lead), its CORS preflight, a hosted page and the embed script; `/api/forms`. */
export const formRoutes: AreaRoutes = {
  name: 'forms',
  public: (app, deps) => {
    const { config } = deps;
    const r = express.Router();
    const limiter = rateLimit({
      redis: deps.redis,
      prefix: config.queuePrefix,
      limit: config.rateLimit.publicPerWindow,
      windowSeconds: config.rateLimit.windowSeconds,
      logger: deps.logger,
      // per client and form: one busy form does not lock a visitor out of another
      key: (req) => {
        const formId = String(req.params.formId);
        return `form:${formIdPattern.test(formId) ? formId : '(invalid)'}:${req.ip ?? 'unknown'}`;
      },
    });

    r.get('/f/embed.js', (_req, res) => {
      res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.type('application/javascript').send(embedScript);
    });

    r.options('/f/:formId', limiter, withForm, (_req, res) => {
      res.setHeader('Access-Control-Allow-Methods', 'POST');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Accept');
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
    });

    r.get('/f/:formId', limiter, withForm, (req, res) => {
      const form = (req as FormRequest).form!;
      res.type('html').send(
        renderFormPage(
          {
            formId: form.formId,
            name: form.name,
            honeypot: form.honeypot ?? '_hp',
            fields: form.fields as never,
          },
          config.publicUrl,
          Date.now(),
        ),
      );
    });

    r.post(
      '/f/:formId',
      limiter,
      requireQueueConnection(deps.redis),
      withForm,
      ...formBodyParsers(config.bodyLimitBytes),
      async (req, res) => {
        const form = (req as FormRequest).form!;
        const body = req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? req.body : {};
        const out = await submitForm(form, body as Record<string, unknown>, {
          origin: req.get('Origin'),
          userAgent: req.get('User-Agent'),
          trackingSecret: deps.trackingSecret,
        });
        if (wantsHtml(req)) {
          if (out.redirect) res.redirect(303, out.redirect);
          else res.status(200).type('html').send(renderThanksPage());
          return;
        }
        res.status(out.created ? 201 : 200).json({ leadId: out.leadId, created: out.created });
      },
    );

    r.use('/f', formErrors(deps));
    app.use(r);
  },
  api: (api, deps) => {
    const publicUrl = deps.config.publicUrl;
    api.put('/forms/:formId', allow('marketing'), async (req, res) => {
      const { formId } = parseInput(formIdParam, req.params);
      res.json(await putForm(formId, parseInput(formDefinitionSchema, req.body), publicUrl));
    });
    api.get('/forms', allow('marketing'), async (req, res) => {
      const q = parseQuery(listQuery, req.query);
      res.json(await listForms(publicUrl, q.limit, q.cursor));
    });
    api.get('/forms/:formId', allow('marketing'), async (req, res) => {
      const { formId } = parseInput(formIdParam, req.params);
      parseQuery({}, req.query);
      res.json(await getForm(formId, publicUrl));
    });
  },
};
