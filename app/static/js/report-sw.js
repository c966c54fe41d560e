/* The report form's service worker (served as /report/sw.js, scope /report): keeps the form and the files it
   needs so it opens with no network. The page sends the list to keep ({type: 'precache', urls}), built from
   url_for in its data block, so no URL is written here. Network first (a fresh page carries a fresh nonce and
   CSRF token), the kept copy when the network fails or is slower than PAGE_WAIT_MS. Only GETs of kept URLs and
   navigations to the form are answered here (by request.destination: respondWith must be called at once); everything else, reports included, goes to the network as if
   there were no worker, so the page itself sees a failed send and keeps its draft. */
'use strict';
var CACHE = 'gridwatch-report-v1';
var PAGE_WAIT_MS = 5000;
var ASSETS = ['script', 'style', 'image', 'font'];
var SCOPE_PATH = new URL(self.registration.scope).pathname;

self.addEventListener('install', function () { self.skipWaiting(); });
self.addEventListener('activate', function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf('gridwatch-report-') === 0 && n !== CACHE; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener('message', function (event) {
  var data = event.data || {};
  if (data.type !== 'precache' || !Array.isArray(data.urls)) return;
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(data.urls.map(function (u) {
      var url = new URL(u, self.location.href);
      if (url.origin !== self.location.origin) return null;
      return fetch(url.href, {credentials: 'same-origin'}).then(function (r) {
        if (r.ok && !r.redirected) return cache.put(url.pathname, r);
        return null;
      }).catch(function () { return null; });
    }));
  }));
});

function kept(path) { return caches.open(CACHE).then(function (c) { return c.match(path); }); }

function networkFirst(request, path, waitMs) {
  return new Promise(function (resolve, reject) {
    var done = false, timer = null;
    function fallback(error) {
      kept(path).then(function (hit) {
        if (done) return;
        if (hit) { done = true; resolve(hit); } else if (error) { done = true; reject(error); }
      });
    }
    if (waitMs) timer = setTimeout(function () { fallback(null); }, waitMs);
    fetch(request).then(function (r) {
      clearTimeout(timer);
      if (r.ok && r.type === 'basic' && !r.redirected) {
        var copy = r.clone();
        caches.open(CACHE).then(function (c) { return c.put(path, copy); });
      }
      if (!done) { done = true; resolve(r); }
    }, function (error) { clearTimeout(timer); fallback(error); });
  });
}

self.addEventListener('fetch', function (event) {
  var request = event.request;
  if (request.method !== 'GET') return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    if (url.pathname === SCOPE_PATH) event.respondWith(networkFirst(request, url.pathname, PAGE_WAIT_MS));
    return;
  }
  // the page's files (scripts, styles, images); its API calls (destination '') go straight to the network
  if (ASSETS.indexOf(request.destination) < 0) return;
  event.respondWith(kept(url.pathname).then(function (hit) {
    return hit ? networkFirst(request, url.pathname, 0) : fetch(request);
  }));
});
