import { campaignParams } from './attribution.logic.js';

/** What a site pastes into its pages (before `</body>`, or in `<head>`): one line. */
export function pasteSnippet(publicUrl: string): string {
  return `<script async src="${publicUrl}/t/js"></script>`;
}

/**
 * The tracking script served at `GET /t/js`. In the visitor's browser, on the site's own domain:
 * - sends nothing and stores nothing under Do Not Track or Global Privacy Control;
 * - keeps the signed visitor id leadflow issues (`GET /t/v`) in a first-party cookie and
 *   localStorage (`lf_vid`): no third-party cookie exists;
 * - reports each page view (`POST /t/e` with `navigator.sendBeacon`, a text/plain JSON body, so
 *   no CORS preflight) with the path, the title, the referrer (without its query) and the
 *   campaign parameters of the URL (the rest of the query string is not sent);
 * - takes a lead token from a tracked email click (`?lf_t=`), sends it once and removes it from
 *   the address bar;
 * - remembers the last campaign landing (`lf_attr`) and stamps `lf_vid` into leadflow forms on
 *   the page, so a form submission identifies the visitor and carries the campaign.
 * `leadflow.page()` reports a page view again (single-page apps, after a route change).
 */
export function trackingScript(publicUrl: string): string {
  return `/* leadflow website tracking */
(function (w, d) {
  'use strict';
  var n = w.navigator || {};
  if (n.globalPrivacyControl === true || n.doNotTrack === '1' || n.doNotTrack === 'yes' ||
      w.doNotTrack === '1' || n.msDoNotTrack === '1') return;
  if (w.leadflow && w.leadflow.page) return;
  var base = ${JSON.stringify(publicUrl)};
  try { if (d.currentScript && d.currentScript.src) base = new URL(d.currentScript.src).origin; } catch (e) {}
  var KEY = 'lf_vid', ATTR = 'lf_attr', CAMPAIGN = ${JSON.stringify(campaignParams)};
  var signed = /^[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{22}$/;
  var token = null;
  function read(k) {
    try { var v = w.localStorage.getItem(k); if (v) return v; } catch (e) {}
    var m = d.cookie.match(new RegExp('(?:^|; )' + k + '=([^;]*)'));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function keep(v) {
    try { w.localStorage.setItem(KEY, v); } catch (e) {}
    d.cookie = KEY + '=' + v + '; path=/; max-age=31536000; SameSite=Lax' + (location.protocol === 'https:' ? '; Secure' : '');
  }
  function rid() {
    var a = new Uint8Array(12), c = w.crypto || w.msCrypto, s = '';
    if (c && c.getRandomValues) c.getRandomValues(a); else for (var i = 0; i < 12; i++) a[i] = Math.floor(Math.random() * 256);
    for (var j = 0; j < 12; j++) s += ('0' + a[j].toString(16)).slice(-2);
    return s;
  }
  function page() {
    var u = new URL(location.href), q = new URLSearchParams(), found = false;
    var t = u.searchParams.get('lf_t');
    if (t !== null) {
      token = t; u.searchParams.delete('lf_t');
      try { history.replaceState(history.state, '', u.href); } catch (e) {}
    }
    CAMPAIGN.forEach(function (k) { var v = u.searchParams.get(k); if (v) { q.set(k, v.slice(0, 200)); found = true; } });
    var ref = '';
    try { if (d.referrer) { var r = new URL(d.referrer); ref = r.origin + r.pathname; } } catch (e) {}
    var clean = u.origin + u.pathname + (found ? '?' + q.toString() : '');
    if (found) {
      var attr = { lf_page: u.origin + u.pathname, lf_ref: ref, at: Date.now() };
      q.forEach(function (v, k) { attr[k] = v; });
      try { w.localStorage.setItem(ATTR, JSON.stringify(attr)); } catch (e) {}
    }
    return { url: clean.slice(0, 2048), title: String(d.title || '').slice(0, 300), referrer: ref.slice(0, 2048) };
  }
  function send(vid) {
    var p = page(), body = { e: 'page_view', v: vid, id: rid(), url: p.url, title: p.title, referrer: p.referrer };
    if (token) { body.t = token.slice(0, 200); token = null; }
    var text = JSON.stringify(body);
    if (n.sendBeacon && n.sendBeacon(base + '/t/e', text)) return;
    if (w.fetch) w.fetch(base + '/t/e', { method: 'POST', body: text, keepalive: true, mode: 'no-cors', credentials: 'omit', headers: { 'Content-Type': 'text/plain' } })['catch'](function () {});
  }
  function stamp(form, vid) {
    var i = form.querySelector('input[name="lf_vid"]');
    if (!i) { i = d.createElement('input'); i.type = 'hidden'; i.name = 'lf_vid'; form.appendChild(i); }
    i.value = vid;
  }
  function start(vid) {
    keep(vid);
    Array.prototype.forEach.call(d.querySelectorAll('form[data-leadflow-form]'), function (f) { stamp(f, vid); });
    send(vid);
  }
  // forms rendered later get the id when they are submitted (capture phase: before their own handlers)
  d.addEventListener('submit', function (ev) {
    var f = ev.target, vid = read(KEY);
    if (vid && signed.test(vid) && f && f.matches && f.matches('form[data-leadflow-form]')) stamp(f, vid);
  }, true);
  w.leadflow = { page: function () { var vid = read(KEY); if (vid && signed.test(vid)) send(vid); } };
  var vid = read(KEY);
  if (vid && signed.test(vid)) start(vid);
  else if (w.fetch) w.fetch(base + '/t/v', { credentials: 'omit' })
    .then(function (r) { return r.json(); })
    .then(function (j) { if (j && typeof j.vid === 'string' && signed.test(j.vid)) start(j.vid); })['catch'](function () {});
})(window, document);
`;
}
