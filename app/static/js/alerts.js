/* Alerts (提醒) on the map pages: a new incident arriving shows a toast (role=status, aria-live) that
   opens it on a click, and its marker pulses for a while; an optional short beep (WebAudio, off by
   default, the choice remembered in localStorage); the bar's due-soon and overdue badges refresh after
   every poll. Self-contained: it needs only gw.js, the map script's 'gw:features' event
   ({features, first}) and the bar's badges element (_nav.html), which carries the badges' URL and this
   script's words (data-url, data-messages), so any page with the bar can load it with one <script> line. */
(function () {
  'use strict';
  var gw = window.gw = window.gw || {};
  var badges = document.getElementById('gw-badges');
  var words = {};
  try { words = badges ? JSON.parse(badges.dataset.messages || '{}') : {}; } catch (e) { words = {}; }
  function t(key, values) {
    var text = words[key] || (gw.t ? gw.t(key) : key);
    Object.keys(values || {}).forEach(function (k) { text = text.split('{' + k + '}').join(String(values[k])); });
    return text;
  }
  function el(tag, text, attrs) {
    var e = document.createElement(tag);
    if (text != null) e.textContent = String(text);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  /* the ring has the colour of a reported incident's marker (layers.incidents.STATE_COLOURS, via the bar) */
  var ringColour = (badges && badges.dataset.ring) || 'currentColor';
  var TOAST_MS = 20000, PULSE_MS = 8000, MAX_TOASTS = 5, SOUND_KEY = 'gw.alerts.sound';

  var style = el('style');
  style.textContent =
    '.gw-toasts{position:fixed;right:12px;bottom:12px;z-index:2000;display:flex;flex-direction:column;gap:6px;max-width:360px}' +
    '.gw-toast{display:flex;align-items:stretch;background:#1f3a5f;color:#fff;border-radius:6px;box-shadow:0 2px 8px rgba(0,0,0,.3)}' +
    '.gw-toast button{background:none;border:0;color:inherit;font:inherit;cursor:pointer;min-height:44px}' +
    '.gw-toast .gw-toast-open{flex:1;text-align:left;padding:6px 10px}' +
    '.gw-toast .gw-toast-open small{display:block;opacity:.8}' +
    '.gw-toast .gw-toast-close{min-width:44px;font-size:18px}' +
    '.gw-sound{min-height:28px}' +
    '@media (max-width:700px){.gw-toasts{left:8px;right:8px;max-width:none}.gw-sound{min-height:44px}}' +
    '.gw-pulse-ring{display:block;width:100%;height:100%;border:3px solid ' + ringColour + ';border-radius:50%;' +
    'box-sizing:border-box;animation:gw-pulse 1s ease-out infinite}' +
    '@keyframes gw-pulse{0%{transform:scale(.4);opacity:1}100%{transform:scale(1.4);opacity:0}}';
  document.head.appendChild(style);

  var toasts = el('div', null, {'class': 'gw-toasts', id: 'gw-toasts', role: 'status', 'aria-live': 'polite'});
  document.body.appendChild(toasts);

  /* sound: off unless the user turned it on here before; the AudioContext starts on that click */
  var audio = null;
  var soundOn = false;
  try { soundOn = window.localStorage.getItem(SOUND_KEY) === 'on'; } catch (e) { soundOn = false; }
  function beep() {
    if (!soundOn) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain(), now = audio.currentTime;
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, now);
      gain.gain.exponentialRampToValueAtTime(0.001, now + 0.25);
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(now); osc.stop(now + 0.25);
    } catch (e) { /* no audio here: the toast still shows */ }
  }
  var toggle = el('button', null, {type: 'button', 'class': 'gw-sound', id: 'gw-sound'});
  function showSound() {
    toggle.textContent = t(soundOn ? 'alert_sound_on' : 'alert_sound_off');
    toggle.setAttribute('aria-pressed', soundOn ? 'true' : 'false');
  }
  toggle.addEventListener('click', function () {
    soundOn = !soundOn;
    try { window.localStorage.setItem(SOUND_KEY, soundOn ? 'on' : 'off'); } catch (e) { /* private mode */ }
    showSound();
    if (soundOn) { beep(); if (audio && audio.resume) audio.resume(); }
  });
  showSound();
  (badges || toasts).appendChild(toggle);

  function pulse(id, latlng) {
    if (!gw.map || !window.L) return;
    var mk = gw.known && gw.known[id];
    var at = mk && mk.getLatLng ? mk.getLatLng() : latlng;
    if (!at) return;
    /* an HTML icon, not a vector: the map may draw its vectors on a canvas */
    /* the ring is the icon's child: Leaflet places the icon itself by its transform */
    var ring = window.L.marker(at, {icon: window.L.divIcon({className: 'gw-pulse', iconSize: [36, 36],
                                                           html: el('span', null, {'class': 'gw-pulse-ring'})}),
                                    interactive: false, keyboard: false, zIndexOffset: 1000}).addTo(gw.map);
    if (ring.getElement()) ring.getElement().setAttribute('data-incident', id);
    setTimeout(function () { gw.map.removeLayer(ring); }, PULSE_MS);
  }

  function toast(f) {
    var p = f.properties || {}, c = f.geometry && f.geometry.coordinates;
    var latlng = c ? [c[1], c[0]] : null;
    var grid = p.grid_name || p.grid_code || '';
    var node = el('div', null, {'class': 'gw-toast', 'data-incident': p.id});
    var open = el('button', t('alert_new', {no: p.no || p.id, category: p.category || '', grid: grid}),
                  {type: 'button', 'class': 'gw-toast-open'});
    open.appendChild(el('small', t('alert_open')));
    var close = el('button', '×', {type: 'button', 'class': 'gw-toast-close', 'aria-label': t('alert_close')});
    function drop() { if (node.parentNode) node.parentNode.removeChild(node); }
    open.addEventListener('click', function () {
      drop();
      if (gw.map && latlng) gw.map.flyTo(latlng, Math.max(gw.map.getZoom(), 17), {duration: 0.6});
      if (gw.openIncident) gw.openIncident(p.id);
      pulse(p.id, latlng);
    });
    close.addEventListener('click', drop);
    node.appendChild(open); node.appendChild(close);
    toasts.appendChild(node);
    while (toasts.children.length > MAX_TOASTS) toasts.removeChild(toasts.firstChild);
    setTimeout(drop, TOAST_MS);
    pulse(p.id, latlng);
  }

  /* what counts as new: not seen on this page before (its own markers and the first poll's) and still
     reported: an old incident that only changed is not news */
  var seen = {};
  function remember(id) { seen[String(id)] = true; }
  function refreshBadges() {
    if (!badges || !badges.dataset.url || !gw.api) return;
    gw.api(badges.dataset.url).then(function (counts) {
      Array.prototype.forEach.call(badges.querySelectorAll('[data-badge]'), function (b) {
        var n = counts[b.dataset.badge];
        if (n == null) return;
        b.textContent = n;
        if (n) b.parentNode.removeAttribute('data-zero'); else b.parentNode.setAttribute('data-zero', '');
      });
    }).catch(function (e) { console.warn('badges', e.message); });
  }
  Object.keys(gw.known || {}).forEach(remember);  /* the page's own markers, before any poll added one */
  document.addEventListener('gw:features', function (e) {
    var d = e.detail || {}, fresh = [];
    (d.features || []).forEach(function (f) {
      var id = f.properties && f.properties.id;
      if (id == null || seen[String(id)]) return;
      remember(id);
      if (!d.first && f.properties.state === 'reported') fresh.push(f);
    });
    fresh.forEach(toast);
    if (fresh.length) beep();
    if (!d.first) refreshBadges();
  });
  gw.alerts = {toast: toast, refreshBadges: refreshBadges};
}());
