import { registerLeadOwnedCollection } from '../leads/index.js';
import { ScoreEntry } from './scoring.model.js';

// a merge moves a lead's ledger to the survivor; erasure deletes it
registerLeadOwnedCollection(ScoreEntry.collection.collectionName);

export { ScoreEntry, ScoringRuleset, RescoreRun, DecayPass } from './scoring.model.js';
export { currentRuleset, putRuleset, getRulesetView, rescoreStatus } from './ruleset.service.js';
export { getLeadScore, reconcileScoring } from './scoring.service.js';
export { scoreEvents, resyncLeads } from './scoring.engine.js';
export { startDecayPass, decayChunk } from './scoring.decay.js';
export { runRescore } from './scoring.rescore.js';
export { scoringProcessor } from './scoring.jobs.js';
export { scoringRoutes } from './scoring.routes.js';
export { fitGrade, gradeFor, planAwards, decayPoints, replayLedger, type Ruleset } from './scoring.logic.js';
export { rulesetInput, type RulesetInput } from './scoring.schemas.js';
