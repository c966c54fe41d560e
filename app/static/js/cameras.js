/* The camera pages (/cameras): the list's map of the selection (markers coloured by status), the camera
   page's status and retire forms, the edit and add forms. Every write goes through the JSON API with the
   version the page read: a 409 shows the stored record and the sent values side by side and writes
   nothing; a 422 marks the fields it names; a 403 names the fields the account may not change.
   Data: gw.data.cameras {page, urls, colours, names, kinds, markers, tiles, bbox}, gw.data.camera. */
(function () {
  'use strict';
  var gw = window.gw;
  var C = gw.data.cameras || {};
  var msgBox = document.getElementById('cam-msg');

  function url(pattern, id) { return pattern.split('{id}').join(encodeURIComponent(id)); }

  function say(text, ok) {
    if (!msgBox) return;
    msgBox.hidden = !text;
    msgBox.textContent = text || '';
    msgBox.className = 'cam-msg ' + (ok ? 'cam-ok' : 'cam-error');
  }

  function fieldName(name) { return (C.names && C.names[name]) || name; }

  /* a stored or sent value by its name (codes through gw.label), blank as a dash */
  function shown(name, value) {
    if (value === null || value === undefined || value === '') return '—';
    var kind = C.kinds && C.kinds[name];
    return kind ? gw.label(kind, value) : String(value);
  }

  function colourDots() {
    document.querySelectorAll('.cam-dot[data-status]').forEach(function (d) {
      d.style.background = (C.colours || {})[d.dataset.status] || '#999';
    });
  }

  /* a button that shows it is busy while a request runs, and cannot be pressed twice */
  function busy(button, on) {
    if (!button) return;
    button.disabled = on;
    button.classList.toggle('cam-busy', on);
    if (on) say(gw.t('cam_saving'), true);
  }

  function markErrors(err) {
    document.querySelectorAll('[data-error-for]').forEach(function (e) { e.textContent = ''; });
    var body = err.body || {};
    (body.errors || []).forEach(function (e) {
      (e.field || '').split(/[,/]/).forEach(function (f) {
        var slot = document.querySelector('[data-error-for="' + f + '"]');
        if (slot) slot.textContent = e.reason;
      });
    });
    if (err.status === 403 && body.fields) {
      say(gw.t('cam_forbidden_fields', {fields: body.fields.map(fieldName).join(', ')}));
    } else {
      say(gw.t('cam_failed', {message: err.message}));
    }
  }

  /* 409: the record as stored now beside what this page sent, one row per field sent */
  function showConflict(body) {
    var box = document.getElementById('cam-conflict');
    var current = body.current || {};
    var yours = body.yours || {};
    say(gw.t('cam_conflict', {who: current.updated_by || '?', when: gw.when(current.updated_at) || '?',
                              version: current.version}));
    if (!box) return;
    var tbody = box.querySelector('tbody');
    tbody.textContent = '';
    Object.keys(yours).forEach(function (name) {
      if (name === 'version') return;
      var tr = gw.el('tr', null, {'data-field': name});
      var now = current[name];
      tr.appendChild(gw.el('th', fieldName(name)));
      tr.appendChild(gw.el('td', shown(name, now), {'class': 'cam-current'}));
      var mine = gw.el('td', shown(name, yours[name]), {'class': 'cam-yours'});
      if (String(now) !== String(yours[name])) mine.classList.add('cam-diff');
      tr.appendChild(mine);
      tbody.appendChild(tr);
    });
    var vr = gw.el('tr', null, {'data-field': 'version'});
    vr.appendChild(gw.el('th', gw.t('cam_field_version')));
    vr.appendChild(gw.el('td', current.version, {'class': 'cam-current'}));
    vr.appendChild(gw.el('td', yours.version, {'class': 'cam-yours cam-diff'}));
    tbody.appendChild(vr);
    box.hidden = false;
  }

  function failed(err) {
    if (err.status === 409 && err.body && err.body.current) showConflict(err.body);
    else markErrors(err);
  }

  /* ---- the list: a map of the whole selection ---- */
  function listMap() {
    var box = document.getElementById('cam-map');
    if (!box || !window.L) return;
    var map = gw.cameraMap = L.map(box, {zoomControl: true, preferCanvas: true});
    if (C.tiles) L.tileLayer(C.tiles.url, {attribution: C.tiles.attribution, maxZoom: 19}).addTo(map);
    var layer = L.featureGroup().addTo(map);
    (C.markers || []).forEach(function (m) {
      var colour = C.colours[m[2]] || '#999';
      var marker = L.circleMarker([m[5], m[4]], {radius: 6, color: m[3] === 'planned' ? '#000' : colour,
        weight: m[3] === 'planned' ? 2 : 1, dashArray: m[3] === 'planned' ? '3 3' : null, fillColor: colour,
        fillOpacity: m[3] === 'retired' ? 0.2 : 0.85});
      var tip = document.createElement('span');
      tip.textContent = m[1] + ' · ' + gw.label('camera_status', m[2]);
      marker.bindTooltip(tip);
      marker.on('click', function () { window.location.href = url(C.urls.page, m[0]); });
      marker.deviceId = m[0];
      marker.addTo(layer);
    });
    var b = C.bbox;
    if (layer.getLayers().length) map.fitBounds(layer.getBounds(), {padding: [20, 20], maxZoom: 17, animate: false});
    else map.fitBounds([[b[1], b[0]], [b[3], b[2]]], {animate: false});
    gw.cameraMarkers = layer;
    var form = document.getElementById('cam-filters');
    if (form) form.addEventListener('submit', function () { busy(document.getElementById('cam-apply'), true); say(''); });
    document.querySelectorAll('#cam-table tbody tr').forEach(function (tr) {
      tr.addEventListener('mouseenter', function () {
        layer.eachLayer(function (mk) { mk.setRadius(mk.deviceId === tr.dataset.id ? 10 : 6); });
      });
    });
    gw.camerasReady = true;
  }

  /* ---- a camera's page: status and retire ---- */
  function post(form, pattern, body) {
    var button = form.querySelector('button[type=submit]');
    busy(button, true);
    gw.api(url(pattern, gw.data.camera.device_id), {json: body}).then(function () {
      window.location.reload();
    }, function (err) { busy(button, false); failed(err); });
  }

  function reasonOf(form) {
    var field = form.querySelector('textarea[name=reason]');
    var reason = field.value.trim();
    if (!reason) { say(gw.t('cam_reason_required')); field.focus(); }
    return reason;
  }

  function cameraPage() {
    var status = document.getElementById('cam-status-form');
    if (status) status.addEventListener('submit', function (e) {
      e.preventDefault();
      var reason = reasonOf(status);
      if (reason) post(status, C.urls.status, {status: status.elements.status.value, reason: reason,
                                                 version: gw.data.camera.version});
    });
    var retire = document.getElementById('cam-retire-form');
    if (retire) retire.addEventListener('submit', function (e) {
      e.preventDefault();
      var reason = reasonOf(retire);
      if (reason) post(retire, C.urls.retire, {reason: reason, version: gw.data.camera.version});
    });
  }

  /* ---- the edit and add forms: only what changed is sent, with the version read ---- */
  function changedValues(form, all) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled) return;
      var value = el.value.trim();
      if (all ? value !== '' : value !== (el.dataset.initial || '')) out[el.name] = value === '' ? null : value;
    });
    return out;
  }

  function editForm() {
    var form = document.getElementById('cam-edit-form');
    if (!form) return;
    var adding = C.page === 'new';
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var values = changedValues(form, adding);
      if (!adding && !Object.keys(values).length) { say(gw.t('cam_nothing_changed')); return; }
      var button = document.getElementById('cam-save');
      busy(button, true);
      var request = adding ? gw.api(C.urls.add, {json: values}) : gw.api(gw.data.camera.patch_url, {
        method: 'PATCH', json: Object.assign({version: Number(form.dataset.version)}, values)});
      request.then(function (rec) {
        say(gw.t('cam_saved', {version: rec.version}), true);
        window.location.href = rec.url;
      }, function (err) { busy(button, false); failed(err); });
    });
  }

  colourDots();
  if (C.page === 'list') listMap();
  if (C.page === 'camera') cameraPage();
  if (C.page === 'edit' || C.page === 'new') editForm();
}());
