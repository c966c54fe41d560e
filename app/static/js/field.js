/* The field page's task list (任务, grid.html): a tap on a task opens the incident's detail panel, where
   every action is taken with the incident's version (gw.openIncident, detail.js); on a phone the panel is
   below the list, so it is scrolled into view. Extends window.gw, never replaces it. */
(function () {
  'use strict';
  var gw = window.gw = window.gw || {};
  var table = document.getElementById('gw-incidents');
  if (!table) return;

  function notice(text) {
    var box = document.getElementById('gw-tasks-notice');
    if (!box) {
      box = gw.el('p', null, {id: 'gw-tasks-notice', 'class': 'gw-note', role: 'status'});
      table.parentNode.insertBefore(box, table);
    }
    box.textContent = text;
  }

  function open(id) {
    var opening = gw.openIncident;
    if (typeof opening !== 'function') { notice(gw.t('tasks_detail_missing')); return; }
    Promise.resolve(opening(Number(id))).then(function () {
      var detail = document.getElementById('gw-detail');
      if (detail && !detail.hidden && detail.scrollIntoView) detail.scrollIntoView({block: 'start'});
    });
  }
  gw.openTask = open;

  table.addEventListener('click', function (ev) {
    var row = ev.target.closest('tr[data-incident]');
    if (!row || ev.target.closest('a')) return;
    table.querySelectorAll('tr.gw-picked').forEach(function (r) { r.classList.remove('gw-picked'); });
    row.classList.add('gw-picked');
    open(row.dataset.incident);
  });
}());
