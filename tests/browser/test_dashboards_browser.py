"""Each dashboard in headless Chromium, with every non-local request blocked and recorded."""
from __future__ import annotations

import pytest

from tests.browser.conftest import XSS

pytestmark = pytest.mark.browser

COUNT_LAYERS = """() => {
  const m = window.gw.map; let layers = 0, vectors = 0;
  m.eachLayer(l => { layers++; if (l instanceof L.Path) vectors++; });
  const overlays = [...document.querySelectorAll('.leaflet-control-layers-overlays label')].map(l => l.textContent.trim());
  return {layers, vectors, overlays, clustered: window.gw.cluster ? window.gw.cluster.getLayers().length : 0,
          clusters: document.querySelectorAll('.marker-cluster').length};
}"""


def _clean(web):
    assert web.blocked == [], f"requests left the machine: {web.blocked}"
    assert web.errors == [], f"console errors: {web.errors}"


def test_operator_dashboard(web, live_data):
    facts = live_data[1]
    web.login("operator")
    assert web.page.url.endswith("/dashboard/operator")
    web.goto("/dashboard/operator?max=400")
    web.page.wait_for_function("window.gw && window.gw.map")
    info = web.page.evaluate(COUNT_LAYERS)
    shown = int(web.page.inner_text("#gw-shown"))
    assert 0 < shown <= 400 and info["clustered"] == shown
    assert info["clusters"] > 0  # zoomed out: markers are clustered
    assert any("摄像头" in o for o in info["overlays"]) and any("热力" in o for o in info["overlays"])
    assert info["vectors"] > 371  # boundaries and camera circles drawn
    # the XSS incident is the newest: open its popup, the detail panel fills in, nothing runs
    web.page.evaluate("id => { gw.map.setView(gw.known[id].getLatLng(), 19, {animate: false}); }", facts["xss_id"])
    web.page.wait_for_function("id => gw.map.hasLayer(gw.known[id])", arg=facts["xss_id"], timeout=10000)
    web.page.evaluate("id => { gw.known[id].openPopup(); }", facts["xss_id"])
    web.page.wait_for_function("document.getElementById('gw-detail-title').textContent === 'XSS-1'", timeout=10000)
    popup = web.page.inner_text(".leaflet-popup-content")
    assert "<script>window.__xss=1</script>" in popup
    assert XSS in web.page.inner_text("#gw-detail-table")
    assert web.page.evaluate("window.__xss") is None
    web.screenshot("operator")
    _clean(web)


def test_search_flies_to_a_grid(web, live_data):
    web.login("operator")
    web.goto("/dashboard/operator?max=50")
    web.page.fill("#gw-search input[name=q]", live_data[1]["grid"])
    web.page.press("#gw-search input[name=q]", "Enter")
    web.page.wait_for_selector("#gw-search-results li")
    assert live_data[1]["grid"] in web.page.inner_text("#gw-search-results")
    _clean(web)


def test_grid_lead_dashboard_and_scoping(web, live_data):
    facts = live_data[1]
    web.login("lead")
    assert web.page.url.endswith("/dashboard/grid")
    web.page.wait_for_function("window.gw && window.gw.map")
    info = web.page.evaluate(COUNT_LAYERS)
    assert info["clustered"] >= 1
    assert facts["grid"] in web.page.inner_text("#gw-grids")
    assert web.page.locator("#gw-members tr").count() > 1
    assert XSS in web.page.inner_text("#gw-incidents")  # the payload in the table is text too
    assert web.page.evaluate("window.__xss") is None
    web.screenshot("grid_lead")
    _clean(web)
    # another grid's incident by URL: not found, in the page and in the API
    r = web.page.request.get(f"{web.base}/api/incidents/{facts['other_id']}")
    assert r.status == 404
    assert web.page.request.get(f"{web.base}/api/incidents/{facts['xss_id']}").status == 200


def test_statistics_page(web):
    web.login("planner")
    web.goto("/dashboard/stats")
    assert web.page.locator("svg.gw-chart").count() == 8
    assert web.page.locator("svg.gw-chart rect").count() > 10
    web.screenshot("statistics")
    _clean(web)


def test_planner_dashboard_and_what_if(web):
    web.login("planner")
    assert web.page.url.endswith("/dashboard/planner")
    web.page.wait_for_function("window.gw && window.gw.map")
    overlays = web.page.evaluate(COUNT_LAYERS)["overlays"]
    assert any("覆盖率" in o for o in overlays) and any("盲区" in o for o in overlays)
    assert web.page.locator(".gw-legend").count() == 1
    assert web.page.locator("#gw-least tr").count() > 5
    web.page.fill("#gw-whatif input[name=k]", "3")
    web.page.click("#gw-whatif button")
    web.page.wait_for_function("window.gw.sites.getLayers().length >= 2", timeout=60000)
    assert "→" in web.page.inner_text("#gw-gain")
    web.screenshot("planner")
    _clean(web)
