/* The dashboard map (operator, grid, planner pages): live update by polling, loading by bounding box,
   the cameras that see a spot, search. Its configuration is the page data's "map" entry
   (app.dashboards.page_js.map_data): Folium's variable names, the page's filter, the poll interval, the
   URLs and the style constants. Loaded after gw.js; extends window.gw (gw.map, gw.cluster, gw.markers,
   gw.cones, gw.known, gw.poll, gw.addFeatures, gw.dropGone, gw.since, gw.url, gw.showSeeing; the live-view links come from
   features.js's gw.liveLink and the page data's "live" entry). After each poll it
   dispatches the document event 'gw:features' ({features, first}). Server text goes in by textContent. */
(function () {
  'use strict';
  var gw = window.gw;
  var cfg = gw.data.map;
  if (!cfg) return;
  /* the map scripts' messages come with their data (app.dashboards.page_js.messages) */
  Object.keys(cfg.messages || {}).forEach(function (k) {
    if (!(k in gw.page.messages)) gw.page.messages[k] = cfg.messages[k];
  });
  var map = window[cfg.names.map];
  var cluster = cfg.names.cluster ? window[cfg.names.cluster] : null;
  var cones = cfg.names.cones ? window[cfg.names.cones] : null;
  var markers = cfg.names.markers ? window[cfg.names.markers] : null;  /* the L.geoJson holding the markers */
  var known = {};
  gw.map = map; gw.cluster = cluster; gw.cones = cones; gw.markers = markers; gw.known = known;
  gw.names = cfg.names; gw.mapConfig = cfg;
  /* gw.ready: the map's first view has settled (Folium's fitBounds may still be animating the zoom when
     the scripts run; a view set meanwhile would be undone when that animation ends) */
  gw.ready = false;
  function settle() { if (map._animatingZoom) map.once('zoomend', settle); else gw.ready = true; }
  /* an animated zoom starts on the next frame: look two frames on */
  L.Util.requestAnimFrame(function () { L.Util.requestAnimFrame(settle); });

  /* a URL pattern of the page data with its {placeholders} filled: gw.url(cfg.urls.incident, {id: 5}) */
  gw.url = function (pattern, values) {
    var out = pattern;
    Object.keys(values || {}).forEach(function (k) { out = out.split('{' + k + '}').join(encodeURIComponent(values[k])); });
    return out;
  };
  function query(extra) {
    var p = new URLSearchParams();
    Object.keys(cfg.filters).forEach(function (k) {
      var v = cfg.filters[k]; (Array.isArray(v) ? v : [v]).forEach(function (x) { if (x) p.append(k, x); });
    });
    Object.keys(extra || {}).forEach(function (k) { if (extra[k] != null) p.set(k, extra[k]); });
    return p.toString();
  }
  function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }
  /* the map's real bounds, W,S,E,N clamped to valid degrees; null while the map has no size (a hidden or
     collapsed box: Leaflet's bounds are then meaningless, and the server would refuse them) */
  function bboxParam() {
    var size = map.getSize();
    if (!size || size.x < 1 || size.y < 1) return null;
    var b = map.getBounds();
    var w = clamp(b.getWest(), -180, 180), s = clamp(b.getSouth(), -90, 90);
    var e = clamp(b.getEast(), -180, 180), n = clamp(b.getNorth(), -90, 90);
    if (!(isFinite(w) && isFinite(s) && isFinite(e) && isFinite(n)) || !(w < e && s < n)) return null;
    return [w, s, e, n].map(function (v) { return v.toFixed(6); }).join(',');
  }
  gw.bbox = bboxParam;

  if (cluster) {
    cluster.eachLayer(function (l) { if (l.feature) known[l.feature.properties.id] = l; });
  }
  function sameFeature(a, b) {
    /* same properties and position: nothing to redraw */
    var pa = a.properties || {}, pb = b.properties || {}, ka = Object.keys(pa), kb = Object.keys(pb);
    return ka.length === kb.length && ka.every(function (k) { return pa[k] === pb[k]; }) &&
      String(a.geometry.coordinates) === String(b.geometry.coordinates);
  }
  function addFeatures(fc) {
    if (!cluster || !markers) return;
    /* drawn with the marker layer's own pointToLayer/onEachFeature: same style, same popup */
    L.geoJSON(fc, markers.options).eachLayer(function (mk) {
      var id = mk.feature.properties.id, old = known[id], reopen = false;
      if (old) {
        /* unchanged: keep the marker (and an open popup) as it is */
        if (sameFeature(old.feature, mk.feature)) return;
        reopen = old.isPopupOpen();
        cluster.removeLayer(old);
      }
      cluster.addLayer(mk);
      known[id] = mk;
      if (reopen && map.hasLayer(mk)) mk.openPopup();  /* changed while being read: show the new state */
    });
    var shown = document.getElementById('gw-shown');
    if (shown) shown.textContent = Object.keys(known).length;
  }
  /* incidents changed since a poll that no longer match the page's filter (closed, moved out of view): drop them */
  function dropGone(ids) {
    if (!cluster || !ids || !ids.length) return;
    ids.forEach(function (id) {
      var mk = known[id];
      if (!mk) return;
      cluster.removeLayer(mk);
      delete known[id];
    });
    var shown = document.getElementById('gw-shown');
    if (shown) shown.textContent = Object.keys(known).length;
  }
  /* each poll asks for what changed after the snapshot the last answer (or the page's markers) was read under:
     a report still being written then comes with the next poll, however the clocks stand. A page that holds
     all its markers asks for every change in its scope (an incident changed out of view is updated there);
     a capped page asks for its view's, as it loads markers by view */
  var cursor = cfg.cursor || null, polled = false, inflight = null, queued = null;
  /* whether snapshot a was taken before snapshot b (by their xmax: decimal digits, longer is larger) */
  function olderCursor(a, b) {
    var xa = String(a).split(':')[1] || '', xb = String(b).split(':')[1] || '';
    return xa.length !== xb.length ? xa.length < xb.length : xa < xb;
  }
  function inView(mk, bounds) { return !mk.getLatLng || bounds.contains(mk.getLatLng()); }
  /* a poll that has not answered by then is given up (a stalled connection must not stop the polls behind it) */
  var pollTimeout = Math.max(10000, 3 * cfg.poll_ms);
  /* read the page's markers again and make the map hold exactly them: after a change poll that was capped
     (a grid import re-geocoded thousands of incidents) or a cursor the server refused. A capped page reads its
     view; a marker of the view that the answer does not hold is dropped (unless the view itself is capped) */
  function resync() {
    var box = cfg.truncated ? bboxParam() : null, bounds = box ? map.getBounds() : null;  /* the box as asked */
    return gw.api(cfg.urls.incidents + '?' + query({bbox: box}), {timeoutMs: pollTimeout}).then(function (fc) {
      if (!fc.truncated) {
        var keep = {};
        fc.features.forEach(function (f) { keep[String(f.properties.id)] = true; });
        dropGone(Object.keys(known).filter(function (id) { return !keep[id] && (!bounds || inView(known[id], bounds)); }));
      }
      addFeatures(fc);
      cursor = fc.cursor || null;
      gw.since = fc.now;
      fc.reset = true;
      return fc;
    });
  }
  /* an answer of changes (after=CURSOR): the changed markers drawn, those that left the filter dropped */
  function applyChanges(fc) { addFeatures(fc); dropGone(fc.gone); }
  function poll() {
    /* one poll at a time: a call while one is out (an action's gw.poll) polls again once it is back */
    if (inflight) {
      if (!queued) queued = inflight.then(function () { queued = null; return poll(); });
      return queued;
    }
    var first = !polled, delta = cursor !== null;
    var box = (cfg.truncated || !delta) ? bboxParam() : null;
    inflight = gw.api(cfg.urls.incidents + '?' + query({after: cursor, bbox: box}), {timeoutMs: pollTimeout}).then(function (fc) {
      if (delta) applyChanges(fc);
      if (delta && (fc.truncated || fc.gone_truncated)) return resync();  /* more changed than one answer holds */
      cursor = fc.cursor || null;
      gw.since = fc.now;
      return fc;
    }, function (e) {
      /* a cursor this server does not read (another database, an older release): start again from a full read */
      if (e.status === 422 && delta) return resync();
      throw e;
    }).then(function (fc) {
      /* the first poll of a page that embeds its cursor already brings changes: news, not the baseline; a full
         read again (reset) is a new baseline */
      polled = true;
      document.dispatchEvent(new CustomEvent('gw:features',
        {detail: {features: fc.features, first: (first && !delta) || !!fc.reset}}));
    }).catch(function (e) { console.warn('poll failed', e.message); }).then(function () { inflight = null; });
    return inflight;
  }
  gw.poll = poll;
  gw.addFeatures = addFeatures;
  gw.dropGone = dropGone;
  if (cluster) {
    poll();
    setInterval(poll, cfg.poll_ms);
    if (cfg.truncated) {
      /* a view's load can be read before a poll and answer after it: it would draw again an incident that the
         poll has just dropped (closed meanwhile), and no later poll would name it. So a load read under an
         older snapshot than the polls' catches up from its own cursor, in its own box */
      map.on('moveend', function () {
        var box = bboxParam();
        if (!box || map.getZoom() < 14) return;
        gw.api(cfg.urls.incidents + '?' + query({bbox: box}), {timeoutMs: pollTimeout}).then(function (fc) {
          addFeatures(fc);
          if (fc.cursor && cursor && olderCursor(fc.cursor, cursor)) {
            return gw.api(cfg.urls.incidents + '?' + query({bbox: box, after: fc.cursor}), {timeoutMs: pollTimeout})
              .then(applyChanges);
          }
        }).catch(function (e) { console.warn('bbox load failed', e.message); });
      });
    }
  }

  /* a registry too big to embed (app.dashboards.map_api): below min_zoom the per-grid counts; from min_zoom the
     cameras of the view (and on the planner their cones), fetched as the map moves, drawn by the embedded
     (empty) layers' own options, so popups, colours and live links are the embedded ones. A view holding more
     than the answer's limit keeps the counts. The newest request wins: a slow answer for an old view is dropped. */
  var camCfg = cfg.cameras || {};
  var camLayer = cfg.names.cameras ? window[cfg.names.cameras] : null;
  var camCounts = cfg.names.camera_counts ? window[cfg.names.camera_counts] : null;
  var camCones = cfg.names.camera_cones ? window[cfg.names.camera_cones] : null;
  if (camCfg.by_bbox && camLayer && camCounts) {
    var camSeq = 0;
    var showCounts = function (on) {
      if (on && !map.hasLayer(camCounts)) camCounts.addTo(map);
      if (!on && map.hasLayer(camCounts)) map.removeLayer(camCounts);
    };
    var clearCams = function () { camLayer.clearLayers(); if (camCones) camCones.clearLayers(); };
    var loadCams = function () {
      var box = bboxParam(), seq = ++camSeq;
      if (!box || map.getZoom() < camCfg.min_zoom) { clearCams(); showCounts(true); return; }
      var url = cfg.urls.map_cameras + '?bbox=' + box + (camCfg.cones && camCones ? '&cones=1' : '');
      gw.api(url).then(function (fc) {
        if (seq !== camSeq) return;
        clearCams();
        if (fc.truncated) { showCounts(true); return; }
        camLayer.addData(fc);
        if (camCones && fc.cones) camCones.addData(fc.cones);
        showCounts(false);
        document.dispatchEvent(new CustomEvent('gw:cameras', {detail: {total: fc.total}}));
      }).catch(function (e) { console.warn('camera load failed', e.message); });
    };
    gw.loadCameras = loadCams;
    map.on('moveend', loadCams);
    loadCams();
  }

  /* the planner's blind spots: fetched the first time the layer is turned on (the map busy meanwhile) */
  var spotsGroup = cfg.names.blind_spots_group ? window[cfg.names.blind_spots_group] : null;
  var spotsLayer = cfg.names.blind_spots ? window[cfg.names.blind_spots] : null;
  if (spotsGroup && spotsLayer) {
    var spotsLoaded = false;
    var loadSpots = function () {
      if (spotsLoaded) return;
      spotsLoaded = true;
      var box = map.getContainer();
      box.setAttribute('aria-busy', 'true');
      box.style.cursor = 'progress';
      gw.api(cfg.urls.blind_spots).then(function (fc) {
        spotsLayer.addData(fc);
        document.dispatchEvent(new CustomEvent('gw:blind-spots', {detail: {n: fc.features.length}}));
      }).catch(function (e) { spotsLoaded = false; console.warn('blind spots failed', e.message); })
        .then(function () { box.removeAttribute('aria-busy'); box.style.cursor = ''; });
    };
    map.on('overlayadd', function (e) { if (e.layer === spotsGroup) loadSpots(); });
    if (map.hasLayer(spotsGroup)) loadSpots();
  }

  /* the cameras that see a spot (↻: would after turning), each with its live-view link when the page has a
     template (gw.liveLink, features.js; the list holds built cameras only), and their cones on the map */
  gw.showSeeing = function (list, seeing, spot) {
    list.replaceChildren();
    if (!seeing.cameras.length) list.appendChild(gw.el('li', gw.t('no_camera')));
    seeing.cameras.forEach(function (c) {
      var li = gw.el('li', c.device_id + ' · ' + c.distance_m + ' m · ' + c.bearing_deg + '°' + (c.after_turn ? ' ↻' : ''),
                     {'data-device': c.device_id});
      var link = gw.liveLink ? gw.liveLink(c.device_id) : null;
      if (link) { li.appendChild(document.createTextNode(' ')); li.appendChild(link); }
      list.appendChild(li);
    });
    if (!cones) return;
    cones.clearLayers();
    L.geoJSON(seeing.cones, {style: function () { return cfg.style.cone; }}).addTo(cones);
    if (spot) L.circleMarker(spot, cfg.style.spot).addTo(cones);
  };
  if (cfg.spot) map.on('contextmenu', function (e) {
    /* right-click anywhere: which cameras see this spot right now */
    var ll = e.latlng;
    gw.api(cfg.urls.seeing + '?lon=' + ll.lng.toFixed(6) + '&lat=' + ll.lat.toFixed(6)).then(function (seeing) {
      var box = document.getElementById('gw-spot');
      box.hidden = false;
      /* the spot as the server took it: WGS-84, also on a GCJ-02 basemap */
      document.getElementById('gw-spot-where').textContent = seeing.spot[1].toFixed(6) + ', ' + seeing.spot[0].toFixed(6);
      gw.showSeeing(document.getElementById('gw-spot-cameras'), seeing, ll);
    }).catch(function (err) { console.warn(err.message); });
  });

  var form = document.getElementById('gw-search');
  if (form) form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var out = document.getElementById('gw-search-results');
    gw.api(cfg.urls.search + '?q=' + encodeURIComponent(form.q.value)).then(function (hits) {
      out.replaceChildren();
      hits.forEach(function (h) {
        var li = gw.el('li'), a = gw.el('a', gw.t('search_kind_' + h.kind) + ': ' + h.label, {href: '#'});
        a.addEventListener('click', function (e2) {
          e2.preventDefault(); map.setView([h.lat, h.lon], 17);
          if (h.kind === 'incident' && gw.openIncident) gw.openIncident(h.id);
        });
        li.appendChild(a); out.appendChild(li);
      });
    }).catch(function (e) { out.replaceChildren(gw.el('li', e.message)); });
  });
}());
