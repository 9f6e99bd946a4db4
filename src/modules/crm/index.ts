export { Contact, type ContactDoc } from './contact.model.js';
export { Account, type AccountDoc } from './account.model.js';
export { AccountKey } from './account-key.model.js';
export {
  Opportunity,
  opportunityStages,
  type OpportunityDoc,
  type OpportunityStage,
} from './opportunity.model.js';
export {
  getContact,
  getAccount,
  toContactJson,
  toAccountJson,
  toOpportunityJson,
  type OpportunityJson,
} from './crm.service.js';
export { crmRoutes } from './crm.routes.js';
