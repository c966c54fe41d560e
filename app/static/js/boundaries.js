/* Grid boundary upload (网格边界上传): the busy indicator of the dry run and the commit, and the preview map:
   the layer that results (added, reshaped, unchanged grids), the outlines it replaces or removes, and the
   topology problems; a click on a problem's row zooms to it and highlights it. Data: gw.data.map
   (GeoJSON in display coordinates), gw.data.styles, gw.data.problem_colours. */
(function () {
  'use strict';
  var D = gw.data || {};

  /* a form that takes a while: its button disabled and the busy line shown until the next page arrives */
  function busy(form) {
    if (!form) return;
    form.addEventListener('submit', function () {
      var out = document.getElementById('bnd-busy');
      document.querySelectorAll('#bnd button[type=submit], .bnd-actions button').forEach(function (b) { b.disabled = true; });
      if (out) { out.textContent = form.dataset.busy || ''; out.hidden = false; }
      document.body.setAttribute('aria-busy', 'true');
    });
  }
  busy(document.getElementById('bnd-form'));
  busy(document.getElementById('bnd-commit-form'));

  /* the community list is used only with its radio */
  var community = document.getElementById('bnd-community');
  var radios = document.querySelectorAll('input[name=scope_kind]');
  if (community) {
    var sync = function () {
      var one = document.getElementById('bnd-scope-community');
      community.disabled = !(one && one.checked);
    };
    radios.forEach(function (r) { r.addEventListener('change', sync); });
    community.addEventListener('change', function () {
      var one = document.getElementById('bnd-scope-community');
      if (community.value && one) { one.checked = true; sync(); }
    });
    sync();
  }

  var box = document.getElementById('bnd-map');
  if (!box || !window.L || !D.map) return;
  var S = D.styles, C = D.problem_colours;
  var map = L.map(box, {zoomControl: true});
  if (D.basemap) L.tileLayer(D.basemap.url, {attribution: D.basemap.attribution, maxZoom: 19}).addTo(map);
  var tip = function (f, layer) {
    var p = f.properties || {};
    var text = (p.name ? p.name + ' ' : '') + (p.code || '') + (p.state ? ' · ' + gw.t('bnd_legend_' + p.state) : '');
    layer.bindTooltip(gw.el('span', text), {sticky: true});   /* a text node: names are user text */
  };
  L.geoJSON(D.map.communities, {style: S.community, interactive: false}).addTo(map);
  var grids = L.geoJSON(D.map.grids, {style: function (f) { return S[f.properties.state] || S.grid; },
                                       onEachFeature: tip}).addTo(map);
  var before = L.geoJSON(D.map.before, {style: function (f) { return S[f.properties.state] || S.before; },
                                         onEachFeature: tip}).addTo(map);
  var byIndex = {};
  var problems = L.geoJSON(D.map.problems, {
    style: function (f) {
      var c = C[f.properties.kind] || '#d7191c';
      return {color: c, weight: 3, fillColor: c, fillOpacity: 0.45};
    },
    pointToLayer: function (f, latlng) { return L.circleMarker(latlng, {radius: 8}); },
    onEachFeature: function (f, layer) {
      byIndex[f.properties.i] = layer;
      layer.bindTooltip(gw.el('span', gw.t('bnd_kind_' + f.properties.kind) + ' ' + (f.properties.codes || '').split(';').join(' ')));
      layer.on('click', function () { select(f.properties.i, false); });
    }
  }).addTo(map);

  var all = L.featureGroup([grids, before, problems]);
  var b = D.bbox;
  map.fitBounds(all.getBounds().isValid() ? all.getBounds() : [[b[1], b[0]], [b[3], b[2]]]);

  /* legend: each state's colour, named */
  var legend = document.getElementById('bnd-legend');
  if (legend) {
    ['added', 'reshaped', 'before', 'removed', 'grid'].forEach(function (k) {
      var item = gw.el('span', gw.t('bnd_legend_' + k));
      var swatch = gw.el('i');
      swatch.style.borderColor = S[k].color;
      item.insertBefore(swatch, item.firstChild);
      legend.appendChild(item);
    });
  }

  var current = null;
  function select(i, zoom) {
    document.querySelectorAll('tr.bnd-problem').forEach(function (tr) {
      tr.classList.toggle('bnd-on', String(tr.dataset.i) === String(i));
    });
    if (current) problems.resetStyle(current);
    current = byIndex[i] || null;
    if (!current) return;
    current.setStyle(S.selected);
    if (current.bringToFront) current.bringToFront();
    if (zoom) {
      if (current.getBounds) map.fitBounds(current.getBounds(), {maxZoom: 19, padding: [40, 40]});
      else map.setView(current.getLatLng(), 18);
      box.dataset.selected = String(i);
    }
  }
  document.querySelectorAll('tr.bnd-problem').forEach(function (tr) {
    tr.style.setProperty('--bnd-colour', C[tr.dataset.kind] || '#999');
    var go = function () { select(tr.dataset.i, true); };
    tr.addEventListener('click', go);
    tr.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); go(); } });
  });
  box.dataset.ready = '1';
}());
