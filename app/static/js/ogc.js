/* The OGC API's HTML pages (/ogc): the page's features on a small Leaflet map with no basemap (works
   offline), each feature's popup built with textContent (names of codes from the page's label table). */
(function () {
  'use strict';
  var gw = window.gw, box = document.getElementById('gw-ogc-map');
  if (!box || !window.L) return;
  if (!gw.data.lonlat) { box.hidden = true; return; }
  var map = L.map(box, {attributionControl: false});
  var popup = function (f) {
    var table = gw.el('table');
    var row = function (k, v) { var tr = gw.el('tr'); tr.appendChild(gw.el('th', k)); tr.appendChild(gw.el('td', v)); table.appendChild(tr); };
    row('id', f.id);
    Object.keys(f.properties || {}).forEach(function (k) {
      var v = f.properties[k];
      if (v !== null && typeof v === 'object') v = JSON.stringify(v);
      if (v !== null) row(k, v);
    });
    var div = gw.el('div', null, {'class': 'gw-popup'});
    div.appendChild(table);
    return div;
  };
  var layer = L.geoJSON({type: 'FeatureCollection', features: gw.data.features}, {
    pointToLayer: function (f, ll) { return L.circleMarker(ll, {radius: 6, weight: 1, color: '#1f3a5f', fillOpacity: 0.7}); },
    style: function () { return {color: '#1f3a5f', weight: 2, fillOpacity: 0.15}; },
    onEachFeature: function (f, l) { l.bindPopup(function () { return popup(f); }); }
  }).addTo(map);
  var bounds = layer.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, {maxZoom: 17, padding: [10, 10]});
  else map.setView([29.3665, 104.7713], 11);
}());
