/* The accounts pages (/admin, /admin/users, /admin/users/<name>): the forms work without this script;
   it adds the member search of the add and role forms, hides the member fields for the district roles,
   asks before the demo accounts go, enables "remove" only once the name is typed, copies a shown secret,
   and marks a submitted form busy. Member names are user text: textContent only (gw.el). */
(function () {
  'use strict';
  var gw = window.gw;
  var data = gw.data || {};
  var fieldRoles = data.field_roles || [];

  function busy(form) {
    form.addEventListener('submit', function (e) {
      if (e.defaultPrevented) return;
      var button = form.querySelector('button[type=submit]');
      if (!button) return;
      setTimeout(function () {  /* after the browser took the form's values */
        button.setAttribute('aria-busy', 'true');
        button.disabled = true;
        button.dataset.label = button.textContent;
        button.textContent = gw.t('people_busy');
      }, 0);
    });
  }

  function memberSearch(scope, form) {
    var box = scope.querySelector('.gw-member-search');
    var q = scope.querySelector('.gw-member-q');
    var list = scope.querySelector('.gw-found');
    var input = scope.querySelector('.gw-member-input');
    var role = form.querySelector('.gw-role-select');
    if (!box || !q || !list || !input || !data.members_url) return;
    box.hidden = false;
    var timer = null, asked = 0;
    function show(members) {
      list.textContent = '';
      if (!members.length) { list.appendChild(gw.el('li', gw.t('people_search_none'))); return; }
      members.forEach(function (m) {
        var fits = !role || !m.fits || m.fits[role.value] !== false;
        var li = gw.el('li', null, {'data-member': m.id, 'data-fits': fits ? '1' : '0'});
        var grids = (m.grids || []).map(function (g) {
          return g.grid_code + ' ' + (g.roles || []).map(function (r) { return gw.label('member_role', r); }).join('、');
        }).join('；');
        var text = m.name + (m.external_id ? ' (' + m.external_id + ')' : '') + (grids ? ' · ' + grids : '');
        if (m.accounts && m.accounts.length) text += ' · ' + gw.t('people_has_account', {names: m.accounts.join(', ')});
        if (!fits) text += ' · ' + gw.t('people_fits_no');
        li.appendChild(gw.el('span', text));
        var pick = gw.el('button', gw.t('people_pick'), {type: 'button'});
        pick.addEventListener('click', function () {
          input.value = String(m.id);
          list.textContent = '';
          q.value = m.name;
        });
        li.appendChild(pick);
        list.appendChild(li);
      });
    }
    function ask() {
      var mine = ++asked;
      var url = data.members_url + '?q=' + encodeURIComponent(q.value.trim());
      list.setAttribute('aria-busy', 'true');
      gw.api(url).then(function (body) {
        if (mine === asked) show(body.members || []);
      }, function (err) {
        if (mine === asked) { list.textContent = ''; list.appendChild(gw.el('li', err.message)); }
      }).then(function () { list.removeAttribute('aria-busy'); });
    }
    q.addEventListener('input', function () {
      clearTimeout(timer);
      if (!q.value.trim()) { list.textContent = ''; return; }
      timer = setTimeout(ask, 250);
    });
    q.addEventListener('keydown', function (e) { if (e.key === 'Enter') { e.preventDefault(); ask(); } });
  }

  function scopeToggle(scope, form) {
    var role = form.querySelector('.gw-role-select');
    if (!role) return;
    var leadOnly = scope.querySelector('.gw-lead-only');
    function sync() {
      scope.hidden = fieldRoles.indexOf(role.value) < 0;
      if (leadOnly) leadOnly.hidden = role.value !== 'grid_lead';  /* a grid lead may be named by its grid */
    }
    role.addEventListener('change', sync);
    sync();
  }

  document.querySelectorAll('.gw-account-edit').forEach(function (form) {
    var scope = form.querySelector('.gw-scope');
    if (scope) { scopeToggle(scope, form); memberSearch(scope, form); }
  });

  document.querySelectorAll('form[data-confirm]').forEach(function (form) {
    form.addEventListener('submit', function (e) {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  });

  var remove = document.getElementById('gw-remove-form');
  if (remove) {
    var typed = remove.querySelector('input[name=confirm]');
    var go = remove.querySelector('button[type=submit]');
    var sync = function () { go.disabled = typed.value.trim() !== remove.dataset.confirmName; };
    typed.addEventListener('input', sync);
    sync();
  }

  var copy = document.getElementById('gw-copy');
  var secret = document.getElementById('gw-secret');
  if (copy && secret) {
    copy.addEventListener('click', function () {
      var done = function () { copy.textContent = copy.dataset.copied; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(secret.textContent.trim()).then(done, function () {});
      } else {
        window.getSelection().selectAllChildren(secret);
      }
    });
  }

  document.querySelectorAll('.gw-people form[method=post]').forEach(busy);
}());
