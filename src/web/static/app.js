// leadflow web app: small progressive enhancements (every page works without JavaScript).
(function () {
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute('content') : '';
  }
  // htmx requests carry the CSRF token as a header
  document.body.addEventListener('htmx:configRequest', function (ev) {
    ev.detail.headers['X-CSRF-Token'] = csrf();
  });
  // copy buttons: <button data-copy="#id">
  document.addEventListener('click', function (ev) {
    var btn = ev.target.closest && ev.target.closest('[data-copy]');
    if (!btn) return;
    var src = document.querySelector(btn.getAttribute('data-copy'));
    if (!src) return;
    var text = src.value !== undefined ? src.value : src.textContent;
    var done = function () {
      btn.textContent = 'Copied';
      setTimeout(function () {
        btn.textContent = 'Copy';
      }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext)
      navigator.clipboard.writeText(text).then(done, function () {
        if (src.select) src.select();
      });
    else {
      if (src.select) src.select();
      if (document.execCommand) document.execCommand('copy');
      done();
    }
  });
  // "select all" checkbox on lists
  document.addEventListener('change', function (ev) {
    var all = ev.target.closest && ev.target.closest('[data-select-all]');
    if (!all) return;
    document.querySelectorAll(all.getAttribute('data-select-all')).forEach(function (c) {
      c.checked = all.checked;
    });
  });
  // confirmations: <button data-confirm="…">
  document.addEventListener('submit', function (ev) {
    var b = ev.submitter;
    if (b && b.hasAttribute('data-confirm') && !window.confirm(b.getAttribute('data-confirm')))
      ev.preventDefault();
  });
  // the form page's live test submission: posts to the public form endpoint as JSON (same origin)
  // and shows the answer with a link to the lead; without JavaScript it is a plain form POST
  function showResult(out, ok, text, leadId) {
    out.textContent = '';
    out.className = 'test-result notice ' + (ok ? 'good' : 'bad');
    out.appendChild(document.createTextNode(text));
    if (leadId) {
      var a = document.createElement('a');
      a.href = '/app/leads/' + encodeURIComponent(leadId);
      a.textContent = 'Open the lead →';
      out.appendChild(document.createTextNode(' '));
      out.appendChild(a);
    }
  }
  document.addEventListener('submit', function (ev) {
    var form = ev.target.closest && ev.target.closest('form[data-test-submission]');
    if (!form || !window.fetch) return;
    ev.preventDefault();
    var out = document.querySelector(form.getAttribute('data-result'));
    var data = {};
    new window.FormData(form).forEach(function (v, k) {
      data[k] = String(v);
    });
    window
      .fetch(form.action, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(data),
      })
      .then(function (res) {
        return res.json().then(function (body) {
          return { status: res.status, body: body };
        });
      })
      .then(function (r) {
        if (r.status === 201 || r.status === 200) {
          var what = r.body.created
            ? 'Created a new lead (' + r.status + ').'
            : 'Merged into an existing lead (200).';
          showResult(out, true, what, r.body.leadId);
          return;
        }
        var e = (r.body && r.body.error) || {};
        var d = (e.details || []).map(function (x) {
          return x.path + ' ' + x.message;
        });
        showResult(
          out,
          false,
          r.status + ' ' + (e.code || '') + ': ' + (d.length ? d.join('; ') : e.message || ''),
        );
      })
      .catch(function (err) {
        showResult(out, false, 'The request failed: ' + err);
      });
  });
})();
