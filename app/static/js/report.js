/* The field report form (/report): a pin on a small map (GPS with its accuracy, or placed by hand), the grid
   under it, nearby open incidents of the same category ("是其中之一吗？"), photos with previews, and the
   exactly-once send. Every report is first kept as a draft (drafts.js, IndexedDB) with a key made here;
   the draft is sent now, or when the network returns (online event, page load, a back-off timer), and every
   send of it carries the same key, so the server stores it once and a retry answers with what it stored.
   Data, URLs and styles come from the page block (gw.data.report); text goes in by textContent only. */
(function () {
  'use strict';
  var gw = window.gw, R = gw.data && gw.data.report, form = document.getElementById('rp-form');
  if (!R || !form) return;
  var $ = function (id) { return document.getElementById(id); };
  var status = $('rp-status'), sendBtn = $('rp-send'), lonIn = $('rp-lon'), latIn = $('rp-lat');
  var map = null, marker = null, accuracyRing = null, gridLayer = null;
  var photos = [];          // {name, type, blob} chosen for the report being written
  var editingKey = null;    // the key of a draft loaded back into the form to be fixed
  var lookupSeq = 0, nearbySeq = 0, nearbyTimer = null, retryTimer = null;
  var flushing = false, flushAgain = false, inFlight = {};
  var categories = {};
  R.categories.forEach(function (c) { categories[c.code] = c.name; });

  function say(el, text, cls) { el.textContent = text || ''; el.className = cls || ''; }
  function clock(ms) { var d = new Date(ms); return d.toTimeString().slice(0, 5); }

  /* ---- the spot -------------------------------------------------------------------------------- */
  function setSpot(lon, lat, crs) {
    lonIn.value = Number(lon).toFixed(7); latIn.value = Number(lat).toFixed(7); form.elements.crs.value = crs;
  }
  function spot() {
    var lon = parseFloat(lonIn.value), lat = parseFloat(latIn.value);
    return isFinite(lon) && isFinite(lat) ? {lon: lon, lat: lat, crs: form.elements.crs.value} : null;
  }
  function showMarker(lon, lat) {
    if (!map) return;
    if (!marker) {
      marker = L.marker([lat, lon], {draggable: true, autoPan: true}).addTo(map);
      marker.on('dragend', function () {
        var p = marker.getLatLng(); clearRing(); setSpot(p.lng, p.lat, 'display'); spotChanged();
      });
    } else marker.setLatLng([lat, lon]);
  }
  function clearRing() { if (accuracyRing) { map.removeLayer(accuracyRing); accuracyRing = null; } }

  function spotChanged() { setJoin(null); lookupGrid(); scheduleNearby(); }

  function lookupGrid() {
    var s = spot(), seq = ++lookupSeq, out = $('rp-grid');
    if (!s) { say(out, ''); return; }
    var q = '?lon=' + encodeURIComponent(s.lon) + '&lat=' + encodeURIComponent(s.lat) + '&crs=' + s.crs;
    gw.api(R.urls.grid_at + q).then(function (g) {
      if (seq !== lookupSeq) return;
      if (s.crs === 'wgs84') {  // a GPS fix: from now on the pin's spot is what the map shows
        setSpot(g.display[0], g.display[1], 'display'); showMarker(g.display[0], g.display[1]);
        if (accuracyRing) accuracyRing.setLatLng([g.display[1], g.display[0]]);
      }
      say(out, gw.t('field_in_grid', {grid: g.name, community: g.community_name}) +
          (g.mine ? '' : ' — ' + gw.t('field_not_my_grid')), g.mine ? 'rp-ok' : 'gw-note');
      if (map) {
        if (gridLayer) map.removeLayer(gridLayer);
        gridLayer = L.geoJSON(g.outline, {style: R.style.grid, interactive: false}).addTo(map);
      }
    }, function (err) {
      if (seq !== lookupSeq) return;
      if (err.status === 422) say(out, gw.t('field_out_of_district'), 'rp-error');
      else say(out, gw.t('field_grid_offline'), 'gw-hint');
      if (map && gridLayer) { map.removeLayer(gridLayer); gridLayer = null; }
    });
  }

  function locate() {
    var acc = $('rp-accuracy');
    if (!navigator.geolocation) return;
    say(acc, gw.t('field_locating'), 'gw-hint rp-busy');
    navigator.geolocation.getCurrentPosition(function (pos) {
      var c = pos.coords;
      say(acc, gw.t('field_accuracy', {m: Math.round(c.accuracy)}), 'gw-hint');
      setSpot(c.longitude, c.latitude, 'wgs84');
      showMarker(c.longitude, c.latitude);
      if (map) {
        clearRing();
        accuracyRing = L.circle([c.latitude, c.longitude], {radius: c.accuracy, weight: 1, interactive: false}).addTo(map);
        map.setView([c.latitude, c.longitude], Math.max(map.getZoom(), 17));
      }
      spotChanged();
    }, function (err) {
      say(acc, gw.t('field_geo_failed', {reason: err.message || err.code}), 'rp-error');
    }, {enableHighAccuracy: true, timeout: 15000, maximumAge: 30000});
  }

  function initMap() {
    if (!window.L) return;
    var box = $('rp-map');
    box.hidden = false; $('rp-pin-hint').hidden = false;
    map = L.map(box, {zoomControl: true});
    if (R.basemap) L.tileLayer(R.basemap.url, {attribution: R.basemap.attribution, maxZoom: 19}).addTo(map);
    var mine = R.outlines ? L.geoJSON(R.outlines, {style: R.style[R.outline_style], interactive: false}).addTo(map)
      : null;
    var b = R.bbox;
    map.fitBounds(mine && mine.getBounds().isValid() ? mine.getBounds() : [[b[1], b[0]], [b[3], b[2]]]);
    map.on('click', function (e) { clearRing(); setSpot(e.latlng.lng, e.latlng.lat, 'display');
      showMarker(e.latlng.lng, e.latlng.lat); spotChanged(); });
  }

  /* ---- nearby open incidents of the same category ----------------------------------------------- */
  function setJoin(item) {
    form.elements.join.value = item ? String(item.id) : '';
    form.dataset.joinNo = item ? item.no : '';
    sendBtn.textContent = item ? gw.t('field_send_join', {no: item.no}) : gw.t('field_send');
  }
  function scheduleNearby() {
    clearTimeout(nearbyTimer);
    nearbyTimer = setTimeout(loadNearby, 300);
  }
  function loadNearby() {
    var box = $('rp-nearby'), s = spot(), cat = form.elements.category.value, seq = ++nearbySeq;
    if (!s || !cat || !navigator.onLine) { box.hidden = true; box.textContent = ''; return; }
    var q = '?category=' + encodeURIComponent(cat) + '&lon=' + encodeURIComponent(s.lon) + '&lat=' +
      encodeURIComponent(s.lat) + '&crs=' + s.crs;
    gw.api(R.urls.nearby + q).then(function (res) {
      if (seq !== nearbySeq) return;
      box.textContent = '';
      if (!res.incidents.length) { box.hidden = true; return; }
      box.appendChild(gw.el('strong', gw.t('field_nearby_title')));
      box.appendChild(choice('', gw.t('field_nearby_new'), true, null));
      res.incidents.forEach(function (inc) {
        var line = gw.t('field_nearby_item', {no: inc.no, state: gw.label('state', inc.state),
          distance: Math.round(inc.distance_m), when: inc.reported_at || ''});
        var words = line + ' — ' + (inc.description || '') + (inc.joinable ? '' : ' ' + gw.t('field_nearby_not_yours'));
        box.appendChild(choice(String(inc.id), words, false, inc.joinable ? inc : false));
      });
      box.hidden = false;
    }, function () { if (seq === nearbySeq) { box.hidden = true; box.textContent = ''; } });
  }
  function choice(value, words, checked, item) {
    var label = gw.el('label'), radio = gw.el('input', null, {type: 'radio', name: 'rp-nearby', value: value});
    radio.checked = checked;
    if (item === false) radio.disabled = true;
    radio.addEventListener('change', function () { if (radio.checked) setJoin(item || null); });
    label.appendChild(radio);
    label.appendChild(gw.el('span', words));
    return label;
  }

  /* ---- photos ----------------------------------------------------------------------------------- */
  function addPhotos(files) {
    var problems = [];
    Array.prototype.forEach.call(files, function (f) {
      if (photos.length >= R.photo_max_count) { problems.push(gw.t('field_photo_too_many', {n: R.photo_max_count})); return; }
      if (f.size > R.photo_max_bytes) {
        problems.push(gw.t('field_photo_too_big', {name: f.name, mb: Math.round(R.photo_max_bytes / 1e6)})); return;
      }
      photos.push({name: f.name || 'photo.jpg', type: f.type || 'application/octet-stream', blob: f});
    });
    renderPhotos();
    say(status, problems.filter(function (p, i) { return problems.indexOf(p) === i; }).join('; '),
        problems.length ? 'rp-error' : '');
  }
  function renderPhotos() {
    var box = $('rp-previews');
    box.textContent = '';
    photos.forEach(function (p, i) {
      var fig = gw.el('figure'), canvas = gw.el('canvas', null, {width: 96, height: 96, 'aria-label': p.name});
      fig.appendChild(canvas);
      // a canvas, not <img src=blob:>: the page's CSP allows images from this origin only
      if (window.createImageBitmap) {
        window.createImageBitmap(p.blob).then(function (bmp) {
          var k = Math.min(96 / bmp.width, 96 / bmp.height, 1);
          canvas.width = Math.max(1, Math.round(bmp.width * k)); canvas.height = Math.max(1, Math.round(bmp.height * k));
          canvas.getContext('2d').drawImage(bmp, 0, 0, canvas.width, canvas.height);
        }, function () { fig.insertBefore(gw.el('span', p.name), canvas); });
      }
      var remove = gw.el('button', gw.t('field_remove_photo'), {type: 'button'});
      remove.addEventListener('click', function () { photos.splice(i, 1); renderPhotos(); });
      fig.appendChild(remove);
      box.appendChild(fig);
    });
  }

  /* ---- the form → a draft ----------------------------------------------------------------------- */
  function readForm() {
    var el = form.elements, s = spot(), problems = [];
    if (!s) problems.push(gw.t('field_need_location'));
    if (!el.category.value) problems.push(gw.t('field_need_category'));
    if (!el.description.value.trim()) problems.push(gw.t('field_need_description'));
    if (problems.length) return {problems: problems};
    var fields = {category: el.category.value, description: el.description.value, address: el.address.value,
                  lon: s.lon, lat: s.lat, crs: s.crs, join: el.join.value, join_no: form.dataset.joinNo || ''};
    ['source', 'reporter_name', 'reporter_phone'].forEach(function (n) { if (el[n]) fields[n] = el[n].value; });
    return {fields: fields};
  }
  function resetForm() {
    var el = form.elements;
    el.description.value = ''; el.address.value = ''; el.category.value = '';
    if (el.reporter_name) { el.reporter_name.value = ''; el.reporter_phone.value = ''; }
    if (el.source) el.source.value = R.default_source;
    photos = []; renderPhotos(); setJoin(null); editingKey = null;
    $('rp-nearby').hidden = true; $('rp-nearby').textContent = '';
  }
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    var got = readForm();
    if (got.problems) { say(status, got.problems.join('; '), 'rp-error'); return; }
    var draft = {key: editingKey || gw.drafts.newKey(), user: R.user, created: Date.now(), status: 'pending',
                 attempts: 0, nextAt: 0, fields: got.fields, photos: photos.slice()};
    sendBtn.disabled = true; sendBtn.classList.add('rp-busy');
    gw.drafts.put(draft).then(function () {
      resetForm();
      say(status, navigator.onLine ? gw.t('field_saved') : gw.t('field_saved_offline'), 'rp-ok');
      if (!gw.drafts.persistent) say(status, gw.t('field_no_storage'), 'gw-note');
      return render();
    }).then(function () { flush(true); }).finally(function () {
      sendBtn.disabled = false; sendBtn.classList.remove('rp-busy');
    });
  });

  /* ---- sending: exactly once per key ------------------------------------------------------------ */
  function payload(d) {
    var fd = new FormData();
    Object.keys(d.fields).forEach(function (k) { if (k !== 'join_no' && d.fields[k] != null) fd.append(k, d.fields[k]); });
    fd.append('idempotency_key', d.key);
    d.photos.forEach(function (p) { fd.append('photos', p.blob, p.name); });
    return fd;
  }
  function send(d) {
    inFlight[d.key] = true;
    render();
    return gw.api(R.urls.report, {method: 'POST', body: payload(d)}).then(function (res) {
      d.status = 'sent'; d.result = {id: res.id, no: res.no, joined: res.joined, grid_code: res.grid_code};
      d.photos = []; d.error = null; d.errors = null;   // stored on the server now: free the phone's space
    }, function (err) {
      var s = err.status;
      if (!s || s >= 500 || s === 429 || s === 408) {   // no answer, or the server cannot now: try again later
        d.attempts = (d.attempts || 0) + 1;
        d.nextAt = Date.now() + Math.min(300, 5 * Math.pow(2, d.attempts - 1)) * 1000;
      } else if (s === 401 || (s === 400 && /CSRF/i.test(err.message))) {
        d.status = 'login';   // kept: sent after the next log-in (page load)
      } else {                // the server refused it as sent: the user fixes or discards it
        d.status = 'failed'; d.error = err.message;
        d.errors = err.body && err.body.errors ? err.body.errors : null;
      }
    }).then(function () {
      delete inFlight[d.key];
      return gw.drafts.put(d);
    });
  }
  function mine() {
    return gw.drafts.all().then(function (list) {
      return list.filter(function (d) { return d.user === R.user; })
        .sort(function (a, b) { return b.created - a.created; });
    });
  }
  /* send every due draft, one after another; ``now``: also those waiting for their back-off */
  function flush(now) {
    if (flushing) { flushAgain = true; return Promise.resolve(); }
    flushing = true;
    clearTimeout(retryTimer);
    return mine().then(function (list) {
      var due = list.filter(function (d) {
        return (d.status === 'pending' && (now || d.nextAt <= Date.now())) || (d.status === 'login' && now === 'load');
      });
      return due.reduce(function (chain, d) { return chain.then(function () { return send(d); }); }, Promise.resolve());
    }).then(render, render).then(function () {
      flushing = false;
      if (flushAgain) { flushAgain = false; return flush(true); }
      return mine().then(function (list) {
        var waits = list.filter(function (d) { return d.status === 'pending'; }).map(function (d) { return d.nextAt; });
        if (waits.length) retryTimer = setTimeout(flush, Math.max(1000, Math.min.apply(null, waits) - Date.now()));
      });
    });
  }

  /* ---- the list of my drafts -------------------------------------------------------------------- */
  function button(text, action) {
    var b = gw.el('button', text, {type: 'button'});
    b.addEventListener('click', action);
    return b;
  }
  function render() {
    return mine().then(function (list) {
      var ul = $('rp-draft-list');
      ul.textContent = '';
      $('rp-drafts').hidden = !list.length;
      list.forEach(function (d) { ul.appendChild(item(d)); });
    });
  }
  function item(d) {
    var li = gw.el('li', null, {'data-key': d.key, 'data-status': inFlight[d.key] ? 'sending' : d.status});
    var f = d.fields, head = (categories[f.category] || f.category) + (d.photos.length ?
      ' · ' + gw.t('field_photo_count', {n: d.photos.length}) : '');
    li.appendChild(gw.el('strong', head));
    li.appendChild(gw.el('div', f.description.length > 80 ? f.description.slice(0, 79) + '…' : f.description,
                         {'class': 'rp-draft-text'}));
    var line = gw.el('div', null, {'class': 'rp-draft-status'}), row = gw.el('div', null, {'class': 'rp-row'});
    li.appendChild(line);
    if (inFlight[d.key]) {
      line.textContent = gw.t('field_draft_sending'); line.className += ' rp-busy';
    } else if (d.status === 'sent') {
      line.textContent = gw.t(d.result.joined ? 'field_draft_joined' : 'field_draft_sent', {no: d.result.no});
      line.className += ' rp-ok';
      row.appendChild(button(gw.t('field_clear'), function () { gw.drafts.remove(d.key).then(render); }));
    } else if (d.status === 'failed') {
      line.textContent = gw.t('field_draft_failed', {message: d.error || ''});
      line.className += ' rp-error';
      (d.errors || []).forEach(function (e) {
        li.appendChild(gw.el('div', (e.field ? e.field + ': ' : '') + e.reason, {'class': 'rp-error'}));
      });
      row.appendChild(button(gw.t('field_edit'), function () { edit(d); }));
      row.appendChild(discard(d));
    } else if (d.status === 'login') {
      line.textContent = gw.t('field_draft_login'); line.className += ' gw-note';
      row.appendChild(gw.el('a', gw.t('field_log_in'), {href: R.urls.login, 'class': 'rp-btn'}));
      row.appendChild(discard(d));
    } else {
      line.textContent = d.attempts ? gw.t('field_draft_retry', {when: clock(d.nextAt)})
        : gw.t('field_draft_pending', {when: clock(d.created)});
      line.className += ' gw-note';
      row.appendChild(discard(d));
    }
    if (row.children.length) li.appendChild(row);
    return li;
  }
  function discard(d) {
    return button(gw.t('field_discard'), function () {
      if (window.confirm(gw.t('field_discard_confirm'))) gw.drafts.remove(d.key).then(render);
    });
  }
  /* a refused draft back into the form, with the same key: nothing of it was stored, so resending is safe */
  function edit(d) {
    var el = form.elements, f = d.fields;
    el.category.value = f.category; el.description.value = f.description; el.address.value = f.address || '';
    ['source', 'reporter_name', 'reporter_phone'].forEach(function (n) { if (el[n] && f[n] != null) el[n].value = f[n]; });
    setSpot(f.lon, f.lat, f.crs); showMarker(f.lon, f.lat);
    photos = d.photos.slice(); renderPhotos();
    editingKey = d.key;
    setJoin(null); lookupGrid(); scheduleNearby();
    say(status, gw.t('field_edit_loaded'), 'gw-note');
    form.scrollIntoView();
  }

  /* ---- wiring ----------------------------------------------------------------------------------- */
  function showOnline() { $('rp-offline').hidden = navigator.onLine; }
  window.addEventListener('online', function () { showOnline(); flush(true); lookupGrid(); });
  window.addEventListener('offline', showOnline);
  $('rp-photos').addEventListener('change', function (e) { addPhotos(e.target.files); e.target.value = ''; });
  form.elements.category.addEventListener('change', function () { setJoin(null); scheduleNearby(); });
  [lonIn, latIn].forEach(function (input) {
    input.addEventListener('change', function () {
      var s = spot();
      if (s) { form.elements.crs.value = 'display'; showMarker(s.lon, s.lat); spotChanged(); }
    });
  });
  if (navigator.geolocation) {
    $('rp-locate').hidden = false;
    $('rp-locate').addEventListener('click', locate);
  }
  showOnline();
  initMap();
  if (R.locate_on_load) locate();
  render().then(function () { return flush('load'); });

  // the form opens offline from the service worker's cache (needs a secure context: HTTPS or localhost)
  if ('serviceWorker' in navigator && window.isSecureContext) {
    navigator.serviceWorker.register(R.urls.sw, {scope: R.sw_scope}).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      if (reg.active) reg.active.postMessage({type: 'precache', urls: [R.urls.report].concat(R.urls.cache)});
    }).catch(function () { /* no offline copy: drafts still work while the page is open */ });
  }
  gw.report = {flush: flush, drafts: mine, map: map};
}());
