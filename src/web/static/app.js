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
})();
