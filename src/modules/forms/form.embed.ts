import type { ErrorDetail } from '../../lib/errors.js';

/** Escapes text for HTML content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"'`=]/g,
    (c) =>
      ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;', '=': '&#61;' })[
        c
      ]!,
  );
}

type EmbedForm = {
  formId: string;
  name: string;
  honeypot: string;
  fields: { name: string; label?: string | null; required?: boolean | null }[];
};

const standardInputs: { name: string; label: string; type: string }[] = [
  { name: 'email', label: 'Email', type: 'email' },
  { name: 'firstName', label: 'First name', type: 'text' },
  { name: 'lastName', label: 'Last name', type: 'text' },
  { name: 'company', label: 'Company', type: 'text' },
];

/**
 * The embed snippet: a plain HTML form that works without JavaScript (a urlencoded POST, then a
 * 303 to the redirect URL), plus an optional script that stamps the render time (`_ts`), submits
 * as JSON and shows the result inline. Every value is escaped.
 */
export function renderEmbed(form: EmbedForm, publicUrl: string, renderedAtMs?: number): string {
  const e = escapeHtml;
  const action = `${publicUrl}/f/${encodeURIComponent(form.formId)}`;
  const declared = new Map(form.fields.map((f) => [f.name, f]));
  const rows: string[] = [];
  for (const s of standardInputs) {
    const d = declared.get(s.name);
    const required = s.name === 'email' || !!d?.required;
    rows.push(
      `  <label>${e(d?.label ?? s.label)} <input type="${s.type}" name="${e(s.name)}"${required ? ' required' : ''}></label>`,
    );
  }
  for (const f of form.fields) {
    if (standardInputs.some((s) => s.name === f.name)) continue;
    rows.push(
      `  <label>${e(f.label ?? f.name)} <input type="text" name="${e(f.name)}"${f.required ? ' required' : ''}></label>`,
    );
  }
  return [
    `<form action="${e(action)}" method="post" accept-charset="UTF-8" data-leadflow-form="${e(form.formId)}">`,
    ...rows,
    `  <div style="position:absolute;left:-10000px" aria-hidden="true"><input type="text" name="${e(form.honeypot)}" tabindex="-1" autocomplete="off"></div>`,
    `  <input type="hidden" name="_ts" value="${renderedAtMs === undefined ? '' : String(renderedAtMs)}">`,
    `  <button type="submit">Send</button>`,
    `  <p data-leadflow-result role="status"></p>`,
    `</form>`,
    `<script src="${e(publicUrl)}/f/embed.js" async></script>`,
  ].join('\n');
}

/**
 * The optional script: stamps `_ts` at load, posts as JSON, shows the answer inline with
 * textContent (never HTML). Served from our origin, so a strict CSP still allows it.
 */
export const embedScript = `(function () {
  var forms = document.querySelectorAll('form[data-leadflow-form]');
  Array.prototype.forEach.call(forms, function (form) {
    var ts = form.querySelector('input[name="_ts"]');
    if (ts && !ts.value) ts.value = String(Date.now());
    form.addEventListener('submit', function (ev) {
      if (!window.fetch) return;
      ev.preventDefault();
      var out = form.querySelector('[data-leadflow-result]');
      var data = {};
      new FormData(form).forEach(function (v, k) { data[k] = String(v); });
      fetch(form.action, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(data) })
        .then(function (res) { return res.json().then(function (body) { return { ok: res.ok, body: body }; }); })
        .then(function (r) {
          if (!out) return;
          if (r.ok) { out.textContent = 'Thank you!'; form.reset(); return; }
          var d = (r.body && r.body.error && r.body.error.details) || [];
          out.textContent = 'Please check: ' + (d.length ? d.map(function (x) { return x.path + ' ' + x.message; }).join('; ') : (r.body.error && r.body.error.message) || 'the form');
        })
        .catch(function () { form.submit(); });
    });
  });
})();
`;

/** The small page a browser gets for invalid input: names the fields, escaped. */
export function renderErrorPage(status: number, message: string, details: ErrorDetail[] = []): string {
  const items = details.map(
    (d) => `<li><strong>${escapeHtml(d.path)}</strong> ${escapeHtml(d.message)}</li>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Please check the form</title></head>
<body>
<h1>${status === 400 ? 'Please check the form' : 'Sorry'}</h1>
<p>${escapeHtml(message)}</p>
${items.length ? `<ul>\n${items.join('\n')}\n</ul>` : ''}
<p>Please go back, correct the form and send it again.</p>
</body></html>
`;
}

export function renderThanksPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Thank you</title></head>
<body><h1>Thank you</h1><p>We received your details.</p></body></html>
`;
}

/** A hosted page for a form: the embed with `_ts` stamped by the server, so no-JS browsers get it too. */
export function renderFormPage(form: EmbedForm, publicUrl: string, nowMs: number): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(form.name)}</title></head>
<body>
<h1>${escapeHtml(form.name)}</h1>
${renderEmbed(form, publicUrl, nowMs)}
</body></html>
`;
}
