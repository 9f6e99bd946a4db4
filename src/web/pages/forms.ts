import type { Router } from 'express';
import { clock } from '../../lib/clock.js';
import { getForm, listForms } from '../../modules/forms/index.js';
import { renderView } from '../views.js';
import { page, type WebDeps } from '../page.js';

const standard = [
  { name: 'email', label: 'Email', type: 'email', required: true },
  { name: 'firstName', label: 'First name', type: 'text', required: false },
  { name: 'lastName', label: 'Last name', type: 'text', required: false },
  { name: 'company', label: 'Company', type: 'text', required: false },
];

/** The live test panel's inputs: the standard ones, then every field the form declares. */
function testFieldsOf(declared: { name: string; label?: string | null; required?: boolean | null }[]) {
  const byName = new Map(declared.map((f) => [f.name, f]));
  return [
    ...standard.map((s) => ({
      ...s,
      label: byName.get(s.name)?.label ?? s.label,
      required: s.required || !!byName.get(s.name)?.required,
    })),
    ...declared
      .filter((f) => !standard.some((s) => s.name === f.name))
      .map((f) => ({ name: f.name, label: f.label ?? f.name, type: 'text', required: !!f.required })),
  ];
}

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
        testFields: testFieldsOf(form.fields ?? []),
        renderedAt: clock.now().getTime(),
      });
    }),
  );
}
