"""A registry too big to embed, in a real Chromium (issue 16): the operator's map shows per-grid counts at the
district's zoom; zoomed in it loads the cameras of the view (with the embedded layer's popups) and hides the
counts; zoomed out again it drops them. The planner's blind spots arrive when their layer is turned on."""
from __future__ import annotations

from collections import OrderedDict

import pytest

from app.dashboards import map_api, pages

CAMS = "() => gw.map && window[gw.names.cameras].getLayers().length"
COUNTS_ON = "() => gw.map.hasLayer(window[gw.names.camera_counts])"


@pytest.fixture
def big_registry(monkeypatch):
    monkeypatch.setattr(map_api, "CAMERA_EMBED_MAX", 50)
    monkeypatch.setattr(pages, "_FRAMES", OrderedDict())


def test_the_operator_map_loads_cameras_by_view(web, big_registry, live_data):
    from sqlalchemy import text

    engine, _facts = live_data
    with engine.connect() as c:  # a camera to zoom to, and how many cameras lie within ~300 m of it
        lon, lat = c.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM cameras WHERE lifecycle = 'active' "
                                  "ORDER BY device_id OFFSET 100 LIMIT 1")).one()
    web.login("operator")
    web.goto("/dashboard/operator")
    page = web.page
    page.wait_for_function("() => gw.ready")
    assert page.evaluate(CAMS) == 0 and page.evaluate(COUNTS_ON)
    assert page.evaluate("() => window[gw.names.camera_counts].getLayers()[0].getLayers().length") > 10
    with page.expect_response(lambda r: "/api/map/cameras?" in r.url and r.status == 200):
        page.evaluate(f"() => {{ gw.map.setView([{lat}, {lon}], 17, {{animate: false}}); return true; }}")
    page.wait_for_function(CAMS + " > 0")
    assert not page.evaluate(COUNTS_ON)
    inside = page.evaluate("""() => { var b = gw.map.getBounds().pad(0.01), n = 0, out = 0;
        window[gw.names.cameras].eachLayer(function (l) { if (b.contains(l.getLatLng())) n++; else out++; });
        return [n, out]; }""")
    assert inside[0] > 0 and inside[1] == 0
    # the drawn camera opens the embedded layer's popup (device ID by its label)
    page.evaluate("() => { window[gw.names.cameras].getLayers()[0].openPopup(); return true; }")
    page.wait_for_selector(".gw-popup table")
    page.evaluate("() => { gw.map.setView(gw.map.getCenter(), 12, {animate: false}); return true; }")
    page.wait_for_function(CAMS + " === 0")
    assert page.evaluate(COUNTS_ON)
    assert not web.errors and not web.blocked


def test_the_planner_fetches_blind_spots_when_turned_on(web, live_data):
    web.login("planner")
    web.goto("/dashboard/planner")
    page = web.page
    page.wait_for_function("() => gw.ready")
    spots = "() => window[gw.names.blind_spots].getLayers().length"
    assert page.evaluate(spots) == 0
    with page.expect_response(lambda r: "/api/map/blind-spots" in r.url and r.status == 200):
        page.evaluate("() => { window[gw.names.blind_spots_group].addTo(gw.map); return true; }")
    page.wait_for_function(spots + " > 0")
    assert page.evaluate("() => gw.map.getContainer().getAttribute('aria-busy')") is None
    assert not web.errors and not web.blocked
