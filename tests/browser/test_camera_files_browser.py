"""Camera files and the map editor in headless Chromium: an upload with one bad row shows that row and writes
nothing until it is fixed; dragging a camera's azimuth handle saves the new azimuth; the cone the browser
draws is the server's (gis.coverage.view_sectors), vertex by vertex.

The database is shared by every browser test: these tests add their own cameras (prefix ``PREFIX``) and
delete them, with their history, when they finish."""
from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import text

pytestmark = pytest.mark.browser

PREFIX = "5103040001131592"


def _clean(w):
    assert w.blocked == [], f"requests left the machine: {w.blocked}"
    assert w.errors == [], f"console errors: {w.errors}"


@pytest.fixture
def engine(live_data):
    eng = live_data[0]
    yield eng
    with eng.begin() as c:
        for table in ("camera_events", "camera_revisions", "cameras"):
            c.execute(text(f"DELETE FROM {table} WHERE device_id LIKE :p"), {"p": PREFIX + "%"})


def _spot(eng, k: int):
    """A point inside one of the grids no other browser test edits, ``k`` × ~30 m apart."""
    with eng.connect() as c:
        lon, lat = c.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids "
                                  "ORDER BY code DESC LIMIT 1 OFFSET 5) q")).one()
    return lon + k * 3e-4, lat


def _add_camera(eng, serial: int, *, azimuth=90.0, fov=60.0, range_m=80.0) -> str:
    did = f"{PREFIX}{serial:04d}"
    lon, lat = _spot(eng, serial)
    with eng.begin() as c:
        c.execute(text("INSERT INTO cameras (device_id, name, programme, status, azimuth, fov, range_m, ptz_type, geom) "
                       "VALUES (:d, :n, 'skynet', 'ON', :az, :fov, :r, 3, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
                  {"d": did, "n": f"地图编辑测试{serial}", "az": azimuth, "fov": fov, "r": range_m, "x": lon, "y": lat})
    return did


def _camera(eng, did):
    with eng.connect() as c:
        return c.execute(text("SELECT azimuth, fov, range_m, version, ST_X(geom), ST_Y(geom) FROM cameras "
                              "WHERE device_id = :d"), {"d": did}).one()


def _server_cone(lon, lat, azimuth, fov, range_m) -> np.ndarray:
    from gis.coverage import view_sectors

    cams = gpd.GeoDataFrame({"azimuth": [azimuth], "fov": [fov], "range_m": [range_m], "status": ["ON"]},
                            geometry=[shapely.Point(lon, lat)], crs="EPSG:4326")
    return shapely.get_coordinates(view_sectors(cams, include_offline=True).iloc[0].exterior)[:-1]


def _browser_cone(w) -> np.ndarray:
    return np.array(w.page.evaluate("() => gw.cameraMap.conePoints().map(p => [p.lng, p.lat])"))


def _open(w, did):
    w.goto(f"/cameras/{did}")
    w.page.wait_for_selector("#gw-cam-editor[data-ready='1']", timeout=15000)


def _centre(w, selector):
    box = w.page.locator(selector).bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def _rotated(w, about, point, degrees):
    """``point`` (page pixels) turned ``degrees`` clockwise about ``about`` on the screen."""
    a = math.radians(degrees)
    dx, dy = point[0] - about[0], point[1] - about[1]
    return about[0] + dx * math.cos(a) - dy * math.sin(a), about[1] + dx * math.sin(a) + dy * math.cos(a)


def test_the_browsers_cone_is_the_servers(web, engine):
    did = _add_camera(engine, 1, azimuth=33.3, fov=75.0, range_m=120.0)
    web.login("planner")
    _open(web, did)
    az, fov, rng, _v, lon, lat = _camera(engine, did)
    mine, server = _browser_cone(web), _server_cone(lon, lat, az, fov, rng)
    assert mine.shape == server.shape and mine.shape[0] == 1 + math.ceil(fov / 2) + 1
    assert np.abs(mine - server).max() < 1e-8  # ≈ 1 mm
    # the polygon Leaflet draws is those points
    drawn = np.array(web.page.evaluate("() => gw.cameraMap.cone.getLatLngs()[0].map(p => [p.lng, p.lat])"))
    assert np.abs(drawn - server).max() < 1e-8
    _clean(web)


def test_dragging_the_azimuth_handle_saves_the_new_azimuth(web, engine):
    did = _add_camera(engine, 2, azimuth=90.0, fov=60.0, range_m=80.0)
    _az, _fov, _r, version, lon, lat = _camera(engine, did)
    web.login("planner")
    _open(web, did)
    page = web.page
    camera_px = _centre(web, ".gw-cam-handle-camera")
    handle_px = _centre(web, ".gw-cam-handle-azimuth")
    target = _rotated(web, camera_px, handle_px, 45)  # 90° → about 135°
    page.mouse.move(*handle_px)
    page.mouse.down()
    for k in range(1, 11):  # a real drag: the cone turns on the way
        page.mouse.move(handle_px[0] + (target[0] - handle_px[0]) * k / 10, handle_px[1] + (target[1] - handle_px[1]) * k / 10)
        if k == 5:
            assert "方位角" in page.inner_text("#gw-cam-readout")
            tip = page.inner_text(".leaflet-tooltip")
            assert "方位角" in tip and "°" in tip
    page.mouse.up()
    shown = page.evaluate("() => gw.cameraMap.state().azimuth")
    assert 130 < shown < 140
    assert f"{shown:.1f}°" in page.inner_text("#gw-cam-readout")
    # the cone redrew at the new azimuth: still the server's polygon
    assert np.abs(_browser_cone(web) - _server_cone(lon, lat, shown, 60.0, 80.0)).max() < 1e-8
    assert _camera(engine, did)[0] == 90.0  # nothing saved yet
    page.click("#gw-cam-save")
    page.wait_for_function("() => document.getElementById('gw-cam-msg').textContent.includes('已保存')", timeout=10000)
    az2, fov2, _r, version2, lon2, lat2 = _camera(engine, did)
    assert az2 == pytest.approx(shown) and fov2 == 60.0 and version2 == version + 1
    assert (lon2, lat2) == pytest.approx((lon, lat), abs=1e-9)  # the position was not sent
    with engine.connect() as c:
        audit = c.execute(text("SELECT action, actor, changed, before, after FROM audit_log WHERE object_type = "
                               "'camera' AND object_id = :d AND action = 'update'"), {"d": did}).all()
    assert len(audit) == 1
    action, actor, changed, before, after = audit[0]
    assert (action, actor) == ("update", "planner") and "azimuth" in changed
    assert before["azimuth"] == 90.0 and after["azimuth"] == pytest.approx(shown)
    assert page.inner_text("#cam-version") == str(version + 1)
    _clean(web)


def test_cancel_restores_and_a_stale_save_shows_both_values(web, engine):
    did = _add_camera(engine, 3, azimuth=200.0, fov=40.0)
    web.login("planner")
    _open(web, did)
    page = web.page
    camera_px = _centre(web, ".gw-cam-handle-camera")
    edge = page.locator(".gw-cam-handle-fov").first
    box = edge.bounding_box()
    start = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    outwards = _rotated(web, camera_px, start, 20)
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*outwards, steps=8)
    page.mouse.up()
    fov = page.evaluate("() => gw.cameraMap.state().fov")
    assert fov != 40.0 and 1 <= fov <= 359.9
    page.click("#gw-cam-cancel")
    page.wait_for_function("() => gw.cameraMap.state().fov === 40")
    assert page.is_disabled("#gw-cam-save")
    # drag again, then someone else changes the camera before Save
    page.mouse.move(*_centre(web, ".gw-cam-handle-azimuth"))
    page.mouse.down()
    page.mouse.move(*_rotated(web, camera_px, _centre(web, ".gw-cam-handle-azimuth"), 30), steps=8)
    page.mouse.up()
    mine = page.evaluate("() => gw.cameraMap.state().azimuth")
    with engine.begin() as c:
        c.execute(text("UPDATE cameras SET azimuth = 10, version = version + 1, updated_by = 'admin' "
                       "WHERE device_id = :d"), {"d": did})
    page.click("#gw-cam-save")
    page.wait_for_selector("#gw-cam-conflict:not([hidden])", timeout=10000)
    row = page.inner_text("#gw-cam-conflict-table tr[data-field='azimuth']")
    assert "10" in row and f"{mine}" in row
    assert _camera(engine, did)[0] == 10.0  # theirs stands: nothing of mine was written
    page.click("#gw-cam-take-theirs")
    page.wait_for_function("() => gw.cameraMap.state().azimuth === 10")
    assert len(web.errors) == 1 and "status of 409" in web.errors[0]  # the browser's own line for the answer
    web.errors.clear()
    _clean(web)


def test_an_operator_cannot_drag(web, engine):
    did = _add_camera(engine, 4)
    web.login("operator")
    _open(web, did)
    page = web.page
    assert page.is_visible("#gw-cam-readonly") and page.is_hidden("#gw-cam-buttons")
    assert page.locator(".gw-cam-handle-azimuth").count() == 0 and page.locator(".gw-cam-handle-fov").count() == 0
    assert page.evaluate("() => gw.cameraMap.marker.dragging.enabled()") is False
    _clean(web)


def _touch_drag(w, start, end, steps=8):
    """A one-finger drag through Chrome's touch input (Playwright's touchscreen only taps)."""
    cdp = w.page.context.new_cdp_session(w.page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": start[0], "y": start[1]}]})
    for k in range(1, steps + 1):
        x, y = start[0] + (end[0] - start[0]) * k / steps, start[1] + (end[1] - start[1]) * k / steps
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_phone_touch_drag_of_the_azimuth_handle(phone, engine):
    did = _add_camera(engine, 5, azimuth=0.0)
    phone.login("planner")
    _open(phone, did)
    page = phone.page
    page.locator("#gw-cam-map").scroll_into_view_if_needed()
    camera_px = _centre(phone, ".gw-cam-handle-camera")
    handle_px = _centre(phone, ".gw-cam-handle-azimuth")
    box = page.locator(".gw-cam-handle-azimuth").bounding_box()
    assert box["width"] >= 40 and box["height"] >= 40  # a thumb's target
    _touch_drag(phone, handle_px, _rotated(phone, camera_px, handle_px, 60))
    shown = page.evaluate("() => gw.cameraMap.state().azimuth")
    assert 50 < shown < 70
    assert page.locator("#gw-cam-save").bounding_box()["height"] >= 44
    page.tap("#gw-cam-save")
    page.wait_for_function("() => document.getElementById('gw-cam-msg').textContent.includes('已保存')", timeout=10000)
    assert _camera(engine, did)[0] == pytest.approx(shown)
    _clean(phone)


# -- upload -------------------------------------------------------------------------------------------------
def _rows(eng, serials, bad=None):
    from tests.camera_registry.conftest import row

    out = []
    for s in serials:
        lon, lat = _spot(eng, 20 + s)
        r = row(s, device_id=f"{PREFIX}{100 + s:04d}", lon=f"{lon:.7f}", lat=f"{lat:.7f}")
        r.update((bad or {}).get(s, {}))
        out.append(r)
    return out


def test_an_upload_with_one_bad_row_shows_that_row_and_writes_nothing_until_fixed(web, engine, tmp_path):
    from tests.camera_registry.conftest import write_csv

    def count():
        with engine.connect() as c:
            return c.execute(text("SELECT count(*) FROM cameras WHERE device_id LIKE :p"), {"p": PREFIX + "01%"}).scalar()

    web.login("admin")
    web.goto("/cameras/upload")
    page = web.page
    bad = write_csv(tmp_path / "摄像机.csv", _rows(engine, (1, 2, 3), {2: {"fov": "0"}}))
    page.set_input_files("#gw-cfile-file", str(bad))
    # the busy indicator shows while the dry run runs (recorded as the form leaves: the page is replaced)
    page.evaluate("() => document.getElementById('gw-cfile-form').addEventListener('submit', () => sessionStorage."
                  "setItem('busy', String(!document.getElementById('gw-cfile-busy').hidden && "
                  "document.getElementById('gw-cfile-submit').disabled)))")
    with page.expect_navigation():
        page.click("#gw-cfile-submit")
    assert page.evaluate("() => sessionStorage.getItem('busy')") == "true"
    rows = page.locator("#gw-cfile-errors tbody tr")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-line") == "3"
    cells = rows.first.locator("td").all_inner_texts()
    assert cells[0] == "3" and "水平视场角" in cells[1] and cells[2]
    assert page.inner_text("#gw-cfile-summary li[data-count='rejected'] b") == "1"
    assert page.inner_text("#gw-cfile-summary li[data-count='added'] b") == "2"
    assert page.is_visible("#gw-cfile-nothing-written") and page.locator("#gw-cfile-commit").count() == 0
    assert count() == 0
    # fixed, uploaded again, committed
    page.click("#gw-cfile-again")
    good = write_csv(tmp_path / "摄像机.csv", _rows(engine, (1, 2, 3)))
    page.set_input_files("#gw-cfile-file", str(good))
    with page.expect_navigation():
        page.click("#gw-cfile-submit")
    assert page.locator("#gw-cfile-errors").count() == 0
    assert page.inner_text("#gw-cfile-summary li[data-count='added'] b") == "3"
    assert count() == 0
    with page.expect_navigation():
        page.click("#gw-cfile-commit")
    assert "新增 3" in page.inner_text("#gw-cfile-done")
    assert count() == 3
    with engine.connect() as c:
        audit = c.execute(text("SELECT object_id, action, actor FROM audit_log WHERE object_type = 'camera' AND "
                               "object_id LIKE :p ORDER BY object_id"), {"p": PREFIX + "01%"}).all()
    assert [tuple(a) for a in audit] == [(f"{PREFIX}{100 + s:04d}", "insert", "admin") for s in (1, 2, 3)]
    _clean(web)


def test_upload_pages_on_a_phone(phone, engine, tmp_path):
    from tests.camera_registry.conftest import write_csv

    phone.login("admin")
    phone.goto("/cameras/upload")
    page = phone.page
    for sel in ("#gw-cfile-file", "#gw-cfile-crs", "#gw-cfile-submit"):
        assert page.locator(sel).bounding_box()["height"] >= 44, sel
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    path = write_csv(tmp_path / "one.csv", _rows(engine, (7,), {7: {"azimuth": "400"}}))
    page.set_input_files("#gw-cfile-file", str(path))
    with page.expect_navigation():
        page.tap("#gw-cfile-submit")
    assert page.locator("#gw-cfile-errors tbody tr").count() == 1
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    with page.expect_navigation():
        page.tap("#gw-cfile-cancel")
    assert page.is_visible("#gw-cfile-cancelled")
    _clean(phone)


def test_a_wrong_file_is_refused_before_it_is_sent(web, tmp_path):
    web.login("admin")
    web.goto("/cameras/upload")
    path = tmp_path / "cams.shp"
    path.write_bytes(b"x")
    web.page.set_input_files("#gw-cfile-file", str(path))
    assert web.page.is_visible("#gw-cfile-file-error")
    web.page.click("#gw-cfile-submit")
    assert web.page.url.endswith("/cameras/upload")  # not sent
    _clean(web)
