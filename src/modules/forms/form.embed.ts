import { campaignParams } from '../events/index.js';
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
    `  <input type="hidden" name="lf_vid" value="">`,
    `  <button type="submit">Send</button>`,
    `  <p data-leadflow-result role="status"></p>`,
    `</form>`,
    `<script src="${e(publicUrl)}/f/embed.js" async></script>`,
    `<script src="${e(publicUrl)}/t/js" async></script>`,
  ].join('\n');
}

/**
 * The optional script: stamps `_ts` at load, posts as JSON, shows the answer inline with
 * textContent (never HTML). Served from our origin, so a strict CSP still allows it.
 */
export const embedScript = `(function () {
  var nav = window.navigator || {};
  var optedOut = nav.globalPrivacyControl === true || nav.doNotTrack === '1' || nav.doNotTrack === 'yes' ||
    window.doNotTrack === '1' || nav.msDoNotTrack === '1';
  var CAMPAIGN = ${JSON.stringify(campaignParams)};
  function stored(k) {
    try { var v = window.localStorage.getItem(k); if (v) return v; } catch (e) {}
    var m = document.cookie.match(new RegExp('(?:^|; )' + k + '=([^;]*)'));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function hidden(form, name, value) {
    var i = form.querySelector('input[name="' + name + '"]');
    if (!i) { i = document.createElement('input'); i.type = 'hidden'; i.name = name; form.appendChild(i); }
    i.value = value;
  }
  function plain(u) { try { var x = new URL(u); return x.origin + x.pathname; } catch (e) { return ''; } }
  // website tracking (unless the browser opted out): the visitor id and the campaign of this visit,
  // or of the last campaign landing the tracking snippet remembered (30 days at most)
  function tracking(form) {
    if (optedOut) return;
    var vid = stored('lf_vid');
    if (vid) hidden(form, 'lf_vid', vid);
    var q = new URLSearchParams(location.search), attr = null;
    if (CAMPAIGN.some(function (k) { return q.get(k); })) {
      attr = { lf_page: location.origin + location.pathname, lf_ref: plain(document.referrer) };
      CAMPAIGN.forEach(function (k) { var v = q.get(k); if (v) attr[k] = v; });
    } else {
      try { attr = JSON.parse(stored('lf_attr') || 'null'); } catch (e) { attr = null; }
      if (!attr || !(attr.at > Date.now() - 30 * 864e5)) attr = null;
    }
    if (!attr) return;
    CAMPAIGN.concat(['lf_page', 'lf_ref']).forEach(function (k) {
      if (typeof attr[k] === 'string' && attr[k]) hidden(form, k, attr[k].slice(0, k.indexOf('lf_') === 0 ? 2048 : 200));
    });
  }
  var forms = document.querySelectorAll('form[data-leadflow-form]');
  Array.prototype.forEach.call(forms, function (form) {
    var ts = form.querySelector('input[name="_ts"]');
    if (ts && !ts.value) ts.value = String(Date.now());
    tracking(form);
    form.addEventListener('submit', function (ev) {
      tracking(form);
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
