/* The incident detail panel (_detail.html) of the operator and grid pages, and the popup's details slot:
   details, photos (before and after apart), the timeline (actions and states by name, system notes in the
   reader's language), and every action the user may take, each sent with the incident's version (a stale
   page gets 409: the message says so and the panel reloads). An action opens a small form with what it
   needs (map.rules: a required note, a member chosen from the grid, after-photos, a spot on the map).
   The cameras that see the incident are gw.showSeeing's list (map.js), each with its live-view link when the
   page has a template (gw.liveLink, features.js).
   Loaded after gw.js and map.js; gives gw.openIncident(id). Server text goes in by textContent. */
(function () {
  'use strict';
  var gw = window.gw;
  var cfg = gw.data.map;
  if (!cfg) return;
  var map = gw.map, rules = cfg.rules || {};
  var $ = function (id) { return document.getElementById(id); };
  var current = null;  /* the incident shown: its detail JSON */

  function dash(v) { return v == null || v === '' ? '—' : v; }
  function row(table, head, value, cls) {
    var tr = gw.el('tr'); tr.appendChild(gw.el('th', head));
    var td = gw.el('td');
    if (value instanceof Node) td.appendChild(value); else td.textContent = dash(value);
    tr.appendChild(td);
    if (cls) tr.className = cls;
    table.appendChild(tr);
    return tr;
  }
  function tel(phone) {
    if (!phone || /\*/.test(phone)) return phone;  /* a masked number is not a number to call */
    return gw.el('a', phone, {href: 'tel:' + String(phone).replace(/[^0-9+]/g, '')});
  }
  function fillSlot(slot, data) {
    /* the popup's details, fetched on click: what the marker does not carry */
    var inc = data.incident, t = gw.el('table');
    row(t, gw.t('description'), inc.description);
    row(t, gw.t('address'), inc.address);
    row(t, gw.t('assignee'), inc.assignee);
    row(t, gw.t('seen_by'), data.seeing.cameras.length);
    slot.replaceChildren(t);
  }
  function message(text, kind) {
    var box = $('gw-detail-message');
    if (!box) return;
    box.hidden = !text;
    box.textContent = text || '';
    box.className = kind === 'error' ? 'gw-detail-error' : 'gw-detail-info';
  }
  function busy(on) {
    var b = $('gw-detail-busy');
    if (b) b.hidden = !on;
    var box = $('gw-detail');
    if (box) box.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  function photoList(list) {
    var ul = gw.el('ul', null, {'class': 'gw-photos'});
    list.forEach(function (p) {
      var a = gw.el('a', null, {href: p.url, target: '_blank', rel: 'noopener'});
      var img = gw.el('img', null, {src: p.thumb_url, alt: gw.t('loop_photo_alt', {id: p.id}), loading: 'lazy'});
      a.appendChild(img);
      var li = gw.el('li'); li.appendChild(a); ul.appendChild(li);
    });
    return ul;
  }
  function showPhotos(photos) {
    var box = $('gw-detail-photos');
    if (!box) return;
    box.replaceChildren();
    ['before', 'after'].forEach(function (kind) {
      var list = (photos || {})[kind] || [];
      var sec = gw.el('div', null, {'class': 'gw-photo-kind', 'data-kind': kind});
      sec.appendChild(gw.el('h5', gw.t('loop_photos_' + kind) + ' (' + list.length + ')'));
      if (list.length) sec.appendChild(photoList(list));
      box.appendChild(sec);
    });
  }
  function showTimeline(events) {
    var tl = $('gw-detail-timeline');
    tl.replaceChildren();
    events.forEach(function (e) {
      var li = gw.el('li', null, {'data-action': e.action});
      var head = gw.when(e.at) + ' ' + e.actor + ' ' + gw.label('action', e.action);
      if (e.to_state && e.to_state !== e.from_state) head += ' → ' + gw.label('state', e.to_state);
      li.appendChild(gw.el('span', head));
      if (e.note) li.appendChild(gw.el('div', e.note, {'class': 'gw-tl-note'}));
      if (e.photos && e.photos.length) li.appendChild(photoList(e.photos));
      tl.appendChild(li);
    });
  }
  function showDetail(data, slot) {
    if (slot) fillSlot(slot, data);
    var box = $('gw-detail');
    if (!box) return;
    current = data;
    box.hidden = false;
    var inc = data.incident;
    box.dataset.incident = inc.id;
    box.dataset.version = inc.version;
    $('gw-detail-title').textContent = inc.external_id || inc.id;
    var table = $('gw-detail-table');
    table.replaceChildren();
    row(table, gw.t('category'), inc.category);
    row(table, gw.t('state'), gw.label('state', inc.state)).dataset.state = inc.state;
    row(table, gw.t('priority'), gw.label('priority', inc.priority));
    row(table, gw.t('description'), inc.description);
    row(table, gw.t('address'), inc.address);
    row(table, gw.t('grid_code'), inc.grid_code);
    row(table, gw.t('reported_at'), gw.when(inc.reported_at));
    row(table, gw.t('deadline'), gw.when(inc.deadline), inc.overdue ? 'gw-overdue' : null);
    row(table, gw.t('assignee'), inc.assignee_phone ? (function () {
      var s = gw.el('span', inc.assignee + ' '); s.appendChild(tel(inc.assignee_phone)); return s; }()) : inc.assignee);
    row(table, gw.t('reporter_name'), inc.reporter_name);
    row(table, gw.t('reporter_phone'), tel(inc.reporter_phone));
    var dup = $('gw-detail-duplicate');
    if (dup) {
      dup.replaceChildren();
      dup.hidden = !inc.duplicate_of_id;
      if (inc.duplicate_of_id) {
        dup.appendChild(gw.el('span', gw.t('loop_duplicate_of_' + (inc.duplicate_status || 'suspected')) + ' '));
        var a = gw.el('a', '#' + (inc.duplicate_of_no || inc.duplicate_of_id), {href: '#', 'data-incident': inc.duplicate_of_id});
        a.addEventListener('click', function (ev) { ev.preventDefault(); openIncident(inc.duplicate_of_id); });
        dup.appendChild(a);
      }
    }
    showPhotos(data.photos);
    showTimeline(data.timeline);
    gw.showSeeing($('gw-detail-cameras'), data.seeing);
    closeForm();
    var acts = $('gw-detail-actions');
    acts.replaceChildren();
    if (!data.actions.length) acts.appendChild(gw.el('span', gw.t('no_actions')));
    data.actions.forEach(function (a) {
      var b = gw.el('button', gw.label('action', a), {type: 'button', 'data-action': a, 'class': 'gw-act'});
      b.addEventListener('click', function () { openForm(a); });
      acts.appendChild(b);
    });
  }

  /* the form of one action: what rules[action] says it needs */
  function closeForm() {
    stopMove();
    var f = $('gw-detail-form');
    if (f) { f.hidden = true; f.replaceChildren(); delete f.dataset.action; }
  }
  function openForm(action) {
    var f = $('gw-detail-form'), need = rules[action] || {};
    closeForm();
    message(null);
    f.dataset.action = action;
    f.appendChild(gw.el('h5', gw.label('action', action)));
    if (need.member) {
      var lab = gw.el('label', gw.t('loop_assign_to'));
      var sel = gw.el('select', null, {name: 'member_id', required: 'required'});
      sel.appendChild(gw.el('option', gw.t('loop_loading'), {value: ''}));
      lab.appendChild(sel); f.appendChild(lab);
      gw.api(gw.url(cfg.urls.assignees, {id: current.incident.id})).then(function (out) {
        sel.replaceChildren();
        out.members.forEach(function (m) {
          var roles = m.roles.map(function (r) { return gw.label('member_role', r); }).join('、');
          var o = gw.el('option', m.name + ' · ' + roles, {value: m.id});
          if (m.id === out.default) o.selected = true;
          sel.appendChild(o);
        });
        if (!out.members.length) sel.appendChild(gw.el('option', gw.t('loop_no_members'), {value: ''}));
      }).catch(function (e) { message(e.message, 'error'); });
    }
    var noteLab = gw.el('label', need.note ? gw.t('loop_note_required') : gw.t('note'));
    var note = gw.el('textarea', null, {name: 'note', rows: '2', placeholder: gw.t('loop_hint_' + action)});
    if (need.note) note.required = true;
    noteLab.appendChild(note); f.appendChild(noteLab);
    if (need.photos) {
      var pl = gw.el('label', gw.t('loop_after_photos', {n: cfg.photo_max_count}));
      var input = gw.el('input', null, {type: 'file', name: 'photos', accept: 'image/*', capture: 'environment', multiple: 'multiple'});
      pl.appendChild(input); f.appendChild(pl);
    }
    var go = gw.el('button', need.spot ? gw.t('loop_place_on_map') : gw.label('action', action),
                   {type: 'submit', 'class': 'gw-act gw-go', 'data-submit': action});
    var cancel = gw.el('button', gw.t('cancel'), {type: 'button', 'class': 'gw-act'});
    cancel.addEventListener('click', closeForm);
    f.appendChild(go); f.appendChild(cancel);
    f.hidden = false;
    if (need.spot) startMove();
  }
  function submitForm(ev) {
    ev.preventDefault();
    var f = $('gw-detail-form'), action = f.dataset.action, need = rules[action] || {};
    if (!action || !current) return;
    var note = f.querySelector('[name=note]').value.trim();
    if (need.note && !note) { message(gw.t('loop_note_missing'), 'error'); f.querySelector('[name=note]').focus(); return; }
    var body = {action: action, version: current.incident.version, note: note || null};
    var sel = f.querySelector('[name=member_id]');
    if (sel) {
      if (!sel.value) { message(gw.t('loop_choose_member'), 'error'); return; }
      body.member_id = Number(sel.value);
    }
    if (need.spot) {
      if (!moving || !moving.spot) { message(gw.t('loop_move_place'), 'error'); return; }
      body.lon = moving.spot.lng; body.lat = moving.spot.lat;
    }
    var files = f.querySelector('[name=photos]');
    send(current.incident.id, body, files && files.files.length ? files.files : null);
  }
  function send(id, body, files) {
    var opts;
    if (files) {  /* multipart: the fields and the photos in one request (one transaction on the server) */
      var fd = new FormData();
      Object.keys(body).forEach(function (k) { if (body[k] != null) fd.append(k, body[k]); });
      Array.prototype.forEach.call(files, function (file) { fd.append('photos', file); });
      opts = {method: 'POST', body: fd};
    } else {
      opts = {method: 'POST', json: body};
    }
    busy(true);
    return gw.api(gw.url(cfg.urls.actions, {id: id}), opts).then(function (out) {
      busy(false);
      closeForm();
      return openIncident(id).then(function () {
        message(gw.t('loop_done', {action: gw.label('action', body.action), state: gw.label('state', out.state)}), 'info');
        if (gw.poll) gw.poll();
        document.dispatchEvent(new CustomEvent('gw:incident-changed', {detail: {id: id, state: out.state, version: out.version}}));
      });
    }).catch(function (e) {
      busy(false);
      if (e.status === 409) {  /* someone else acted first: show what is there now, and say so */
        return openIncident(id).then(function () { message(gw.t('loop_conflict'), 'error'); });
      }
      message(e.message, 'error');
    });
  }

  /* move: the form arms the map, a click (or tap) places the new spot (display coordinates, as the map
     has them; the server converts), confirm posts it with the note */
  var moving = null, moveBox = $('gw-move');
  function stopMove() {
    if (moving && moving.mark) map.removeLayer(moving.mark);
    moving = null;
    if (moveBox) moveBox.hidden = true;
    map.getContainer().style.cursor = '';
  }
  function startMove() {
    moving = {};
    moveBox.hidden = false;
    $('gw-move-confirm').hidden = true;
    map.getContainer().style.cursor = 'crosshair';
  }
  map.on('click', function (e) {
    if (!moving) return;
    if (moving.mark) map.removeLayer(moving.mark);
    moving.spot = e.latlng;
    moving.mark = L.circleMarker(e.latlng, cfg.style.move).addTo(map);
    $('gw-move-confirm').hidden = false;
  });
  if (moveBox) {
    $('gw-move-cancel').addEventListener('click', closeForm);
    $('gw-move-confirm').addEventListener('click', function () { $('gw-detail-form').requestSubmit(); });
  }
  var form = $('gw-detail-form');
  if (form) form.addEventListener('submit', submitForm);

  function openIncident(id, slot) {
    busy(true);
    return gw.api(gw.url(cfg.urls.incident, {id: id})).then(function (data) { busy(false); showDetail(data, slot); })
      .catch(function (e) { busy(false); message(e.message, 'error'); console.warn(e.message); });
  }
  gw.openIncident = openIncident;
  /* a link to one incident (the audit log's, a shared URL): #incident=<id> opens its detail */
  function fromHash() {
    var m = /^#incident=(\d{1,18})$/.exec(window.location.hash);
    if (m) openIncident(m[1]);
  }
  window.addEventListener('hashchange', fromHash);
  fromHash();
  map.on('popupopen', function (e) {
    var node = e.popup.getElement() && e.popup.getElement().querySelector('.gw-incident[data-incident]');
    if (node) openIncident(node.dataset.incident, node);
  });
}());
