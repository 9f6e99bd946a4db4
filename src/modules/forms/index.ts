export { Form, type FormDoc } from './form.model.js';
export { formRoutes } from './forms.routes.js';
export { putForm, getForm, listForms, submitForm, loadForm } from './forms.service.js';
export { mapSubmission, isSpam, pickRedirect, originAllowed } from './submission.mapping.js';
export { renderEmbed, escapeHtml } from './form.embed.js';
