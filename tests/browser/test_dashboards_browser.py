"""Each dashboard in headless Chromium, with every non-local request blocked and recorded."""
from __future__ import annotations

import time

import pytest

from sqlalchemy import text

from tests.browser.conftest import XSS, XSS_NAME

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
    web.page.wait_for_function("() => window.gw && window.gw.map && window.gw.ready")
    info = web.page.evaluate(COUNT_LAYERS)
    shown = int(web.page.inner_text("#gw-shown"))
    assert 0 < shown <= 400 and info["clustered"] == shown
    assert info["clusters"] > 0  # zoomed out: markers are clustered
    assert any("摄像头" in o for o in info["overlays"]) and any("热力" in o for o in info["overlays"])
    assert info["vectors"] > 371  # boundaries and camera circles drawn
    # every embedded marker is styled from its own properties: fill by state, red ring when overdue
    from layers.incidents import OVERDUE_STROKE, STATE_COLOURS

    styles = web.page.evaluate("() => Object.values(gw.known).map(m => [m.feature.properties.state, "
                               "m.feature.properties.overdue, m.options.fillColor, m.options.color])")
    assert len(styles) == shown and any(o for _s, o, _f, _c in styles)
    for state, overdue, fill, ring in styles:
        assert fill == STATE_COLOURS[state] and ring == (OVERDUE_STROKE if overdue else STATE_COLOURS[state])
    # the XSS incident is the newest: open its popup, the detail panel fills in, nothing runs
    web.page.evaluate("id => { gw.map.setView(gw.known[id].getLatLng(), 19, {animate: false}); }", facts["xss_id"])
    web.page.wait_for_function("id => gw.map.hasLayer(gw.known[id])", arg=facts["xss_id"], timeout=10000)
    web.page.evaluate("id => { window.__kept = gw.known[id]; gw.known[id].openPopup(); }", facts["xss_id"])
    web.page.wait_for_function("() => document.getElementById('gw-detail-title').textContent === 'XSS-1'", timeout=10000)
    # the same marker from the API (another key order) leaves the embedded one, and its popup, in place
    web.page.evaluate("() => fetch('/api/incidents?bbox=' + gw.map.getBounds().toBBoxString())"
                      ".then(r => r.json()).then(gw.addFeatures)")
    assert web.page.evaluate("id => gw.known[id] === window.__kept && gw.known[id].isPopupOpen()", facts["xss_id"])
    popup = web.page.inner_text(".leaflet-popup-content")
    assert "<script>window.__xss=1</script>" in popup
    assert XSS in web.page.inner_text("#gw-detail-table")
    assert web.page.evaluate("window.__xss") is None
    web.screenshot("operator")
    # a camera whose name carries markup: its popup and tooltip show the text
    shown = web.page.evaluate(OPEN_FEATURE, ["device_id", facts["xss_camera"]])
    assert shown["popup"].startswith(XSS_NAME) and facts["xss_camera"] in shown["popup"]
    assert shown["tooltip"] == facts["xss_camera"]
    assert web.page.evaluate("window.__xss") is None
    _clean(web)


OPEN_FEATURE = """([prop, value]) => {
  gw.map.closePopup();
  let hit = null;
  gw.map.eachLayer(l => { if (!hit && l.feature && l.feature.properties[prop] === value && l.getPopup()) hit = l; });
  if (!hit) throw new Error('no feature with ' + prop + ' = ' + value);
  const at = hit.getLatLng ? hit.getLatLng() : hit.getBounds().getCenter();
  gw.map.setView(at, 18, {animate: false});
  hit.openPopup(at);
  if (hit.getTooltip()) hit.openTooltip(at);
  const text = x => x && x.getElement() ? x.getElement().innerText.trim() : null;
  return {popup: text(hit.getPopup()), tooltip: text(hit.getTooltip())};
}"""


def test_live_update_draws_a_new_incident_like_the_others(web, live_data):
    engine, facts = live_data
    web.login("operator")
    web.goto("/dashboard/operator?max=20")
    web.page.wait_for_function("() => window.gw && window.gw.map && window.gw.since && window.gw.ready")  # the first poll answered
    with engine.begin() as conn:  # reported long ago, so it is not among the newest the page embedded
        new_id = conn.execute(text(
            "INSERT INTO incidents (external_id, category_code, source, description, state, deadline, grid_code, "
            "community_code, geom, reported_at) SELECT 'LIVE-1', (SELECT min(code) FROM categories), 'patrol', "
            "'live', 'dispatched', now() - interval '1 hour', code, community_code, ST_PointOnSurface(geom), "
            "now() - interval '3 years' FROM grids WHERE code = :g RETURNING id"), {"g": facts["grid"]}).scalar()
    try:
        assert web.page.evaluate("id => gw.known[id] === undefined", new_id)
        web.page.evaluate("gw.poll()")
        web.page.wait_for_function("id => gw.known[id] !== undefined", arg=new_id, timeout=10000)
        style = web.page.evaluate("id => { const o = gw.known[id].options; return [o.fillColor, o.color, o.weight]; }",
                                  new_id)
        from layers.incidents import OVERDUE_STROKE, STATE_COLOURS

        assert style == [STATE_COLOURS["dispatched"], OVERDUE_STROKE, 3]  # dispatched, past its deadline
        web.page.evaluate("id => { gw.map.setView(gw.known[id].getLatLng(), 19, {animate: false}); }", new_id)
        web.page.wait_for_function("id => gw.map.hasLayer(gw.known[id])", arg=new_id, timeout=10000)
        web.page.evaluate("id => { gw.known[id].openPopup(); }", new_id)
        web.page.wait_for_function("() => document.querySelector('.leaflet-popup-content .gw-incident table')")
        popup = web.page.inner_text(".leaflet-popup-content")
        assert "LIVE-1" in popup and "⚠" in popup and "live" in popup  # the details arrived on click
        # a refresh carrying the same marker (bbox load, poll) leaves it and its open popup alone
        before = web.page.evaluate_handle("id => gw.known[id]", new_id)
        web.page.evaluate("() => fetch('/api/incidents?state=all&bbox=' + gw.map.getBounds().toBBoxString())"
                          ".then(r => r.json()).then(gw.addFeatures)")
        assert web.page.evaluate("([id, m]) => gw.known[id] === m && m.isPopupOpen()", [new_id, before])
        # a change arrives while the popup is open: the marker is redrawn and its popup stays open
        with engine.begin() as conn:
            conn.execute(text("UPDATE incidents SET state = 'in_progress', updated_at = now() WHERE id = :i"),
                         {"i": new_id})
        web.page.evaluate("gw.poll()")
        assert web.page.evaluate("id => [gw.known[id].options.fillColor, gw.known[id].isPopupOpen()]", new_id) == \
            [STATE_COLOURS["in_progress"], True]
        # closed elsewhere: it leaves the page's filter (open incidents), and the poll takes its marker away
        marker = web.page.evaluate_handle("id => gw.known[id]", new_id)
        with engine.begin() as conn:
            conn.execute(text("UPDATE incidents SET state = 'closed', closed_at = now() WHERE id = :i"), {"i": new_id})
        web.page.evaluate("gw.poll()")
        assert web.page.evaluate("([id, m]) => gw.known[id] === undefined && !gw.cluster.hasLayer(m)", [new_id, marker])
        _clean(web)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM incidents WHERE id = :i"), {"i": new_id})


def test_a_page_with_all_its_markers_gets_every_change_in_its_scope(web, live_data):
    """A page that embeds all its markers polls without a box: an incident changed out of view is redrawn
    there (a poll by view would drop it from the map, or leave it stale)."""
    from urllib.parse import parse_qs, urlparse

    from layers.incidents import STATE_COLOURS

    engine = live_data[0]
    polls = []
    web.page.on("request", lambda r: polls.append(r.url) if "/api/incidents?" in r.url else None)
    web.login("operator")
    web.goto("/dashboard/operator")
    web.page.wait_for_function("() => window.gw && window.gw.ready && window.gw.since")
    assert web.page.evaluate("() => gw.mapConfig.truncated === false")
    with engine.connect() as conn:  # an open incident the page holds
        inc = conn.execute(text("SELECT id, state FROM incidents WHERE state = 'reported' ORDER BY reported_at DESC, "
                                "id DESC LIMIT 1")).one()
    assert web.page.evaluate("id => gw.known[id] !== undefined", inc.id)
    # look far away from it: the incident is out of view
    web.page.evaluate("id => { const p = gw.known[id].getLatLng(); "
                      "gw.map.setView([p.lat + 0.5, p.lng + 0.5], 17, {animate: false}); }", inc.id)
    assert web.page.evaluate("id => !gw.map.getBounds().contains(gw.known[id].getLatLng())", inc.id)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE incidents SET state = 'dispatched' WHERE id = :i"), {"i": inc.id})
        polls.clear()
        web.page.evaluate("gw.poll()")
        assert web.page.evaluate("id => gw.known[id] && gw.known[id].options.fillColor", inc.id) == \
            STATE_COLOURS["dispatched"]
        assert polls and all("bbox" not in parse_qs(urlparse(u).query) for u in polls), polls
        assert all("after" in parse_qs(urlparse(u).query) for u in polls), polls
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE incidents SET state = :s WHERE id = :i"), {"s": inc.state, "i": inc.id})
    _clean(web)


def test_a_change_poll_too_big_for_one_answer_reads_the_map_again(web, live_data):
    """More incidents changed than one answer names (a grid import re-geocodes thousands): the map reads its
    markers again and holds exactly what a full read holds, not the first page of the changes."""
    from app.dashboards.service import API_LIMIT

    engine = live_data[0]
    web.login("operator")
    web.goto("/dashboard/operator")
    web.page.wait_for_function("() => window.gw && window.gw.ready && window.gw.since")
    assert web.page.evaluate("() => gw.mapConfig.truncated === false")
    with engine.connect() as conn:  # the open incident with the largest number: last in 'gone', past its cap
        last = conn.execute(text("SELECT id, state FROM incidents WHERE state = 'reported' ORDER BY id DESC LIMIT 1")).one()
        touched = list(conn.execute(text("SELECT id FROM incidents WHERE state = 'closed' ORDER BY id LIMIT :n"),
                                    {"n": API_LIMIT + 100}).scalars())
    assert len(touched) > API_LIMIT and web.page.evaluate("id => gw.known[id] !== undefined", last.id)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE incidents SET state = 'closed', closed_at = now() WHERE id = :i"), {"i": last.id})
            conn.execute(text("UPDATE incidents SET description = description || ' ' WHERE id = ANY(:t)"),
                         {"t": touched})
        web.page.evaluate("gw.poll()")
        assert web.page.evaluate("id => gw.known[id] === undefined", last.id)  # closed: off the map
        full = web.page.evaluate("() => gw.api(gw.mapConfig.urls.incidents).then(fc => fc.features.map(f => f.properties.id))")
        assert sorted(int(i) for i in web.page.evaluate("() => Object.keys(gw.known)")) == sorted(full)
        assert int(web.page.inner_text("#gw-shown")) == len(full)
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE incidents SET state = :s, closed_at = NULL WHERE id = :i"),
                         {"s": last.state, "i": last.id})
            conn.execute(text("UPDATE incidents SET description = left(description, -1) WHERE id = ANY(:t)"),
                         {"t": touched})
    _clean(web)


def test_a_cursor_the_server_refuses_starts_the_map_again_from_a_full_read(web, live_data):
    from urllib.parse import parse_qs, urlparse

    refused, polls = [], []

    def once(route):
        if not refused:
            refused.append(route.request.url)
            return route.fulfill(status=422, content_type="application/json",
                                 body='{"errors": [{"field": "after", "message": "not a cursor"}]}')
        return route.continue_()

    web.login("operator")
    web.goto("/dashboard/operator")
    web.page.wait_for_function("() => window.gw && window.gw.ready && window.gw.since")
    web.page.route(lambda url: "/api/incidents?" in url and "after=" in url, once)
    web.page.on("request", lambda r: polls.append(parse_qs(urlparse(r.url).query)) if "/api/incidents" in r.url else None)
    web.page.evaluate("gw.poll()")
    assert refused and polls[:2] and "after" in polls[0] and "after" not in polls[1]  # refused, then read in full
    polls.clear()
    web.page.evaluate("gw.poll()")
    assert polls and "after" in polls[0]  # and polling by cursor again, with the full read's
    web.errors[:] = [e for e in web.errors if "422" not in e]  # the browser logs the refused request itself
    _clean(web)


def test_a_poll_that_never_answers_is_given_up_and_the_map_polls_on(web, live_data):
    """Polls go one at a time: one stalled on a dead connection must not stop every poll behind it."""
    from urllib.parse import parse_qs, urlparse

    hung, polls = [], []

    def hang_once(route):
        if not hung:
            hung.append(route)  # never answered: a half-open connection
            return None
        return route.continue_()

    web.login("operator")
    web.goto("/dashboard/operator?poll=3000")  # given up after max(10 s, three intervals)
    web.page.wait_for_function("() => window.gw && window.gw.ready && window.gw.since")
    web.page.route(lambda url: "/api/incidents?" in url and "after=" in url, hang_once)
    web.page.on("request", lambda r: polls.append(parse_qs(urlparse(r.url).query)) if "/api/incidents" in r.url else None)
    started = time.monotonic()
    # comes back when the stalled poll is given up (and says 'stuck' rather than hang the suite if it is not)
    done = web.page.evaluate("Promise.race([gw.poll().then(() => 'done'), "
                             "new Promise(r => setTimeout(() => r('stuck'), 25000))])")
    assert hung and done == "done" and 9.5 <= time.monotonic() - started < 25
    polls.clear()
    web.page.evaluate("gw.poll()")
    assert polls and "after" in polls[0]  # polling again, from the same cursor
    web.errors[:] = [e for e in web.errors if "abort" not in e.lower()]
    _clean(web)


def test_a_view_load_read_before_a_poll_does_not_bring_back_what_the_poll_dropped(web, live_data):
    """A capped page loads each view's markers as the map moves. A load read before an incident was closed
    and answered after the poll that dropped it catches up from its own cursor, and the incident stays off."""
    engine = live_data[0]
    page = web.page
    web.login("operator")
    web.goto("/dashboard/operator?max=5&poll=600000")  # capped: views are loaded as the map moves
    page.wait_for_function("() => window.gw && window.gw.ready && window.gw.since")
    assert page.evaluate("() => gw.mapConfig.truncated === true")
    with engine.connect() as conn:
        inc = conn.execute(text("SELECT id, state, ST_X(geom) AS x, ST_Y(geom) AS y FROM incidents "
                                "WHERE state = 'reported' ORDER BY id LIMIT 1")).one()
    view_load = lambda r: "/api/incidents?" in r.url and "bbox=" in r.url and "after=" not in r.url  # noqa: E731
    with page.expect_response(view_load) as first:
        page.evaluate("([lat, lon]) => { gw.map.setView([lat, lon], 17, {animate: false}); }", [inc.y, inc.x])
    stale = first.value.text()  # the view as it was read: the incident open
    page.wait_for_function("id => gw.known[id] !== undefined", arg=inc.id)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE incidents SET state = 'closed', closed_at = now() WHERE id = :i"), {"i": inc.id})
        page.evaluate("gw.poll()")
        assert page.evaluate("id => gw.known[id] === undefined", inc.id)  # closed: the poll dropped it
        page.route(lambda url: "/api/incidents?" in url and "bbox=" in url and "after=" not in url,
                   lambda route: route.fulfill(status=200, content_type="application/json", body=stale))
        catch_up = lambda r: "/api/incidents?" in r.url and "bbox=" in r.url and "after=" in r.url  # noqa: E731
        with page.expect_response(catch_up):
            page.evaluate("() => { gw.map.fire('moveend'); }")  # the old answer arrives now
        page.wait_for_timeout(200)  # the catch-up's answer applied
        assert page.evaluate("id => gw.known[id] === undefined", inc.id)
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE incidents SET state = :s, closed_at = NULL WHERE id = :i"),
                         {"s": inc.state, "i": inc.id})
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
    web.page.wait_for_function("() => window.gw && window.gw.map && window.gw.ready")
    info = web.page.evaluate(COUNT_LAYERS)
    assert info["clustered"] >= 1
    assert facts["grid"] in web.page.inner_text("#gw-grids")
    assert web.page.locator("#gw-members tr").count() > 1
    assert XSS in web.page.inner_text("#gw-incidents")  # the payload in the table is text too
    assert XSS_NAME in web.page.inner_text("#gw-grids")
    shown = web.page.evaluate(OPEN_FEATURE, ["code", facts["grid"]])  # the grid polygon's popup and tooltip
    assert shown["popup"].startswith(XSS_NAME) and shown["tooltip"] == XSS_NAME
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
    web.page.wait_for_function("() => window.gw && window.gw.map && window.gw.ready")
    overlays = web.page.evaluate(COUNT_LAYERS)["overlays"]
    assert any("覆盖率" in o for o in overlays) and any("盲区" in o for o in overlays)
    assert web.page.locator(".gw-legend").count() == 2  # the coverage classes and the camera status colours
    assert web.page.locator("#gw-least tr").count() > 5
    # an incident outside camera view: its popup fetches the details on click, as on the operator map
    web.page.click(".leaflet-control-layers-overlays label:has-text('视野外事件') input")
    web.page.evaluate("""() => {
      gw.map.eachLayer(l => { if (l instanceof L.MarkerClusterGroup) window.__outside = l.getLayers()[0]; });
      gw.map.setView(window.__outside.getLatLng(), 18, {animate: false});  /* past the clustering zoom */
    }""")
    web.page.wait_for_function("() => gw.map.hasLayer(window.__outside)", timeout=15000)
    web.page.evaluate("() => { window.__outside.openPopup(); }")
    web.page.wait_for_selector(".leaflet-popup-content .gw-incident table", timeout=15000)
    web.page.evaluate("() => { gw.map.closePopup(); }")
    web.page.fill("#gw-whatif input[name=k]", "3")
    web.page.click("#gw-whatif button")
    web.page.wait_for_function("() => window.gw.sites.getLayers().length >= 2", timeout=60000)
    assert "→" in web.page.inner_text("#gw-gain")
    web.screenshot("planner")
    _clean(web)


def test_right_click_shows_the_cameras_that_see_a_spot(web, live_data):
    from app.db import Database
    from app.layers_db import read_layer
    from gis.coverage import view_sectors

    with Database(live_data[0]).session() as s:
        cam = read_layer(s, "cameras", where="status = 'ON' AND ptz_type = 3").iloc[:1]
    spot = view_sectors(cam).iloc[0].representative_point()  # inside its view sector
    web.login("operator")
    web.page.wait_for_function("() => window.gw && window.gw.map && window.gw.ready")
    assert web.page.is_hidden("#gw-spot")
    web.page.evaluate("([lat, lon]) => { gw.map.setView([lat, lon], 17, {animate: false});"
                      " gw.map.fire('contextmenu', {latlng: L.latLng(lat, lon)}); }", [spot.y, spot.x])
    web.page.wait_for_selector("#gw-spot-cameras li")
    assert cam["device_id"].iloc[0] in web.page.inner_text("#gw-spot-cameras")
    cones = web.page.evaluate("() => { const ids = []; gw.cones.eachLayer(l => l.eachLayer && l.eachLayer("
                              "c => ids.push(c.feature.properties.device_id))); return ids; }")
    assert cam["device_id"].iloc[0] in cones  # its cone is drawn
    web.screenshot("operator_spot")
    _clean(web)
