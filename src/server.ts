import type { Server } from 'node:http';
import { buildApp } from './app.js';
import { startRuntime, type Runtime } from './lib/runtime.js';
import { ensureBootstrapKey } from './modules/admin/index.js';
import { onShutdown } from './lib/shutdown.js';
import { isMain } from './lib/is-main.js';

/** Listens on PORT; on SIGTERM stops accepting and lets in-flight requests finish. */
export async function startApi(rt: Runtime): Promise<Server> {
  const app = buildApp(rt);
  const server = app.listen(rt.config.port);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  server.keepAliveTimeout = 5000;
  onShutdown('http', () => new Promise<void>((resolve) => server.close(() => resolve())));
  const key = await ensureBootstrapKey(rt.config);
  rt.logger.info({ url: rt.config.publicUrl, port: rt.config.port }, 'API listening');
  if (key) {
    process.stdout.write(
      `\nleadflow API: ${rt.config.publicUrl}\nadmin API key (kept in ${rt.config.dataDir}/admin-api-key): ${key}\n` +
        `try: curl -H "Authorization: Bearer ${key}" ${rt.config.publicUrl}/api/keys\n\n`,
    );
  }
  return server;
}

if (isMain(import.meta.url)) {
  const rt = await startRuntime('api');
  await startApi(rt);
}
