import type { Router } from 'express';
import { getForm, listForms } from '../../modules/forms/index.js';
import { renderView } from '../views.js';
import { page, type WebDeps } from '../page.js';

/** `/app/forms`: every form; one form's embed snippet (with a copy button) and a live test. */
export function formPages(r: Router, deps: WebDeps): void {
  const publicUrl = deps.config.publicUrl;
  r.get(
    '/forms',
    page(async (req, res) => {
      const forms = await listForms(publicUrl, 200);
      await renderView(deps.config.templatesDir, res, 'forms', {
        title: 'Forms',
        nav: 'forms',
        principal: req.auth,
        csrf: deps.csrfToken(req, res),
        forms: forms.items,
      });
    }),
  );
  r.get(
    '/forms/:formId',
    page(async (req, res) => {
      const form = await getForm(String(req.params.formId), publicUrl);
      await renderView(deps.config.templatesDir, res, 'form', {
        title: `Form ${form.name}`,
        nav: 'forms',
        principal: req.auth,
        csrf: deps.csrfToken(req, res),
        form,
        hostedUrl: `/f/${encodeURIComponent(form.id)}`,
        definition: JSON.stringify({ ...form, embed: undefined }, null, 2),
      });
    }),
  );
}
