/* gridwatch's GeoJSON layers (loaded in the map pages' head, before Folium's inline script): every
   layer's onEachFeature is gw.feature(S), S the spec layers.popups.feature_js writes. Popups and
   tooltips are built on demand from the feature's properties with textContent (user text stays text);
   a popup field [label, prop, kind] shows gw.label(kind, value) (a code by its name); the style comes
   from the properties (a colour per state or status, a flag such as overdue). A camera popup ends with its
   live-view link (gw.liveLink: the page data's "live" entry, app.cameras.live.page_data; none without it). */
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

  /* the live-view URL of a device ID, as app.cameras.live.live_url builds it: every {device_id} of the page's
     template replaced by the ID percent-encoded like Python's quote(id, safe='') (encodeURIComponent, and
     !'()* too); null when the page has no template (the setting video_url_template is empty) */
  function quoted(s) {
    return encodeURIComponent(String(s)).replace(/[!'()*]/g, function (c) {
      return '%' + c.charCodeAt(0).toString(16).toUpperCase();
    });
  }
  function live() { return (gw.data && gw.data.live) || null; }
  gw.liveUrl = function (id) {
    var lv = live();
    if (!lv || !lv.template || id == null || id === '') return null;
    return lv.template.split('{device_id}').join(quoted(id));
  };
  /* the link itself (opens the video in a new tab), or null: no template, or a lifecycle without video
     (a planned or retired camera; lifecycle undefined: a list of built cameras) */
  gw.liveLink = function (id, lifecycle) {
    var lv = live(), href = gw.liveUrl(id);
    if (!href || (lifecycle != null && (lv.lifecycles || []).indexOf(lifecycle) < 0)) return null;
    var a = document.createElement('a');
    a.href = href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.className = 'gw-live';
    a.setAttribute('data-device', String(id));
    a.textContent = lv.label;
    return a;
  };

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
      if (S.radius && layer.setRadius && p[S.radius] > 0) layer.setRadius(p[S.radius]);
      if (S.popup) layer.bindPopup(function () {
        var d = el('div', undefined, 'gw-popup'), t = el('table');
        if (S.popup.flag && p[S.popup.flag[0]]) d.appendChild(el('b', S.popup.flag[1], 'gw-overdue'));
        if (S.popup.title) d.appendChild(el('b', p[S.popup.title]));
        S.popup.fields.forEach(function (x) {
          var tr = el('tr'); tr.appendChild(el('th', x[0])); tr.appendChild(el('td', shown(p, x))); t.appendChild(tr);
        });
        d.appendChild(t);
        var link = S.popup.live ? gw.liveLink(p[S.popup.live], p.lifecycle) : null;
        if (link) { var lp = el('p', undefined, 'gw-live-row'); lp.appendChild(link); d.appendChild(lp); }
        if (S.popup.slot) { var s = el('div', undefined, S.popup.slot[0]); s.setAttribute(S.popup.slot[1], p.id); d.appendChild(s); }
        return d;
      }, {maxWidth: 360});
      if (S.tooltip) layer.bindTooltip(function () { return el('span', p[S.tooltip]); }, {sticky: true});
    };
  };
}());
