/* Patrols from the phone (手机巡查, grid.html): start and stop a patrol; positions from
   navigator.geolocation.watchPosition are kept in localStorage (per account: they survive a reload, a
   closed tab and a dead network) and sent in batches to gw.data.field.urls.points — when enough are
   waiting, every batch_ms, when the network returns, and at stop. The server keeps one point per member
   and instant, so a batch sent again after a lost answer is counted as "already", never stored twice;
   a point is removed from the phone only once the server answered for it. Today's tracks of the user's
   grids are drawn on the map from gw.data.field.urls.today. Extends window.gw, never replaces it. */
(function () {
  'use strict';
  var gw = window.gw = window.gw || {};
  var cfg = (gw.data || {}).field;
  if (!cfg) return;
  var box = document.getElementById('gw-patrol');
  var status = document.getElementById('gw-patrol-status');
  var startBtn = document.getElementById('gw-patrol-start');
  var stopBtn = document.getElementById('gw-patrol-stop');
  var KEY = 'gw.patrol.' + cfg.user;
  var EARTH_RADIUS_M = 6371008.8;   /* mean radius: only to thin out fixes that did not move */
  var MOVED_M = 10;

  function load() {
    var s = null;
    try { s = JSON.parse(localStorage.getItem(KEY) || 'null'); } catch (e) { s = null; }
    return s && Array.isArray(s.queue) ? s : {active: false, track: null, queue: [], kept: 0, sent: 0, last: null};
  }
  var state = load();
  function save() { localStorage.setItem(KEY, JSON.stringify(state)); }

  var watchId = null, timer = null, sending = false, fixNote = '', problem = '';

  function render() {
    if (!status) return;
    var parts = [];
    if (state.active) {
      parts.push(gw.t('patrol_running', {kept: state.kept, sent: state.sent, queued: state.queue.length}));
      if (fixNote) parts.push(fixNote);
    } else if (state.queue.length) {
      parts.push(gw.t('patrol_done_pending', {queued: state.queue.length}));
    } else if (state.track) {
      parts.push(gw.t('patrol_done', {sent: state.sent}));
    } else {
      parts.push(gw.t('patrol_idle'));
    }
    if (state.queue.length && navigator.onLine === false) parts.push(gw.t('patrol_offline'));
    if (problem) parts.push(problem);
    status.textContent = parts.join(' · ');
    if (startBtn) startBtn.hidden = state.active;
    if (stopBtn) stopBtn.hidden = !state.active;
    if (box) box.dataset.queued = String(state.queue.length);
  }

  function metres(a, b) {  /* haversine distance between two {lon, lat} */
    var rad = Math.PI / 180, dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
    var h = Math.sin(dLat / 2) * Math.sin(dLat / 2) +
      Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) * Math.sin(dLon / 2);
    return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
  }

  function onPosition(pos) {
    var c = pos.coords, t = pos.timestamp || Date.now();
    var point = {track: state.track, at: new Date(t).toISOString(), lon: Number(c.longitude.toFixed(7)),
                 lat: Number(c.latitude.toFixed(7)), accuracy_m: Math.round(c.accuracy * 10) / 10};
    fixNote = gw.t('patrol_accuracy', {m: Math.round(c.accuracy)});
    problem = '';
    var last = state.last;
    /* a fix is kept when the phone moved, or when min_gap_ms passed since the last kept one */
    if (last && t - last.t < cfg.min_gap_ms && metres(last, point) < MOVED_M) { render(); return; }
    if (last && t <= last.t) { render(); return; }  /* the same instant again: the server would refuse it */
    state.queue.push(point);
    state.kept += 1;
    state.last = {t: t, lon: point.lon, lat: point.lat};
    save();
    render();
    if (state.queue.length >= cfg.batch_points) flush();
  }

  function onError(err) {
    problem = err && err.code === 1 ? gw.t('patrol_denied') : gw.t('patrol_unavailable', {why: err ? err.message : ''});
    render();
  }

  function watch() {
    if (!navigator.geolocation) { problem = gw.t('patrol_no_geolocation'); render(); return false; }
    if (watchId === null) {
      watchId = navigator.geolocation.watchPosition(onPosition, onError,
                                                    {enableHighAccuracy: true, maximumAge: 0, timeout: 60000});
    }
    if (timer === null) timer = setInterval(flush, cfg.batch_ms);
    return true;
  }

  function unwatch() {
    if (watchId !== null) navigator.geolocation.clearWatch(watchId);
    watchId = null;
  }

  function trackId() {
    var d = new Date(), pad = function (n) { return String(n).padStart(2, '0'); };
    return 'web-' + d.getFullYear() + pad(d.getMonth() + 1) + pad(d.getDate()) + '-' + pad(d.getHours()) +
      pad(d.getMinutes()) + pad(d.getSeconds()) + '-' + Math.random().toString(36).slice(2, 6);
  }

  function start() {
    state.active = true; state.track = trackId(); state.kept = 0; state.sent = 0; state.last = null;
    fixNote = gw.t('patrol_waiting_fix'); problem = '';
    save();
    if (!watch()) { state.active = false; save(); }
    render();
  }

  function stop() {
    state.active = false;
    unwatch();
    save();
    render();
    flush();
  }

  /* the indexes of the points a 422 names (field "points[3].lat"): they can never be stored */
  function refusedIndexes(err) {
    var out = {};
    ((err.body && err.body.errors) || []).forEach(function (e) {
      var m = /^points\[(\d+)\]/.exec(e.field || '');
      if (m) out[Number(m[1])] = e.reason;
    });
    return out;
  }

  function flush() {
    if (sending || !state.queue.length) { render(); return Promise.resolve(); }
    if (navigator.onLine === false) { render(); return Promise.resolve(); }
    var track = state.queue[0].track, batch = [];
    for (var i = 0; i < state.queue.length && batch.length < cfg.max_batch && state.queue[i].track === track; i++) {
      batch.push(state.queue[i]);
    }
    sending = true;
    var points = batch.map(function (p) { return {at: p.at, lon: p.lon, lat: p.lat, accuracy_m: p.accuracy_m}; });
    return gw.api(cfg.urls.points, {method: 'POST', json: {track_id: track, points: points}}).then(function () {
      state.queue.splice(0, batch.length);  /* only this function removes, and only from the front */
      state.sent += batch.length;
      problem = '';
      save();
      loadTracks();
    }, function (err) {
      if (err.status === 422) {
        var bad = refusedIndexes(err), n = Object.keys(bad).length;
        var why = n ? bad[Object.keys(bad)[0]] : err.message;
        /* drop what the server refused (all of the batch when it named no point: the request itself) */
        var keep = n ? batch.filter(function (p, k) { return !(k in bad); }) : [];
        state.queue.splice(0, batch.length);
        Array.prototype.unshift.apply(state.queue, keep);
        problem = gw.t('patrol_dropped', {n: batch.length - keep.length, why: why});
        save();
      } else {
        problem = navigator.onLine === false ? '' : gw.t('patrol_send_failed', {why: err.status || err.message});
      }
    }).then(function () {
      sending = false;
      render();
      if (state.queue.length >= cfg.batch_points) setTimeout(flush, 0);
    });
  }
  gw.patrolFlush = flush;
  gw.patrolState = function () { var copy = JSON.parse(JSON.stringify(state)); copy.sending = sending; return copy; };

  /* today's tracks on the map */
  var layer = null;
  function trackLayer() {
    if (layer || !gw.map || typeof L === 'undefined') return layer;
    layer = L.geoJSON(null, {
      style: function () { return cfg.track_style; },
      pointToLayer: function (f, ll) { return L.circleMarker(ll, {radius: 4, color: cfg.track_style.color, weight: 2}); },
      onEachFeature: function (f, l) {
        var p = f.properties;
        /* a member's name is user text: a DOM node, never a string Leaflet would parse as HTML */
        l.bindTooltip(gw.el('span', p.member + ' · ' + gw.when(p.first_at).slice(11) + '–' +
                            gw.when(p.last_at).slice(11) + ' · ' + p.points));
      }
    }).addTo(gw.map);
    gw.patrolLayer = layer;
    return layer;
  }
  function loadTracks() {
    if (!trackLayer()) return Promise.resolve();
    return gw.api(cfg.urls.today).then(function (fc) {
      layer.clearLayers();
      layer.addData(fc);
      fillTable(fc.features);
    }).catch(function (e) { console.warn('patrol tracks', e.message); });
  }
  function fillTable(features) {  /* today's tracks table, as the server first wrote it */
    var body = document.querySelector('#gw-tracks tbody'), none = document.getElementById('gw-tracks-none');
    if (!body) return;
    body.replaceChildren();
    features.forEach(function (f) {
      var p = f.properties, tr = gw.el('tr', null, {'data-member': p.member_id});
      [p.member, p.track_id || '—', p.points, gw.when(p.first_at).slice(11) + '–' + gw.when(p.last_at).slice(11)]
        .forEach(function (v) { tr.appendChild(gw.el('td', v)); });
      body.appendChild(tr);
    });
    if (none) none.hidden = features.length > 0;
  }
  gw.loadPatrolTracks = loadTracks;

  if (startBtn) startBtn.addEventListener('click', start);
  if (stopBtn) stopBtn.addEventListener('click', stop);
  window.addEventListener('online', function () { problem = ''; flush(); });
  window.addEventListener('offline', render);
  if (cfg.can_patrol) {
    if (state.active) watch();           /* a reload mid-patrol carries on */
    else if (state.queue.length && timer === null) timer = setInterval(flush, cfg.batch_ms);
    flush();
  }
  render();
  (function waitForMap(tries) {        /* the map script may come after this one */
    if (gw.map) loadTracks();
    else if (tries > 0) setTimeout(function () { waitForMap(tries - 1); }, 200);
  }(25));
}());
