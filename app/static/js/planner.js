/* The planner page's what-if (新增点位模拟): K proposed sites and their view discs on the map, their list
   (WGS-84 and map coordinates, gain), the export of the plan shown and "adopt" (a planned camera with a
   provisional ID). URLs and styles come from the page data ("map": app.dashboards.page_js; "planner":
   app.dashboards.views.planner); loaded after map.js. Server text goes in with textContent only. */
(function () {
  'use strict';
  var gw = window.gw, cfg = gw.data.map, pcfg = gw.data.planner || {};
  var sites = gw.sites = window[cfg.names.sites];
  var form = document.getElementById('gw-whatif');
  if (!form || !sites) return;
  var run = document.getElementById('gw-plan-run');
  var out = document.getElementById('gw-gain');
  var box = document.getElementById('gw-plan');
  var body = document.querySelector('#gw-sites tbody');
  var shown = null;  /* the plan on the map: {k, basis, …} */

  function say(text, cls) {
    out.textContent = text;
    out.className = cls || '';
  }
  function pct(x) { return (100 * x).toFixed(1) + ' %'; }
  function reason(e) { return e && e.status ? e.message : gw.t('plan_offline'); }
  function busy(on) {
    run.disabled = on;
    form.k.disabled = on;
    form.setAttribute('aria-busy', on ? 'true' : 'false');
    if (on) say(gw.t('plan_busy'), 'gw-plan-busy');
  }

  function row(site) {
    var tr = gw.el('tr', null, {'data-rank': site.rank});
    tr.appendChild(gw.el('td', site.rank));
    tr.appendChild(gw.el('td', site.lon.toFixed(6) + ', ' + site.lat.toFixed(6)));
    tr.appendChild(gw.el('td', site.display_lon.toFixed(6) + ', ' + site.display_lat.toFixed(6)));
    tr.appendChild(gw.el('td', '+' + site.gain.toFixed(1)));
    tr.appendChild(gw.el('td', pct(site.share)));
    tr.appendChild(gw.el('td', site.grid_name || site.code || '—', {title: site.code || ''}));
    if (pcfg.adopt) {
      var td = gw.el('td');
      var b = gw.el('button', gw.t('plan_adopt'), {type: 'button', 'class': 'gw-adopt'});
      b.addEventListener('click', function () { adopt(site, b, td); });
      td.appendChild(b);
      tr.appendChild(td);
    }
    return tr;
  }

  function adopt(site, button, cell) {
    button.disabled = true;
    button.textContent = gw.t('plan_adopting');
    gw.api(pcfg.urls.adopt, {json: {lon: site.lon, lat: site.lat, rank: site.rank, gain: site.gain}})
      .then(function (cam) {
        cell.textContent = '';
        cell.appendChild(gw.el('span', gw.t('plan_adopted', {id: cam.device_id}), {'class': 'gw-plan-ok gw-adopted'}));
        var n = document.getElementById('gw-planned-count');
        if (n) n.textContent = String(Number(n.textContent || 0) + 1);
      })
      .catch(function (e) {
        button.disabled = e.status === 409;  /* adopted already: nothing left to do */
        button.textContent = gw.t('plan_adopt');
        var text = e.status === 409 ? gw.t('plan_adopt_conflict', {reason: e.message}) : gw.t('plan_failed', {reason: reason(e)});
        cell.appendChild(gw.el('div', text, {'class': 'gw-plan-error'}));
      });
  }

  function draw(plan) {
    shown = plan;
    sites.clearLayers();
    L.geoJSON(plan.cones, {style: function () { return cfg.style.site_cone; }}).addTo(sites);
    L.geoJSON(plan.points, {pointToLayer: function (f, ll) {
      var m = L.circleMarker(ll, cfg.style.site);
      var tip = document.createElement('span');
      tip.textContent = '#' + f.properties.rank + ' +' + Number(f.properties.gain).toFixed(1);
      return m.bindTooltip(tip);  /* a node, not a string: Leaflet parses strings as HTML */
    }}).addTo(sites);
    body.textContent = '';
    plan.sites.forEach(function (site) { body.appendChild(row(site)); });
    box.hidden = !plan.sites.length;
    var text = gw.t('plan_summary', {k: plan.sites.length, before: pct(plan.share_before), after: pct(plan.share_after),
                                     gain: plan.new_incidents.toFixed(1), total: plan.total_incidents.toFixed(1)});
    say(text + (plan.notes.length ? ' · ' + plan.notes.join(' · ') : ''), 'gw-plan-ok');
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var k = Number(form.k.value);
    if (!(k >= 1 && k <= pcfg.k_max && Math.floor(k) === k)) {
      say(gw.t('plan_k_bad', {max: pcfg.k_max}), 'gw-plan-error');
      return;
    }
    busy(true);
    gw.api(cfg.urls.plan + '?k=' + encodeURIComponent(k)).then(function (plan) {
      busy(false);
      draw(plan);
    }).catch(function (e) {
      busy(false);
      say(gw.t('plan_failed', {reason: reason(e)}), 'gw-plan-error');
    });
  });

  /* an export is of the plan shown: its k and basis go with it, so changed data is a conflict, not other sites */
  Array.prototype.forEach.call(document.querySelectorAll('.gw-plan-export'), function (a) {
    a.addEventListener('click', function (ev) {
      if (!shown) { ev.preventDefault(); return; }
      a.href = pcfg.urls.export.replace('{fmt}', a.dataset.fmt) + '?k=' + encodeURIComponent(shown.k) +
        '&basis=' + encodeURIComponent(shown.basis);
    });
  });
}());
