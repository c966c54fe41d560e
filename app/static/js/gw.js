/* gridwatch's page core (loaded first on every page that has scripts): the page's data, messages and
   code names from its one JSON block (id="gw-page", written by the page_data() template global), and the
   few helpers every module uses. Server text goes into the page with textContent, never innerHTML. */
(function () {
  'use strict';
  var gw = window.gw = window.gw || {};
  var block = document.getElementById('gw-page');
  gw.page = block ? JSON.parse(block.textContent) : {lang: 'zh', messages: {}, labels: {}, data: {}};
  gw.data = gw.page.data;

  /* a message of the page's catalogue ({name} placeholders filled from values); unknown keys show as themselves */
  gw.t = function (key, values) {
    var text = gw.page.messages[key] || key;
    Object.keys(values || {}).forEach(function (k) { text = text.split('{' + k + '}').join(String(values[k])); });
    return text;
  };
  /* a code by its name (app.labels): gw.label('state', 'in_progress') → 处置中 */
  gw.label = function (kind, code) {
    var names = gw.page.labels[kind] || {};
    return code == null ? '' : (names[code] || String(code));
  };
  /* an element with text (never parsed as HTML) and attributes */
  gw.el = function (tag, text, attrs) {
    var e = document.createElement(tag);
    if (text != null) e.textContent = String(text);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  };
  /* server times come in the district's zone with their offset: shown as YYYY-MM-DD HH:MM */
  gw.when = function (iso) { return iso ? String(iso).slice(0, 16).replace('T', ' ') : ''; };
  gw.csrf = function () {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : '';
  };
  /* fetch JSON (same origin, CSRF header on writes); rejects with an Error carrying .status and .body and
     the server's message, so a caller can tell a 409 (reload) from a 422 (fix the field); opts.timeoutMs
     gives up (aborts) a request that has not answered by then */
  var inflight = [];   /* the controllers of the requests under way: log-out aborts them (see below) */
  gw.api = function (url, opts) {
    opts = opts || {};
    if (gw.leaving) {   /* logging out: a request now would only be refused (401) */
      var gone = new Error('logging out'); gone.status = 0;
      return Promise.reject(gone);
    }
    var headers = {'Accept': 'application/json'};
    var body = opts.body;
    if (opts.json !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(opts.json); }
    var method = opts.method || (body ? 'POST' : 'GET');
    if (method !== 'GET') headers['X-CSRF-Token'] = gw.csrf();
    Object.keys(opts.headers || {}).forEach(function (k) { headers[k] = opts.headers[k]; });
    var ctrl = window.AbortController ? new AbortController() : null;
    if (ctrl) inflight.push(ctrl);
    var timer = (ctrl && opts.timeoutMs) ? setTimeout(function () { ctrl.abort(); }, opts.timeoutMs) : null;
    var settle = function () {
      if (timer) clearTimeout(timer);
      var i = inflight.indexOf(ctrl); if (i >= 0) inflight.splice(i, 1);
    };
    return fetch(url, {method: method, credentials: 'same-origin', headers: headers, body: body,
                       signal: opts.signal || (ctrl ? ctrl.signal : undefined)}).then(function (r) {
      settle();
      return r.text().then(function (raw) {
        var parsed = null;
        try { parsed = raw ? JSON.parse(raw) : null; } catch (e) { parsed = null; }
        if (!r.ok) {
          var err = new Error((parsed && (parsed.message || parsed.description)) || (url + ' → ' + r.status));
          err.status = r.status; err.body = parsed;
          throw err;
        }
        return parsed;
      });
    }, function (e) { settle(); throw e; });
  };
  gw.getJSON = function (url) { return gw.api(url); };

  /* log-out forgets the pages an offline worker keeps for this account (the report form carries its
     user, grids and CSRF token): on a shared phone the next account must not be handed them. Drafts
     (IndexedDB) stay: they are sent by the account that made them. */
  var logout = document.getElementById('gw-logout');
  /* log-out first stops this page's requests (a poll answered after the session ended would be a 401) */
  if (logout) {
    logout.addEventListener('submit', function () {
      gw.leaving = true;
      inflight.splice(0).forEach(function (c) { c.abort(); });
    });
  }
  if (logout && window.caches) {
    logout.addEventListener('submit', function (e) {
      if (logout.dataset.forgotten) return;
      e.preventDefault();
      var pages = (logout.dataset.forget || '').split(' ').filter(Boolean);
      var done = function () { if (logout.dataset.forgotten) return; logout.dataset.forgotten = '1'; logout.submit(); };
      caches.keys().then(function (names) {
        return Promise.all(names.map(function (n) {
          return caches.open(n).then(function (c) { return Promise.all(pages.map(function (p) { return c.delete(p); })); });
        }));
      }).then(done, done);
      setTimeout(done, 2000);  /* never keep anyone from logging out */
    });
  }
}());
