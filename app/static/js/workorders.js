/* The command centre's work-order list (工单) beside the map: open incidents overdue first, then due
   soon; filters (states, street, grid, category, source) with counts per state; a click flies the map
   to the incident and opens its detail; bulk accept and dispatch of the checked rows (all or nothing,
   each row with its version). Its data is the page data's "workorders" entry (app.workorders.views.
   workorders_page): URLs, states, page size, due-soon hours and colours. Reloads after every map poll
   ('gw:features'). Server text goes in by textContent only. */
(function () {
  'use strict';
  var gw = window.gw;
  var cfg = gw.data && gw.data.workorders;
  var box = document.getElementById('gw-wo');
  if (!cfg || !box) return;
  var $ = function (id) { return document.getElementById(id); };
  var form = $('gw-wo-filters'), list = $('gw-wo-list'), busy = $('gw-wo-busy'), msg = $('gw-wo-msg');
  var memberSelect = $('gw-wo-member');
  var offset = 0, rows = [], selected = {}, loading = null, again = false, memberGrid = null;
  var narrow = window.matchMedia ? window.matchMedia('(max-width: 700px)') : {matches: false};

  function params() {
    var p = new URLSearchParams();
    new FormData(form).forEach(function (v, k) { if (v) p.append(k, v); });
    p.set('limit', cfg.page_size);
    p.set('offset', offset);
    return p.toString();
  }
  function say(text) { msg.textContent = text || ''; }

  /* the grids offered follow the street chosen */
  form.street.addEventListener('change', function () {
    var street = form.street.value;
    Array.prototype.forEach.call(form.grid.options, function (o) {
      o.hidden = !!(street && o.value && o.dataset.street !== street);
    });
    if (form.grid.selectedOptions[0] && form.grid.selectedOptions[0].hidden) form.grid.value = '';
  });
  form.addEventListener('change', function () { offset = 0; load(); });
  form.addEventListener('submit', function (e) { e.preventDefault(); });

  function mark(kind) {
    return gw.el('span', gw.t('wo_' + kind), {'class': 'gw-wo-mark', 'data-mark': kind,
                                                style: 'background:' + cfg.colours[kind]});
  }
  function rowElement(r) {
    var li = gw.el('li', null, {'class': 'gw-wo-row', 'data-id': r.id});
    var pick = gw.el('input', null, {type: 'checkbox', 'aria-label': gw.t('wo_open', {no: r.no})});
    pick.checked = !!selected[r.id];
    pick.addEventListener('change', function () {
      if (pick.checked) selected[r.id] = r; else delete selected[r.id];
      selectionChanged();
    });
    var lab = gw.el('label'); lab.appendChild(pick); li.appendChild(lab);
    var open = gw.el('button', null, {type: 'button', 'class': 'gw-wo-open', title: gw.t('wo_open', {no: r.no})});
    var one = gw.el('span', null, {'class': 'gw-wo-line'});
    if (r.overdue) one.appendChild(mark('overdue'));
    if (r.due_soon) one.appendChild(mark('due_soon'));
    one.appendChild(gw.el('b', '#' + r.no));
    one.appendChild(gw.el('span', r.category));
    one.appendChild(gw.el('span', gw.label('state', r.state),
                          {'class': 'gw-wo-state', style: 'border-color:' + (cfg.colours.states[r.state] || '#999')}));
    var two = gw.el('span', null, {'class': 'gw-wo-line'});
    two.appendChild(gw.el('span', (r.grid_name || r.grid_code || '—') + (r.street_name ? ' · ' + r.street_name : '')));
    two.appendChild(gw.el('span', gw.label('source', r.source)));
    two.appendChild(gw.el('span', gw.t('wo_deadline') + ' ' + (r.deadline ? gw.when(r.deadline) : gw.t('wo_no_deadline'))));
    if (r.assignee) two.appendChild(gw.el('span', gw.t('wo_assignee') + ' ' + r.assignee));
    open.appendChild(one); open.appendChild(two);
    open.addEventListener('click', function () { openRow(r, li); });
    li.appendChild(open);
    return li;
  }
  function openRow(r, li) {
    Array.prototype.forEach.call(list.querySelectorAll('.gw-wo-current'), function (x) { x.classList.remove('gw-wo-current'); });
    li.classList.add('gw-wo-current');
    if (gw.map) gw.map.flyTo([r.lat, r.lon], Math.max(gw.map.getZoom(), 17), {duration: 0.6});
    if (!gw.openIncident) return;
    Promise.resolve(gw.openIncident(r.id)).then(function () {
      var detail = $('gw-detail');
      if (narrow.matches && detail) detail.scrollIntoView({block: 'start'});
    });
  }
  function render(answer) {
    rows = answer.rows;
    var fresh = {};
    rows.forEach(function (r) { if (selected[r.id]) fresh[r.id] = r; });  /* a selection keeps its new version */
    selected = fresh;
    list.replaceChildren.apply(list, rows.map(rowElement));
    if (!rows.length) list.appendChild(gw.el('li', gw.t('wo_empty'), {'class': 'gw-hint'}));
    Array.prototype.forEach.call(box.querySelectorAll('.gw-wo-count'), function (s) {
      s.textContent = '(' + (answer.counts[s.dataset.state] || 0) + ')';
    });
    $('gw-wo-counter').textContent = answer.total
      ? gw.t('wo_counter', {first: answer.offset + 1, last: answer.offset + rows.length, total: answer.total})
      : gw.t('wo_counter_none');
    $('gw-wo-totals').textContent = gw.t('wo_totals', {overdue: answer.overdue, due_soon: answer.due_soon, hours: cfg.hours});
    $('gw-wo-prev').disabled = answer.offset <= 0;
    $('gw-wo-next').disabled = answer.offset + rows.length >= answer.total;
    selectionChanged();
  }
  function load() {
    /* one request at a time; a change meanwhile loads once more when it ends */
    if (loading) { again = true; return loading; }
    busy.hidden = false; list.setAttribute('aria-busy', 'true');
    loading = gw.api(cfg.urls.list + '?' + params()).then(function (answer) {
      if (!answer.rows.length && answer.offset > 0 && answer.total > 0) {  /* the page emptied: go back one */
        offset = Math.max(0, answer.offset - cfg.page_size);
        again = true;
        return;
      }
      render(answer);
    }).catch(function (e) {
      say(gw.t('wo_load_failed', {message: e.message}));
    }).then(function () {
      busy.hidden = true; list.removeAttribute('aria-busy');
      loading = null;
      if (again) { again = false; load(); }
    });
    return loading;
  }
  gw.workorders = {load: load, selected: function () { return Object.keys(selected).map(Number); }};

  $('gw-wo-prev').addEventListener('click', function () { offset = Math.max(0, offset - cfg.page_size); load(); });
  $('gw-wo-next').addEventListener('click', function () { offset += cfg.page_size; load(); });
  $('gw-wo-refresh').addEventListener('click', function () { say(''); load(); });
  $('gw-wo-all').addEventListener('change', function (e) {
    rows.forEach(function (r) { if (e.target.checked) selected[r.id] = r; else delete selected[r.id]; });
    Array.prototype.forEach.call(list.querySelectorAll('input[type=checkbox]'), function (c) { c.checked = e.target.checked; });
    selectionChanged();
  });

  function picked() { return Object.keys(selected).map(function (k) { return selected[k]; }); }
  function selectionChanged() {
    var sel = picked();
    $('gw-wo-selected').textContent = gw.t('wo_selected', {n: sel.length});
    $('gw-wo-all').checked = rows.length > 0 && rows.every(function (r) { return selected[r.id]; });
    var grids = {};
    sel.forEach(function (r) { grids[r.grid_code] = r; });
    var keys = Object.keys(grids);
    membersOf(keys.length === 1 ? keys[0] : null, keys.length === 1 ? grids[keys[0]] : null);
  }
  /* a dispatch names a member only when every checked row lies in one grid (the members of that grid,
     as the detail panel's chooser lists them for one of its incidents); else each grid's lead */
  function membersOf(grid, row) {
    if (grid === memberGrid) return;
    memberGrid = grid;
    var keep = memberSelect.options[0];
    memberSelect.replaceChildren(keep);
    memberSelect.value = '';
    memberSelect.disabled = !grid;
    if (!grid) return;
    gw.api(cfg.urls.assignees.split('{id}').join(encodeURIComponent(row.id))).then(function (answer) {
      if (memberGrid !== grid) return;
      answer.members.forEach(function (m) {
        var roles = m.roles.map(function (code) { return gw.label('member_role', code); }).join('、');
        memberSelect.appendChild(gw.el('option', m.name + ' (' + roles + ')', {value: m.id}));
      });
    }).catch(function (e) { say(e.message); });
  }

  function bulk(action) {
    var sel = picked();
    if (!sel.length) { say(gw.t('wo_none_selected')); return; }
    var refused = sel.filter(function (r) { return r.actions.indexOf(action) < 0; });
    if (refused.length) {
      say(gw.t('wo_not_allowed', {n: refused.length, action: gw.label('action', action)}) + ': ' +
          refused.map(function (r) { return '#' + r.no; }).join(', '));
      return;
    }
    var body = {action: action, items: sel.map(function (r) { return {id: r.id, version: r.version}; })};
    if (action === 'dispatch' && memberSelect.value) body.member_id = Number(memberSelect.value);
    var buttons = [$('gw-wo-accept'), $('gw-wo-dispatch')];
    buttons.forEach(function (b) { b.disabled = true; });
    busy.hidden = false;
    say('');
    gw.api(cfg.urls.bulk, {method: 'POST', json: body}).then(function (answer) {
      say(gw.t('wo_bulk_done', {action: gw.label('action', action), n: answer.done.length}));
      selected = {};
    }).catch(function (e) {
      say((e.status === 409 && e.body && e.body.error === 'Conflict' ? gw.t('wo_bulk_stale') + ' ' : '') +
          gw.t('wo_bulk_failed', {message: e.message}));
    }).then(function () {
      buttons.forEach(function (b) { b.disabled = false; });
      memberGrid = undefined;
      load();
      if (gw.poll) gw.poll();
    });
  }
  $('gw-wo-accept').addEventListener('click', function () { bulk('accept'); });
  $('gw-wo-dispatch').addEventListener('click', function () { bulk('dispatch'); });

  document.addEventListener('gw:features', function (e) { if (!e.detail || !e.detail.first) load(); });
  load();
}());
