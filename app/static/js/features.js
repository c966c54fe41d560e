/* gridwatch's GeoJSON layers (loaded in the map pages' head, before Folium's inline script): every
   layer's onEachFeature is gw.feature(S), S the spec layers.popups.feature_js writes. Popups and
   tooltips are built on demand from the feature's properties with textContent (user text stays text);
   a popup field [label, prop, kind] shows gw.label(kind, value) (a code by its name); the style comes
   from the properties (a colour per state or status, a flag such as overdue). */
(function () {
  'use strict';
  var gw = window.gw = window.gw || {};

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) e.textContent = (text === null || text === '') ? '\u2014' : String(text);
    if (cls) e.className = cls;
    return e;
  }
  /* a property as shown: by its name when the field names a label kind (gw.label comes with gw.js,
     which loads later: looked up when a popup opens) */
  function shown(p, field) {
    var v = p[field[1]];
    if (field[2] && v != null && v !== '' && gw.label) return gw.label(field[2], v);
    return v;
  }
  gw.featureValue = shown;

  gw.feature = function (S) {
    return function (f, layer) {
      var p = f.properties || {};
      if (S.style && layer.setStyle) {
        var st = Object.assign({}, S.style.base || {}), c = S.style.colour;
        if (c) {
          var v = c.map ? c.map[p[c.prop]] : p[c.prop];
          c.keys.forEach(function (k) { st[k] = v || c['default']; });
        }
        if (S.style.flag && p[S.style.flag.prop]) Object.assign(st, S.style.flag.style);
        layer.setStyle(st);
      }
      if (S.popup) layer.bindPopup(function () {
        var d = el('div', undefined, 'gw-popup'), t = el('table');
        if (S.popup.flag && p[S.popup.flag[0]]) d.appendChild(el('b', S.popup.flag[1], 'gw-overdue'));
        if (S.popup.title) d.appendChild(el('b', p[S.popup.title]));
        S.popup.fields.forEach(function (x) {
          var tr = el('tr'); tr.appendChild(el('th', x[0])); tr.appendChild(el('td', shown(p, x))); t.appendChild(tr);
        });
        d.appendChild(t);
        if (S.popup.slot) { var s = el('div', undefined, S.popup.slot[0]); s.setAttribute(S.popup.slot[1], p.id); d.appendChild(s); }
        return d;
      }, {maxWidth: 360});
      if (S.tooltip) layer.bindTooltip(function () { return el('span', p[S.tooltip]); }, {sticky: true});
    };
  };
}());
