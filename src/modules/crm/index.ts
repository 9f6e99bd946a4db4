export { Contact, type ContactDoc } from './contact.model.js';
export { Account, type AccountDoc } from './account.model.js';
export { getContact, getAccount, toContactJson, toAccountJson } from './crm.service.js';
export { crmRoutes } from './crm.routes.js';
