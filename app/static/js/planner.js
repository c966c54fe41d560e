/* The planner page's what-if (新增点位模拟): K proposed sites and their view discs on the map. URL and styles
   come from the page data's "map" entry (app.dashboards.page_js); loaded after map.js. */
(function () {
  'use strict';
  var gw = window.gw, cfg = gw.data.map;
  var sites = gw.sites = window[cfg.names.sites];
  var form = document.getElementById('gw-whatif');
  if (!form || !sites) return;
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var out = document.getElementById('gw-gain');
    out.textContent = gw.t('loop_loading');
    gw.api(cfg.urls.plan + '?k=' + encodeURIComponent(form.k.value)).then(function (plan) {
      sites.clearLayers();
      L.geoJSON(plan.cones, {style: function () { return cfg.style.site_cone; }}).addTo(sites);
      L.geoJSON(plan.sites, {pointToLayer: function (f, ll) { return L.circleMarker(ll, cfg.style.site); }}).addTo(sites);
      out.textContent = gw.t('gain') + ': +' + plan.new_incidents + ' / ' + plan.total_incidents + ' (' +
        (100 * plan.share_before).toFixed(1) + ' % → ' + (100 * plan.share_after).toFixed(1) + ' %)';
    }).catch(function (e) { out.textContent = e.message; });
  });
}());
