/* A grid's page (/grids/<code>): the boundary on a small map, and the member actions (assign, change roles,
   move, unassign, add a new member) sent to the JSON API with the grid's version as read (a move also sends
   the destination's, from gw.data.grid.versions). A stale version is a 409 whose body lists that grid's
   members now: shown beside a reload button, nothing written. After a
   change the page reloads (the server renders the members), and says what happened and any warning.
   Data and URLs come from the page block (gw.data.grid); text goes in by textContent only. */
(function () {
  'use strict';
  var gw = window.gw, G = gw.data && gw.data.grid;
  if (!G) return;
  var $ = function (id) { return document.getElementById(id); };
  var status = $('gw-grid-status');
  var NOTE = 'gw-grid-note:' + G.code;

  function say(text, cls) { status.textContent = text || ''; status.className = 'gw-status ' + (cls || ''); }

  /* ---- the map ------------------------------------------------------------------------------------ */
  function initMap() {
    var box = $('gw-grid-map');
    if (!box) return;
    if (!window.L) { box.textContent = gw.t('grids_map_none'); return; }
    var map = L.map(box, {zoomControl: true, attributionControl: !!G.basemap});
    if (G.basemap) L.tileLayer(G.basemap.url, {attribution: G.basemap.attribution, maxZoom: 19}).addTo(map);
    var outline = L.geoJSON(G.outline, {style: G.style, interactive: false}).addTo(map);
    if (outline.getBounds().isValid()) map.fitBounds(outline.getBounds(), {padding: [8, 8]});
    box.dataset.ready = '1';
  }

  /* ---- sending --------------------------------------------------------------------------------------- */
  function reasons(err) {
    var b = err.body;
    if (b && b.errors && b.errors.length) {
      return b.errors.map(function (e) { return (e.field ? e.field + ': ' : '') + e.reason; }).join('; ');
    }
    return err.message;
  }
  function showConflict(b) {
    var box = $('gw-grid-conflict'), list = $('gw-grid-conflict-members');
    var other = b.grid && b.grid !== G.code;  // a move's destination changed (or was never read)
    $('gw-grid-conflict-text').textContent = other
      ? gw.t('grids_conflict_to', {grid: b.grid, seen: b.seen || '—', current: b.current})
      : gw.t('grids_conflict', {seen: b.seen, current: b.current});
    list.textContent = '';
    (b.members || []).forEach(function (m) {
      list.appendChild(gw.el('li', m.name + ' — ' + m.roles.map(function (r) { return gw.label('member_role', r); }).join('、')));
    });
    box.hidden = false;
    say('');
  }
  function send(button, url, method, json, what) {
    if (button) button.disabled = true;
    say(gw.t('grids_busy'), 'gw-busy');
    return gw.api(url, {method: method, json: json}).then(function (out) {
      var note = {text: what || gw.t('grids_saved'), warnings: (out && out.warnings) || []};
      try { sessionStorage.setItem(NOTE, JSON.stringify(note)); } catch (e) { /* private mode: no note */ }
      location.reload();
      return out;
    }, function (err) {
      if (button) button.disabled = false;
      if (err.status === 409 && err.body && err.body.current) showConflict(err.body);
      else say(gw.t('grids_failed', {why: reasons(err)}), 'gw-error');
      throw err;
    });
  }
  function noteFromLastChange() {
    var raw = null;
    try { raw = sessionStorage.getItem(NOTE); sessionStorage.removeItem(NOTE); } catch (e) { raw = null; }
    if (!raw) return;
    var note = JSON.parse(raw);
    say(note.text, 'gw-ok');
    note.warnings.forEach(function (w) {
      status.appendChild(document.createElement('br'));
      status.appendChild(gw.el('span', gw.t('grids_warning', {text: w}), {'class': 'gw-error gw-warning'}));
    });
  }
  function checkedRoles(form) {
    return Array.prototype.filter.call(form.querySelectorAll('input[name=role]'), function (c) { return c.checked; })
      .map(function (c) { return c.value; });
  }
  function flag(form, name) { var c = form.querySelector('input[name=' + name + ']'); return !!(c && c.checked); }
  function field(form, name) { var e = form.elements[name]; return e ? e.value.trim() : ''; }
  function memberUrl(id) { return G.urls.member + encodeURIComponent(id); }
  function ignore() { /* the failure is shown in the page */ }

  /* ---- a member's row: change roles, move, unassign --------------------------------------------------- */
  function bindRows() {
    document.querySelectorAll('.gw-roles-form').forEach(function (form) {
      form.addEventListener('submit', function (e) {
        e.preventDefault();
        var roles = checkedRoles(form);
        if (!roles.length) { say(gw.t('grids_roles_needed'), 'gw-error'); return; }
        send(form.querySelector('button'), memberUrl(form.dataset.member), 'PATCH',
             {roles: roles, version: G.version, replace_lead: flag(form, 'replace_lead')}).catch(ignore);
      });
    });
    document.querySelectorAll('.gw-move-form').forEach(function (form) {
      form.addEventListener('submit', function (e) {
        e.preventDefault();
        var to = field(form, 'to');
        // the destination's version as this page read it: a change there since (say a new lead, whom
        // replace_lead would demote) is a 409 listing its members; an unknown grid has none to send
        var body = {to: to, version: G.version, replace_lead: flag(form, 'replace_lead')};
        if (G.versions && Object.prototype.hasOwnProperty.call(G.versions, to)) body.to_version = G.versions[to];
        if (form.elements.successor) body.successor = field(form, 'successor');
        send(form.querySelector('button[type=submit]'), memberUrl(form.dataset.member) + '/move', 'POST', body)
          .then(function () { /* the page reloads */ }, ignore);
      });
    });
    document.querySelectorAll('.gw-unassign-form').forEach(function (form) {
      form.addEventListener('submit', function (e) {
        e.preventDefault();
        var row = form.closest('tr');
        if (!window.confirm(gw.t('grids_confirm_unassign', {name: row.dataset.name}))) return;
        var body = {version: G.version};
        if (form.elements.successor) body.successor = field(form, 'successor');
        send(form.querySelector('button[type=submit]'), memberUrl(form.dataset.member), 'DELETE', body).catch(ignore);
      });
    });
  }

  /* ---- assign: find a member, or add a new one, then assign ------------------------------------------ */
  function bindAssign() {
    var form = $('gw-assign-form');
    if (!form) return;
    var q = $('gw-assign-q'), found = $('gw-assign-found'), chosen = $('gw-assign-member');
    var seq = 0, timer = null;
    function choose(m) {
      chosen.value = String(m.id);
      $('gw-assign-chosen').textContent = gw.t('grids_assign_chosen', {name: m.name + (m.external_id ? ' (' + m.external_id + ')' : '')});
      found.textContent = '';
    }
    function search() {
      var n = ++seq, text = q.value.trim();
      if (!text) { found.textContent = ''; return; }
      found.setAttribute('aria-busy', 'true');
      gw.api(G.urls.members + '?q=' + encodeURIComponent(text)).then(function (out) {
        if (n !== seq) return;
        found.removeAttribute('aria-busy');
        found.textContent = '';
        if (!out.members.length) { found.appendChild(gw.el('li', gw.t('grids_no_match'))); return; }
        out.members.forEach(function (m) {
          var where = m.grids.map(function (g) {
            return g.grid_code + ' ' + g.roles.map(function (r) { return gw.label('member_role', r); }).join('、');
          }).join('; ');
          var li = gw.el('li', m.name + (m.external_id ? ' (' + m.external_id + ')' : '') + (where ? ' — ' + where : '') + ' ');
          var b = gw.el('button', gw.t('grids_assign_pick'), {type: 'button', 'data-pick': String(m.id)});
          b.addEventListener('click', function () { choose(m); });
          li.appendChild(b);
          found.appendChild(li);
        });
      }, function (err) {
        found.removeAttribute('aria-busy');
        say(gw.t('grids_failed', {why: reasons(err)}), 'gw-error');
      });
    }
    q.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(search, 250); });
    q.addEventListener('keydown', function (e) { if (e.key === 'Enter') { e.preventDefault(); clearTimeout(timer); search(); } });
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      var roles = checkedRoles(form), button = $('gw-assign-go');
      if (!roles.length) { say(gw.t('grids_roles_needed'), 'gw-error'); return; }
      var name = field(form, 'name');
      var assign = function (member) {
        return send(button, G.urls.assign, 'POST',
                    {member: member, roles: roles, version: G.version, replace_lead: flag(form, 'replace_lead')});
      };
      if (name) {  // a new member: add them, then assign them here
        button.disabled = true;
        say(gw.t('grids_busy'), 'gw-busy');
        gw.api(G.urls.add_member, {method: 'POST', json: {name: name, phone: field(form, 'phone'),
                                                         external_id: field(form, 'external_id')}})
          .then(function (m) {  // a retry after a failed assignment reuses this member, not a second one
            chosen.value = String(m.id);
            ['name', 'phone', 'external_id'].forEach(function (n) { form.elements[n].value = ''; });
            $('gw-assign-chosen').textContent = gw.t('grids_assign_chosen', {name: m.name});
            return assign(m.id);
          }, function (err) {
            button.disabled = false;
            say(gw.t('grids_failed', {why: reasons(err)}), 'gw-error');
          }).catch(ignore);
        return;
      }
      if (!chosen.value) { say(gw.t('grids_pick_first'), 'gw-error'); return; }
      assign(chosen.value).catch(ignore);
    });
  }

  $('gw-grid-reload') && $('gw-grid-reload').addEventListener('click', function () { location.reload(); });
  noteFromLastChange();
  initMap();
  bindRows();
  bindAssign();
}());
