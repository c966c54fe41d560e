"""Patrols from the phone in a real Chromium at 390×844 (touch, emulated geolocation): a member starts a
patrol, walks (positions set through ``context.set_geolocation``), loses the network, walks on, reloads,
comes back online, and one answer is lost on the way: every kept position lands in ``patrol_points``
exactly once, and the grid lead sees the track in their table and on the map."""
from __future__ import annotations

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.browser

STATE = "() => window.gw && window.gw.patrolState ? window.gw.patrolState() : null"


def _walk(engine, grid: str, n: int) -> list[tuple[float, float]]:
    with engine.connect() as c:
        c.execute(text("SELECT setseed(0.25)"))
        return [tuple(r) for r in c.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_Dump(ST_GeneratePoints(geom, :n, 11))).geom p FROM grids "
            "WHERE code = :g) x"), {"n": n, "g": grid})]


def _move(phone, lon: float, lat: float, kept: int):
    phone.context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 12})
    phone.page.wait_for_function(f"() => window.gw.patrolState().kept >= {kept}", timeout=10000)


def test_member_patrols_offline_and_every_point_arrives_exactly_once(phone, web, live_data):
    engine, facts = live_data
    walk = _walk(engine, facts["grid"], 9)
    with engine.connect() as c:
        member_id = c.execute(text("SELECT member_id FROM users WHERE username = 'member'")).scalar()
    phone.context.set_geolocation({"longitude": walk[0][0], "latitude": walk[0][1], "accuracy": 12})
    phone.login("member")
    phone.page.wait_for_function("() => window.gw && window.gw.map && window.gw.patrolState")
    start = phone.page.locator("#gw-patrol-start")
    assert start.bounding_box()["height"] >= 44
    start.tap()
    phone.page.wait_for_function("() => window.gw.patrolState().kept >= 1", timeout=10000)
    assert phone.page.locator("#gw-patrol-stop").is_visible() and not start.is_visible()
    for k in (1, 2):
        _move(phone, *walk[k], kept=k + 1)
    track = phone.page.evaluate(STATE)["track"]

    # the first answer is lost on its way back (the server stored the points): the phone keeps them
    lost = []

    def lose_answer(route):
        route.fetch()  # the request reaches the server ...
        lost.append(route.request.post_data_json)
        route.abort()  # ... but the phone never hears back

    phone.page.route("**/api/patrols/points", lose_answer)
    phone.page.evaluate("() => window.gw.patrolFlush()")
    phone.page.wait_for_function("() => !window.gw.patrolState().sending && window.gw.patrolState().queue.length === 3")
    assert len(lost) == 1 and len(lost[0]["points"]) == 3
    phone.page.unroute("**/api/patrols/points")

    # the network goes: positions are kept on the phone, nothing can be sent
    phone.context.set_offline(True)
    for k in (3, 4, 5):
        _move(phone, *walk[k], kept=k + 1)
    phone.page.evaluate("() => window.gw.patrolFlush()")
    state = phone.page.evaluate(STATE)
    assert len(state["queue"]) == 6 and state["sent"] == 0
    assert "离线" in phone.page.inner_text("#gw-patrol-status")
    phone.screenshot("phone-patrol-offline")

    # back online, after a reload (the queue survives it): the page sends what is waiting by itself
    phone.context.set_offline(False)
    phone.page.reload()
    phone.page.wait_for_function("() => window.gw.patrolState && window.gw.patrolState().queue.length === 0 "
                                 "&& window.gw.patrolState().sent === 6", timeout=15000)
    _move(phone, *walk[6], kept=7)  # still patrolling after the reload
    phone.page.locator("#gw-patrol-stop").tap()
    phone.page.wait_for_function("() => window.gw.patrolState().queue.length === 0 && !window.gw.patrolState().active",
                                 timeout=10000)
    kept = phone.page.evaluate(STATE)["kept"]
    assert kept == 7
    with engine.connect() as c:
        rows = c.execute(text("SELECT at, ST_X(geom), ST_Y(geom), accuracy_m, grid_code FROM patrol_points "
                              "WHERE member_id = :m AND track_id = :t ORDER BY at"),
                         {"m": member_id, "t": track}).all()
    assert len(rows) == kept == len({r[0] for r in rows})  # every kept position once, the lost answer's too
    assert [(round(r[1], 6), round(r[2], 6)) for r in rows] == [(round(x, 6), round(y, 6)) for x, y in walk[:7]]
    assert {r[3] for r in rows} == {12.0} and {r[4] for r in rows} == {facts["grid"]}
    assert phone.page.evaluate(STATE)["sent"] == 7 and "7" in phone.page.inner_text("#gw-patrol-status")
    phone.page.wait_for_function("() => window.gw.patrolLayer && window.gw.patrolLayer.getLayers().length >= 1")
    phone.screenshot("phone-patrol")
    # the one console error is the answer this test cut off ("Failed to load resource: net::ERR_FAILED")
    assert len(phone.errors) == len(lost) and all("ERR_FAILED" in e for e in phone.errors), phone.errors
    assert phone.blocked == []

    # the grid lead sees it: the table of today's tracks and the line on the map
    web.login("lead")
    web.page.wait_for_function("() => window.gw && window.gw.patrolLayer && window.gw.patrolLayer.getLayers().length >= 1")
    row = web.page.locator(f"#gw-tracks tr[data-member='{member_id}']", has_text=track)
    assert row.count() == 1 and row.locator("td").nth(2).inner_text() == "7"
    drawn = web.page.evaluate("""(track) => {
      const out = [];
      window.gw.patrolLayer.eachLayer(l => { if (l.feature.properties.track_id === track) out.push(l.getLatLngs().length); });
      return out; }""", track)
    assert drawn == [7]
    assert web.errors == [] and web.blocked == []
