import { startRuntime } from './lib/runtime.js';
import { startApi } from './server.js';
import { startWorkers } from '../workers/all.js';
import { startScheduler } from '../workers/scheduler.js';

// `npm start`: API, every worker kind and the scheduler in one process (one machine). When
// MONGODB_URI/REDIS_URL are unset, startRuntime brings up the local servers first.
const rt = await startRuntime('main');
startWorkers(rt);
startScheduler(rt);
await startApi(rt);
