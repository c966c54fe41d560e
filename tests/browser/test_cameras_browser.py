"""The camera pages in a real browser: an operator changes a camera's status (with a reason) but not its azimuth;
a stale edit shows the conflict side by side and writes nothing; the list's map draws the selection, on a phone
above the list. Each test makes its own camera and removes it (the database is shared by the browser tests)."""
from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.browser


@contextlib.contextmanager
def own_camera(engine, serial: int, **values):
    """A camera only this test uses, in the first grid, removed afterwards with its history."""
    from app.db import Database
    from camera_registry.history import add_camera

    did = f"510304000013159{serial:05d}"
    with Database(engine).session() as s:
        lon, lat = s.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids "
                                  "ORDER BY code LIMIT 1) q")).one()
        add_camera(s, {"device_id": did, "name": f"浏览器测试{serial}", "lon": lon + serial * 1e-5, "lat": lat,
                       "azimuth": 90, "fov": 60, "range_m": 40, **values}, actor="browser-test")
    try:
        yield did
    finally:
        with engine.begin() as conn:
            for table in ("camera_events", "camera_revisions", "cameras"):
                conn.execute(text(f"DELETE FROM {table} WHERE device_id = :d"), {"d": did})


def _stored(engine, did):
    with engine.connect() as conn:
        return conn.execute(text("SELECT status, azimuth, version FROM cameras WHERE device_id = :d"), {"d": did}).one()


def test_an_operator_changes_a_cameras_status_but_not_its_azimuth(web, live_data):
    engine, _facts = live_data
    with own_camera(engine, 1) as did:
        web.login("operator")
        web.goto(f"/cameras/{did}")
        assert web.page.locator("#cam-edit").count() == 0 and web.page.locator("#cam-retire-form").count() == 0
        web.page.select_option("#cam-new-status", "OFF")
        web.page.click("#cam-status-form button[type=submit]")  # no reason: refused in the page
        assert "原因" in web.page.inner_text("#cam-msg")
        assert _stored(engine, did)[0] == "ON"
        web.page.fill("#cam-status-reason", "画面黑屏，已报修")
        with web.page.expect_navigation():
            web.page.click("#cam-status-form button[type=submit]")
        assert web.page.inner_text("#cam-status") == "离线"
        assert "画面黑屏，已报修" in web.page.inner_text("#cam-timeline")
        assert _stored(engine, did)[:2] == ("OFF", 90)
        # the azimuth: not offered, and refused by the server when sent anyway
        assert "azimuth" not in web.page.evaluate("gw.data.camera.editable")
        answer = web.page.evaluate("""() => gw.api(gw.data.camera.patch_url, {method: 'PATCH',
            json: {version: gw.data.camera.version, azimuth: 180}}).then(() => 200, e => [e.status, e.body.fields])""")
        assert answer == [403, ["azimuth"]]
        assert _stored(engine, did)[1] == 90
        assert web.goto(f"/cameras/{did}/edit").status == 403
        with engine.connect() as conn:
            audit = conn.execute(text("SELECT actor, before, after FROM audit_log WHERE object_type = 'camera' "
                                      "AND object_id = :d AND action = 'update' ORDER BY id"), {"d": did}).all()
        assert [tuple(a) for a in audit] == [("operator", {"status": "ON"}, {"status": "OFF"})]
        # the only console errors are the two refusals this test asked for
        assert web.blocked == [] and all("status of 403" in e for e in web.errors) and len(web.errors) <= 2, \
            (web.blocked, web.errors)


def test_a_stale_edit_shows_the_conflict_and_writes_nothing(web, live_data):
    from app.db import Database
    from camera_registry.history import update_camera

    engine, _facts = live_data
    with own_camera(engine, 2) as did:
        web.login("admin")
        web.goto(f"/cameras/{did}/edit")
        web.page.fill("#cam-f-azimuth", "200")
        web.page.fill("#cam-f-address", "我的地址")
        with Database(engine).session() as s:  # someone else saves first
            update_camera(s, did, {"azimuth": 45}, expected_version=1, actor="someone")
        web.page.click("#cam-save")
        web.page.wait_for_selector("#cam-conflict:not([hidden])")
        assert "someone" in web.page.inner_text("#cam-msg")
        rows = {r[0]: r[1:] for r in web.page.eval_on_selector_all(
            "#cam-conflict-table tbody tr",
            "trs => trs.map(tr => [tr.dataset.field, tr.querySelector('.cam-current').textContent, "
            "tr.querySelector('.cam-yours').textContent])")}
        assert rows["azimuth"] == ["45", "200"] and rows["address"] == ["—", "我的地址"]
        assert rows["version"] == ["2", "1"]
        assert _stored(engine, did) == ("ON", 45, 2)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM camera_events WHERE device_id = :d"), {"d": did}).scalar() == 2
        # reloading gives the current version; saving then works
        # a link: wait for the new page's load event, by which its script has taken over the form (waiting for
        # the field alone let a click land before that, and the browser sent the form as a plain GET)
        with web.page.expect_navigation(wait_until="load"):
            web.page.click("#cam-reload")
        assert web.page.input_value("#cam-f-azimuth") == "45.0"
        web.page.fill("#cam-f-azimuth", "200")
        with web.page.expect_navigation():
            web.page.click("#cam-save")
        assert _stored(engine, did) == ("ON", 200, 3)
        assert web.blocked == [] and all("status of 409" in e for e in web.errors) and len(web.errors) <= 1, \
            (web.blocked, web.errors)


def test_the_list_map_draws_the_selection_and_a_phone_puts_it_above_the_list(phone, live_data):
    engine, _facts = live_data
    with engine.connect() as conn:
        expected = conn.execute(text("SELECT count(*) FROM cameras WHERE programme = 'xueliang' "
                                     "AND lifecycle <> 'retired'")).scalar()
    phone.login("planner")
    phone.goto("/cameras?programme=xueliang")
    phone.page.wait_for_function("() => window.gw && gw.camerasReady")
    assert phone.page.evaluate("gw.cameraMarkers.getLayers().length") == expected
    assert phone.page.get_attribute("#cam-count", "data-total") == str(expected)
    map_box = phone.page.locator("#cam-map").bounding_box()
    table = phone.page.locator("#cam-table").bounding_box()
    assert map_box["height"] > 200 and map_box["y"] + map_box["height"] <= table["y"] + 1
    assert map_box["width"] <= 390 and table["width"] <= 390 + 1
    apply = phone.page.locator("#cam-apply").bounding_box()
    assert apply["height"] >= 44
    # a tap on a row's link opens the camera
    first = phone.page.locator("#cam-table tbody tr a").first
    did = first.inner_text()
    with phone.page.expect_navigation():
        first.tap()
    assert phone.page.url.endswith(f"/cameras/{did}")
    assert phone.blocked == [] and phone.errors == [], (phone.blocked, phone.errors)
