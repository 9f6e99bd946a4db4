import type { IncomingMessage } from 'node:http';
import type { AreaRoutes } from '../../lib/app-types.js';
import { AppError, notFound, unsupportedMediaType } from '../../lib/errors.js';
import { parseInput, parseQuery } from '../../lib/http.js';
import { allow, authenticate } from '../admin/index.js';
import { importIdParams, importQuery } from './imports.schemas.js';
import { getImport, importCsv } from './imports.service.js';

const csvTypes = new Set(['text/csv', 'application/csv']);
const utf8Charsets = new Set(['utf-8', 'utf8', 'us-ascii']);

const tooLarge = (max: number) =>
  new AppError(413, 'payload_too_large', `the CSV is larger than ${max} bytes`, undefined, {
    Connection: 'close',
  });

/** The request body as it arrives, stopped with 413 past `max` bytes; never buffered whole. */
async function* limitedBody(req: IncomingMessage, max: number): AsyncGenerator<Buffer> {
  let bytes = 0;
  // not destroyed on stop: the 413 must still reach the client (Connection: close ends the upload)
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > max) throw tooLarge(max);
    yield chunk;
  }
}

/** The content type must be CSV, in UTF-8, and not compressed. */
function checkCsvType(req: IncomingMessage): void {
  const [type = '', ...params] = (req.headers['content-type'] ?? '')
    .split(';')
    .map((s) => s.trim().toLowerCase());
  if (!csvTypes.has(type)) throw unsupportedMediaType('text/csv');
  const charset = params
    .find((p) => p.startsWith('charset='))
    ?.slice(8)
    .replace(/"/g, '');
  if (charset && !utf8Charsets.has(charset)) throw unsupportedMediaType('text/csv; charset=utf-8');
  const encoding = req.headers['content-encoding'];
  if (encoding && encoding !== 'identity') {
    throw new AppError(415, 'unsupported_media_type', 'compressed uploads are not accepted');
  }
}

/**
 * `POST /api/imports` streams its text/csv body, so it is mounted ahead of the /api router (whose
 * JSON-only body handling would refuse it) with the same authentication; `GET /api/imports/:id`
 * lives under /api as usual.
 */
export const importRoutes: AreaRoutes = {
  name: 'imports',
  public: (app, { config }) => {
    const max = config.imports.maxBytes;
    app.post('/api/imports', authenticate(config.adminApiKey), allow('marketing'), async (req, res) => {
      const q = parseQuery(importQuery, req.query);
      checkCsvType(req);
      if (Number(req.headers['content-length'] ?? 0) > max) throw tooLarge(max);
      const report = await importCsv(limitedBody(req, max), {
        source: q.source,
        sequenceKey: q.sequence,
        dryRun: q.dryRun,
        createdBy: req.auth?.keyId,
        maxLineBytes: config.imports.maxLineBytes,
      });
      res.status(q.dryRun ? 200 : 201).json(report);
    });
  },
  api: (api) => {
    api.get('/imports/:id', allow('marketing'), async (req, res) => {
      const { id } = parseInput(importIdParams, req.params);
      parseQuery({}, req.query);
      const found = await getImport(id);
      if (!found) throw notFound('import');
      res.json(found);
    });
  },
};
