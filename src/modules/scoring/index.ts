export {
  ScoreEntry,
  ScoringRuleset,
  RescoreRun,
  DecayPass,
  ScoredMark,
  ScoringReconcileCursor,
} from './scoring.model.js';
export { currentRuleset, putRuleset, getRulesetView, rescoreStatus } from './ruleset.service.js';
export { getLeadScore, reconcileScoring, minuteEventsFilter, purgeScoredMarks } from './scoring.service.js';
export { scoreEvents, resyncLeads } from './scoring.engine.js';
export { startDecayPass, decayChunk } from './scoring.decay.js';
export { runRescore } from './scoring.rescore.js';
export { scoringProcessor } from './scoring.jobs.js';
export { scoringRoutes } from './scoring.routes.js';
export { fitGrade, gradeFor, planAwards, decayPoints, replayLedger, type Ruleset } from './scoring.logic.js';
export { fitFields, rulesetInput, parseRuleset, type RulesetInput } from './scoring.schemas.js';
