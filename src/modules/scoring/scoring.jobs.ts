import type { Logger } from '../../lib/logger.js';
import type { Runtime } from '../../lib/runtime.js';
import { enqueue, type Payload } from '../../queues/index.js';
import { decayChunk } from './scoring.decay.js';
import { resyncLeads, retryDelay, scoreEvents } from './scoring.engine.js';
import { runRescore } from './scoring.rescore.js';

/** The `scoring` queue: event batches, lead resyncs, decay chunks and rescoring runs. */
export function scoringProcessor(rt: Runtime) {
  return async (payload: Payload<'scoring'>, { log }: { log: Logger }) => {
    if ('eventIds' in payload) return scoreEvents(rt, payload.eventIds);
    if ('decay' in payload) return decayChunk(rt, payload.decay.passId, payload.decay.leadIds);
    if ('rescore' in payload) return runRescore(rt, payload.rescore.version, log);
    const busy = await resyncLeads(rt, payload.leadIds);
    if (busy.length) await enqueue('scoring', { leadIds: busy }, { delay: retryDelay() });
    return { resynced: payload.leadIds.length - busy.length, deferred: busy.length };
  };
}
