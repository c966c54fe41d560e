/* The camera page's map editor (cameras/_map_editor.html): the camera and its view cone on a Leaflet map;
   drag the camera to move it, the handle on the cone's axis to set the azimuth, a handle on either edge to
   set the field of view. The cone redraws as it turns and the numbers show while dragging; Save sends
   PATCH {version, changed fields, crs: 'display'}; Cancel restores the last saved values; a 409 shows who
   changed the camera meanwhile with both values; only the fields in gw.data.camera.editable can be dragged.

   The cone is the server's polygon (gis.viewshed.sectors_metric: EPSG:4544 metres, azimuth from grid north,
   one vertex every arc_step_deg, the apex first): the metres are mapped to display lon/lat with the local
   frame the server computes for the camera's position (GET /api/camera-map/frame: the projection's
   second-order expansion there, exact to well under a millimetre over a camera's range). */
(function () {
  'use strict';
  var section = document.getElementById('gw-cam-editor');
  var box = document.getElementById('gw-cam-map');
  var cam = gw.data.camera;
  if (!section || !box || !cam || !window.L) return;
  var own = document.getElementById('gw-cam-map-messages');
  if (own) {
    var extra = JSON.parse(own.textContent);
    Object.keys(extra).forEach(function (k) { if (!(k in gw.page.messages)) gw.page.messages[k] = extra[k]; });
  }

  var $ = function (id) { return document.getElementById(id); };
  var readout = $('gw-cam-readout'), msg = $('gw-cam-msg'), conflictBox = $('gw-cam-conflict');
  var saveBtn = $('gw-cam-save'), cancelBtn = $('gw-cam-cancel');
  var FIELDS = ['lon', 'lat', 'azimuth', 'fov'];
  var editable = (cam.editable || []).slice();
  var may = function (f) { return editable.indexOf(f) >= 0; };
  var saved = {lon: cam.lon, lat: cam.lat, azimuth: cam.azimuth, fov: cam.fov, version: cam.version};
  var now = copy(saved);
  var frame = null;   /* the server's local frame at the camera (and the view constants) */
  var busy = false;

  function copy(o) { return {lon: o.lon, lat: o.lat, azimuth: o.azimuth, fov: o.fov, version: o.version}; }
  function round(x, digits) { var f = Math.pow(10, digits); return Math.round(x * f) / f; }
  function say(text, good) {
    msg.textContent = text || '';
    msg.className = 'gw-cam-msg' + (text ? (good ? ' gw-good' : ' gw-bad') : '');
  }

  /* the camera's view as the server reads it (gis.viewshed.camera_parameters: defaults for missing values) */
  function view() {
    var az = now.azimuth == null || !isFinite(now.azimuth) ? frame.default_azimuth_deg : now.azimuth;
    var fov = now.fov == null || !(now.fov > 0) ? frame.default_fov_deg : Math.min(now.fov, 360);
    var range = cam.range_m == null || !(cam.range_m > 0) ? frame.default_range_m : cam.range_m;
    var disc = fov >= 360 || (cam.ptz_type != null && frame.dome_ptz_types.indexOf(Number(cam.ptz_type)) >= 0);
    return {az: ((az % 360) + 360) % 360, fov: fov, range: range, disc: disc};
  }

  /* metres east/north of the grid at the camera → display [lat, lng] (the frame's quadratic) */
  function toLatLng(dx, dy) {
    var f = frame, i, out = [];
    for (i = 0; i < 2; i++) {
      out.push(f.origin[i] + f.east[i] * dx + f.north[i] * dy +
               0.5 * (f.ee[i] * dx * dx + 2 * f.en[i] * dx * dy + f.nn[i] * dy * dy));
    }
    return L.latLng(out[1], out[0]);
  }
  /* display lat/lng → metres east/north of the camera (the affine inverse, refined by two Newton steps) */
  function toMetres(ll) {
    var f = frame, a = f.east[0], b = f.north[0], c = f.east[1], d = f.north[1], det = a * d - b * c;
    var tx = ll.lng - f.origin[0], ty = ll.lat - f.origin[1];
    var dx = (d * tx - b * ty) / det, dy = (-c * tx + a * ty) / det, k;
    for (k = 0; k < 2; k++) {
      var p = toLatLng(dx, dy), ex = ll.lng - p.lng, ey = ll.lat - p.lat;
      dx += (d * ex - b * ey) / det; dy += (-c * ex + a * ey) / det;
    }
    return [dx, dy];
  }
  function bearing(ll) {
    var m = toMetres(ll);
    return ((Math.atan2(m[0], m[1]) * 180 / Math.PI) % 360 + 360) % 360;
  }

  /* the view polygon's vertices, exactly as gis.viewshed.sectors_metric builds them */
  function conePoints() {
    var v = view(), fov = v.disc ? 360 : v.fov;
    var n = Math.max(Math.ceil(fov / frame.arc_step_deg), 2), pts = [], i;
    var last = v.disc ? n - 1 : n;  /* a disc's ring closes itself: no repeated end, no apex */
    if (!v.disc) pts.push(toLatLng(0, 0));
    for (i = 0; i <= last; i++) {
      var t = i === n ? 1 : i / n;
      var ang = (v.az - fov / 2 + fov * t) * Math.PI / 180;
      pts.push(toLatLng(v.range * Math.sin(ang), v.range * Math.cos(ang)));
    }
    return pts;
  }
  function along(angleDeg) {
    var a = angleDeg * Math.PI / 180, r = view().range;
    return toLatLng(r * Math.sin(a), r * Math.cos(a));
  }

  var map = L.map(box, {zoomControl: true, attributionControl: !!gw.data.basemap});
  if (gw.data.basemap) L.tileLayer(gw.data.basemap.url, {attribution: gw.data.basemap.attribution, maxZoom: 20}).addTo(map);
  var cone = L.polygon([], {color: '#d95f02', weight: 2, fillOpacity: 0.2, interactive: false}).addTo(map);
  function handleIcon(kind) {
    return L.divIcon({className: 'gw-cam-handle gw-cam-handle-' + kind, html: '<i></i>', iconSize: [40, 40]});
  }
  var marker = L.marker([now.lat, now.lon], {icon: handleIcon('camera'), draggable: false, keyboard: false,
                                            title: gw.t('cfile_map_position')}).addTo(map);
  var handles = {
    azimuth: L.marker([now.lat, now.lon], {icon: handleIcon('azimuth'), keyboard: false, title: gw.t('cfile_map_azimuth')}),
    left: L.marker([now.lat, now.lon], {icon: handleIcon('fov'), keyboard: false, title: gw.t('cfile_map_fov')}),
    right: L.marker([now.lat, now.lon], {icon: handleIcon('fov'), keyboard: false, title: gw.t('cfile_map_fov')})
  };

  function tip(layer, text) {  /* a text node: Leaflet parses a string tooltip as HTML */
    var node = gw.el('span', text);
    if (layer.getTooltip()) layer.setTooltipContent(node); else layer.bindTooltip(node, {permanent: true, direction: 'top', offset: [0, -16]});
    layer.openTooltip();
  }
  function untip(layer) { if (layer.getTooltip()) layer.unbindTooltip(); }

  function changed() {
    return FIELDS.filter(function (f) { return now[f] !== saved[f]; });
  }
  function showReadout() {
    var v = view();
    readout.textContent = gw.t('cfile_map_readout', {az: v.az.toFixed(1), fov: v.fov.toFixed(1),
                                                      lon: Number(now.lon).toFixed(7), lat: Number(now.lat).toFixed(7)});
    var dirty = changed().length > 0;
    saveBtn.disabled = busy || !dirty;
    cancelBtn.disabled = busy || !dirty;
  }
  /* redraw the cone and put the handles back on it (except the one being dragged) */
  function draw(dragging) {
    var v = view();
    cone.setLatLngs(conePoints());
    if (dragging !== handles.azimuth) handles.azimuth.setLatLng(along(v.az));
    if (dragging !== handles.left) handles.left.setLatLng(along(v.az - v.fov / 2));
    if (dragging !== handles.right) handles.right.setLatLng(along(v.az + v.fov / 2));
    var showFov = may('fov') && !v.disc;
    [handles.left, handles.right].forEach(function (h) {
      if (showFov && !map.hasLayer(h)) h.addTo(map); else if (!showFov && map.hasLayer(h)) map.removeLayer(h);
    });
    if (may('azimuth') && !map.hasLayer(handles.azimuth)) handles.azimuth.addTo(map);
    if (!may('azimuth') && map.hasLayer(handles.azimuth)) map.removeLayer(handles.azimuth);
    showReadout();
  }

  function loadFrame() {
    var url = section.dataset.frameUrl + '?lon=' + encodeURIComponent(now.lon) + '&lat=' + encodeURIComponent(now.lat);
    return gw.api(url).then(function (f) {
      f.origin = [f.lon, f.lat];
      frame = f;
    });
  }

  /* dragging the camera: the cone follows at once (the frame moved along), the exact frame once dropped */
  marker.on('drag', function () {
    var ll = marker.getLatLng();
    now.lon = round(ll.lng, 7); now.lat = round(ll.lat, 7);
    frame.origin = [ll.lng, ll.lat];
    draw(null);
    tip(marker, Number(now.lon).toFixed(6) + ', ' + Number(now.lat).toFixed(6));
  });
  marker.on('dragend', function () {
    untip(marker);
    marker.setLatLng([now.lat, now.lon]);
    loadFrame().then(function () { draw(null); }, function (e) { say(gw.t('cfile_map_nomap', {msg: e.message})); });
  });
  handles.azimuth.on('drag', function () {
    now.azimuth = round(bearing(handles.azimuth.getLatLng()), 1) % 360;
    draw(handles.azimuth);
    tip(handles.azimuth, gw.t('cfile_map_azimuth') + ' ' + now.azimuth.toFixed(1) + '°');
  });
  function fovDrag(h) {
    return function () {
      var off = ((bearing(h.getLatLng()) - view().az + 540) % 360) - 180;
      now.fov = Math.min(Math.max(round(2 * Math.abs(off), 1), 1), 359.9);
      draw(h);
      tip(h, gw.t('cfile_map_fov') + ' ' + now.fov.toFixed(1) + '°');
    };
  }
  handles.left.on('drag', fovDrag(handles.left));
  handles.right.on('drag', fovDrag(handles.right));
  Object.keys(handles).forEach(function (k) {
    handles[k].on('dragend', function () { untip(handles[k]); draw(null); });
  });

  function setDraggable() {
    if (marker.dragging) { if (may('lon') && may('lat')) marker.dragging.enable(); else marker.dragging.disable(); }
    Object.keys(handles).forEach(function (k) {
      var h = handles[k];
      h.options.draggable = true;
      if (h.dragging) h.dragging.enable();
    });
    var any = may('lon') || may('azimuth') || may('fov');
    $('gw-cam-hint').hidden = !any;
    $('gw-cam-readonly').hidden = any;
    $('gw-cam-buttons').hidden = !any;
  }

  function restore(values) {
    now = copy(values);
    marker.setLatLng([now.lat, now.lon]);
    frame.origin = [now.lon, now.lat];
    draw(null);
    return loadFrame().then(function () { draw(null); });
  }

  function adopt(rec) {  /* a record the API answered (PATCH 200, or a 409's current) as the new baseline */
    saved = {lon: rec.display ? rec.display.lon : rec.lon, lat: rec.display ? rec.display.lat : rec.lat,
             azimuth: rec.azimuth, fov: rec.fov, version: rec.version};
    cam.version = rec.version;
    if (rec.editable) editable = rec.editable.slice();
    var v = $('cam-version');
    if (v) v.textContent = rec.version;
    ['azimuth', 'fov', 'lon', 'lat'].forEach(function (f) {
      var cell = document.querySelector('#cam-fields tr[data-field="' + f + '"] td');
      if (cell && rec[f] != null) cell.textContent = (f === 'lon' || f === 'lat') ? Number(rec[f]).toFixed(7) : rec[f];
    });
  }

  function setBusy(on) {
    busy = on;
    msg.className = 'gw-cam-msg' + (on ? ' gw-busy' : '');
    if (on) msg.textContent = gw.t('cfile_map_saving');
    showReadout();
  }

  function showConflict(body) {
    var cur = body.current || {}, yours = body.yours || {};
    conflictBox.textContent = '';
    conflictBox.appendChild(gw.el('p', gw.t('cfile_map_conflict', {who: cur.updated_by || '—', at: gw.when(cur.updated_at)})));
    var table = gw.el('table', null, {'class': 'gw', id: 'gw-cam-conflict-table'});
    var head = gw.el('tr');
    [' ', gw.t('cfile_map_theirs'), gw.t('cfile_map_yours')].forEach(function (h) { head.appendChild(gw.el('th', h)); });
    table.appendChild(head);
    var theirs = {lon: cur.display ? cur.display.lon : cur.lon, lat: cur.display ? cur.display.lat : cur.lat,
                  azimuth: cur.azimuth, fov: cur.fov};
    var names = (gw.data.cameras && gw.data.cameras.names) || {};
    FIELDS.forEach(function (f) {
      var tr = gw.el('tr', null, {'data-field': f});
      tr.appendChild(gw.el('th', names[f] || gw.t('cfile_map_' + (f === 'lon' || f === 'lat' ? 'position' : f))));
      tr.appendChild(gw.el('td', theirs[f] == null ? '—' : theirs[f], {'class': 'gw-theirs'}));
      tr.appendChild(gw.el('td', now[f] == null ? '—' : now[f], {'class': 'gw-yours'}));
      table.appendChild(tr);
    });
    conflictBox.appendChild(table);
    var mine = gw.el('button', gw.t('cfile_map_keep_mine'), {type: 'button', id: 'gw-cam-keep-mine'});
    var take = gw.el('button', gw.t('cfile_map_take_theirs'), {type: 'button', id: 'gw-cam-take-theirs'});
    var row = gw.el('div', null, {'class': 'gw-cam-buttons'});
    row.appendChild(mine); row.appendChild(take);
    conflictBox.appendChild(row);
    conflictBox.hidden = false;
    var mineNow = copy(now);
    mine.addEventListener('click', function () {  /* theirs as the baseline, mine on top: only my changes are sent */
      conflictBox.hidden = true;
      adopt(cur);
      now = mineNow;
      save();
    });
    take.addEventListener('click', function () {
      conflictBox.hidden = true;
      adopt(cur);
      restore(saved);
      say('');
    });
  }

  function save() {
    var fields = changed();
    if (!fields.length) { say(gw.t('cfile_map_unchanged'), true); return; }
    var body = {version: saved.version};
    fields.forEach(function (f) { body[f] = now[f]; });
    if (body.lon !== undefined || body.lat !== undefined) { body.lon = now.lon; body.lat = now.lat; body.crs = 'display'; }
    setBusy(true);
    gw.api(cam.patch_url, {method: 'PATCH', json: body}).then(function (rec) {
      setBusy(false);
      adopt(rec);
      now = copy(saved);
      return restore(saved).then(function () { say(gw.t('cfile_map_saved', {version: rec.version}), true); });
    }, function (err) {
      setBusy(false);
      var b = err.body || {};
      if (err.status === 409 && b.current) {
        say('');
        showConflict(b);
      } else if (err.status === 403) {
        (b.fields || []).forEach(function (f) { editable = editable.filter(function (e) { return e !== f; }); });
        say(gw.t('cfile_map_forbidden', {msg: err.message}));
        restore(saved).then(setDraggable);
      } else if (err.status === 422) {
        say(gw.t('cfile_map_invalid', {msg: (b.errors || []).map(function (e) {
          return (e.field ? e.field + ': ' : '') + e.reason; }).join('; ') || err.message}));
      } else {
        say(gw.t('cfile_map_failed', {msg: err.message}));
      }
    });
  }
  saveBtn.addEventListener('click', save);
  cancelBtn.addEventListener('click', function () {
    conflictBox.hidden = true;
    say('');
    restore(saved);
  });

  msg.className = 'gw-cam-msg gw-busy';
  msg.textContent = gw.t('cfile_map_loading');
  loadFrame().then(function () {
    say('');
    draw(null);
    map.fitBounds(cone.getBounds().extend(marker.getLatLng()), {padding: [30, 30], maxZoom: 19});
    setDraggable();
    section.dataset.ready = '1';
  }, function (e) { say(gw.t('cfile_map_nomap', {msg: e.message})); });

  /* for tests and the console: the map, its layers and the current values */
  gw.cameraMap = {map: map, cone: cone, marker: marker, handles: handles, conePoints: function () { return conePoints(); },
                  state: function () { return copy(now); }, saved: function () { return copy(saved); }};
}());
