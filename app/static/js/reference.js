/* /admin/reference: each row of the categories and of the code lists saves on its own through the JSON API
   (gw.api sends the CSRF header) with the version it was read at. A 422 marks the fields it names; a 409
   shows the stored row beside the edit (nothing was written) and offers to take the stored values; the
   button is busy while a save runs. Server text goes in by textContent. */
(function () {
  'use strict';
  var gw = window.gw;
  var cfg = gw.data;
  if (!cfg || !cfg.editable) return;
  var root = document.getElementById('gw-reference');
  var CATEGORY_FIELDS = ['name_zh', 'name_en', 'weight'].concat(cfg.deadlines).concat(['sensitive']);
  var NAME_FIELDS = ['name_zh', 'name_en'];

  function fieldsOf(tr) {
    var kind = tr.dataset.kind;
    if (kind === 'category') return CATEGORY_FIELDS;
    if (kind === 'new-category') return ['code'].concat(CATEGORY_FIELDS);
    return NAME_FIELDS;
  }
  function input(tr, f) { return tr.querySelector('[name="' + f + '"]'); }
  function fieldLabel(f) { return gw.t('ref_' + f); }
  function read(tr) {
    var out = {};
    fieldsOf(tr).forEach(function (f) {
      var el = input(tr, f);
      if (!el) return;
      if (el.type === 'checkbox') out[f] = el.checked;
      else if (el.type === 'number') out[f] = el.value.trim() === '' ? null : Number(el.value);
      else out[f] = el.value;
    });
    return out;
  }
  function fill(tr, row) {
    fieldsOf(tr).forEach(function (f) {
      var el = input(tr, f);
      if (!el || !(f in row)) return;
      if (el.type === 'checkbox') el.checked = !!row[f]; else el.value = row[f] == null ? '' : row[f];
    });
  }
  function url(tr) {
    var code = encodeURIComponent(tr.dataset.code || '');
    if (tr.dataset.kind === 'new-category') return cfg.urls.add;
    if (tr.dataset.kind === 'category') return cfg.urls.category.replace('__code__', code);
    return cfg.urls.code.replace('__kind__', encodeURIComponent(tr.dataset.kind)).replace('__code__', code);
  }
  function message(tr, text, ok) {
    var box = tr.querySelector('.gw-msg');
    box.replaceChildren();
    box.className = 'gw-msg ' + (ok ? 'gw-ok' : 'gw-bad');
    if (text instanceof Node) box.appendChild(text); else box.textContent = text;
  }
  function clearMarks(tr) {
    tr.querySelectorAll('[aria-invalid]').forEach(function (el) { el.removeAttribute('aria-invalid'); });
  }
  function shown(v) {
    if (v === true) return gw.t('ref_yes');
    if (v === false) return gw.t('ref_no');
    return v == null ? '—' : String(v);
  }
  function conflictBox(tr, body) {
    /* the stored row beside the edit, the fields that differ in bold */
    var box = gw.el('div', null, {'class': 'gw-conflict'});
    box.appendChild(gw.el('p', gw.t('ref_conflict')));
    var t = gw.el('table'), head = gw.el('tr');
    [gw.t('ref_field'), gw.t('ref_conflict_yours'), gw.t('ref_conflict_current')].forEach(function (h) {
      head.appendChild(gw.el('th', h));
    });
    t.appendChild(head);
    fieldsOf(tr).forEach(function (f) {
      var mine = body.yours ? body.yours[f] : undefined, now = body.current[f];
      var r = gw.el('tr', null, {'data-field': f});
      if (String(mine) !== String(now)) r.className = 'gw-differs';
      r.appendChild(gw.el('td', fieldLabel(f)));
      r.appendChild(gw.el('td', shown(mine), {'class': 'gw-yours'}));
      r.appendChild(gw.el('td', shown(now), {'class': 'gw-current'}));
      t.appendChild(r);
    });
    box.appendChild(t);
    var take = gw.el('button', gw.t('ref_use_current'), {type: 'button', 'class': 'gw-take'});
    take.addEventListener('click', function () {
      fill(tr, body.current);
      tr.dataset.version = body.current.version;
      message(tr, '', true);
    });
    box.appendChild(take);
    return box;
  }
  function failed(tr, err) {
    var body = err.body || {};
    if (err.status === 409 && body.current) { message(tr, conflictBox(tr, body), false); return; }
    if (err.status === 422 && body.errors) {
      var lines = gw.el('div');
      body.errors.forEach(function (e) {
        var el = e.field && input(tr, e.field);
        if (el) el.setAttribute('aria-invalid', 'true');
        lines.appendChild(gw.el('div', gw.t('ref_field_error', {field: e.field ? fieldLabel(e.field) : '', reason: e.reason})));
      });
      message(tr, lines, false);
      return;
    }
    message(tr, gw.t('ref_error', {message: err.message}), false);
  }
  function save(tr, button) {
    var data = read(tr), isNew = tr.dataset.kind === 'new-category';
    if (!isNew) data.version = tr.dataset.version;
    clearMarks(tr);
    var label = button.textContent;
    button.disabled = true; button.textContent = gw.t('ref_saving'); button.setAttribute('aria-busy', 'true');
    gw.api(url(tr), {method: isNew ? 'POST' : 'PATCH', json: data}).then(function (row) {
      if (isNew) {
        message(tr, gw.t('ref_added', {code: row.code}), true);
        setTimeout(function () { window.location.reload(); }, 600);  /* the new row, sorted, with its version */
        return;
      }
      var same = row.version === tr.dataset.version;
      tr.dataset.version = row.version;
      fill(tr, row);
      message(tr, same ? gw.t('ref_unchanged') : gw.t('ref_saved'), true);
    }, function (err) { failed(tr, err); }).then(function () {
      button.disabled = false; button.textContent = label; button.removeAttribute('aria-busy');
    });
  }
  root.addEventListener('click', function (e) {
    var button = e.target.closest('.gw-save');
    if (!button) return;
    save(button.closest('tr'), button);
  });
}());
