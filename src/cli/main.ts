import { runCli } from './index.js';

runCli(process.argv).catch((err: unknown) => {
  process.stderr.write(`leadflow: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
