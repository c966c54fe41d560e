"""The cameras' JSON API (app/cameras/api.py) on the demo district: the list against SQL, the 409 (stale), 422
(naming the field) and 403 (naming the fields) answers, status, retire and add with their events and audit rows."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.app.dash_helpers import csrf, lead_grid, login  # noqa: F401  (lead_grid: a fixture)

NEW_ID = "51030400001315990001"  # centre 51030400, industry 01, type 131 (camera), network 5: unused in the demo


def _q(demo_db, sql, **params):
    with demo_db.Session() as s:
        return s.execute(text(sql), params).all()


def _camera(demo_db, where="true", **params) -> str:
    return _q(demo_db, f"SELECT device_id FROM cameras WHERE {where} ORDER BY device_id LIMIT 1", **params)[0][0]


def _as(client, account: str) -> dict:
    login(client, account)
    return {"X-CSRF-Token": csrf(client, "/cameras")}


def _version(client, did) -> int:
    return client.get(f"/api/cameras/{did}").get_json()["version"]


def _row(demo_db, did):
    return _q(demo_db, "SELECT azimuth, name, status, lifecycle, version, ST_X(geom), ST_Y(geom), grid_code "
                       "FROM cameras WHERE device_id = :d", d=did)[0]


def _audit(demo_db, did):
    return _q(demo_db, "SELECT action, actor, before, after FROM audit_log WHERE object_type = 'camera' "
                       "AND object_id = :d ORDER BY id", d=did)


def _events(demo_db, did):
    return _q(demo_db, "SELECT event, actor, note FROM camera_events WHERE device_id = :d ORDER BY at, id", d=did)


# -- the list ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("query, where", [
    ({}, "lifecycle IN ('planned', 'active')"),
    ({"programme": "skynet", "status": "ON"}, "programme = 'skynet' AND status = 'ON' AND lifecycle <> 'retired'"),
    ({"programme": ["xueliang", "compound"]}, "programme IN ('xueliang', 'compound') AND lifecycle <> 'retired'"),
    ({"industry": "01"}, "substr(device_id, 9, 2) = '01' AND lifecycle <> 'retired'"),
    ({"ptz_type": ["1", "2"]}, "ptz_type IN (1, 2) AND lifecycle <> 'retired'"),
    ({"q": "大道"}, "(name ILIKE '%大道%' OR address ILIKE '%大道%' OR device_id ILIKE '%大道%') "
                   "AND lifecycle <> 'retired'"),
    ({"q": "0000121"}, "device_id LIKE '%0000121%' AND lifecycle <> 'retired'"),
    ({"street": "510304001"}, "street_code = '510304001' AND lifecycle <> 'retired'"),
    ({"lifecycle": "all"}, "true"),
])
def test_the_list_selects_what_sql_selects(client, lead_grid, demo_db, query, where):
    login(client, "operator")
    expected = [r[0] for r in _q(demo_db, f"SELECT device_id FROM cameras WHERE {where} ORDER BY device_id")]
    assert expected or query.get("q") == "0000121"
    got = client.get("/api/cameras", query_string={**query, "limit": 500}).get_json()
    assert got["total"] == len(expected)
    assert [r["device_id"] for r in got["rows"]] == expected[:500]


def test_sorting_and_paging_cover_every_row_once_in_order(client, lead_grid, demo_db):
    login(client, "planner")
    expected = [r[0] for r in _q(demo_db, "SELECT device_id FROM cameras WHERE lifecycle <> 'retired' "
                                          "ORDER BY name DESC, device_id")]
    seen = []
    for offset in range(0, len(expected), 200):
        page = client.get("/api/cameras", query_string={"sort": "-name", "limit": 200, "offset": offset}).get_json()
        assert page["total"] == len(expected)
        seen += [r["device_id"] for r in page["rows"]]
    assert seen == expected


def test_a_grid_lead_sees_only_its_grids_cameras(client, lead_grid, demo_db):
    login(client, "lead")
    mine = [r[0] for r in _q(demo_db, "SELECT device_id FROM cameras WHERE grid_code = :g AND lifecycle <> 'retired' "
                                      "ORDER BY device_id", g=lead_grid)]
    got = client.get("/api/cameras", query_string={"limit": 500}).get_json()
    assert [r["device_id"] for r in got["rows"]] == mine
    other = _camera(demo_db, "grid_code <> :g", g=lead_grid)
    assert client.get(f"/api/cameras/{other}").status_code == 404
    assert client.get(f"/cameras/{other}").status_code == 404


@pytest.mark.parametrize("query, field", [
    ({"programme": "天网"}, "programme"), ({"status": "BROKEN"}, "status"), ({"industry": "9"}, "industry"),
    ({"ptz_type": "8"}, "ptz_type"), ({"lifecycle": "gone"}, "lifecycle"), ({"grid": "12"}, "grid"),
    ({"sort": "password"}, "sort"), ({"limit": "100000"}, "limit"), ({"offset": "-1"}, "offset"),
    ({"q": "a\x00b"}, "q"),
])
def test_a_bad_filter_is_a_422_naming_the_parameter(client, lead_grid, query, field):
    login(client, "operator")
    r = client.get("/api/cameras", query_string=query)
    assert r.status_code == 422
    assert [e["field"] for e in r.get_json()["errors"]] == [field]
    if field not in ("limit", "offset"):  # the page pages by ``page``
        assert client.get("/cameras", query_string=query).status_code == 422


# -- PATCH: 409, 422, 403 ---------------------------------------------------------------------------------------
def test_a_stale_patch_is_a_409_with_both_versions_and_writes_nothing(client, lead_grid, demo_db):
    did = _camera(demo_db)
    h = _as(client, "admin")
    v = _version(client, did)
    assert client.patch(f"/api/cameras/{did}", json={"version": v, "azimuth": 33}, headers=h).status_code == 200
    before, audit, events = _row(demo_db, did), _audit(demo_db, did), _events(demo_db, did)
    r = client.patch(f"/api/cameras/{did}", json={"version": v, "azimuth": 270, "name": "别人的名字"}, headers=h)
    assert r.status_code == 409
    body = r.get_json()
    assert body["current"]["version"] == v + 1 and body["current"]["azimuth"] == 33
    assert body["yours"] == {"version": v, "azimuth": 270, "name": "别人的名字"}
    assert _row(demo_db, did) == before and _audit(demo_db, did) == audit and _events(demo_db, did) == events


@pytest.mark.parametrize("change, field", [
    ({"azimuth": 400}, "azimuth"), ({"fov": 0}, "fov"), ({"range_m": "far"}, "range_m"), ({"name": None}, "name"),
    ({"programme": None}, "programme"), ({"ptz_type": 9}, "ptz_type"), ({"install_date": "2999-01-01"}, "install_date"),
    ({"name": "x" * 101}, "name"), ({"address": "a\u202eb"}, "address"), ({"lon": 120.0}, "lon/lat"),
    ({"lon": "east"}, "lon/lat"), ({"colour": "red"}, "colour"), ({"status": "OFF"}, "status"),
    ({"azimuth": [1, 2]}, "azimuth"), ({"azimuth": True}, "azimuth"), ({}, "body"),
])
def test_a_bad_patch_is_a_422_naming_the_field_and_writes_nothing(client, lead_grid, demo_db, change, field):
    did = _camera(demo_db)
    h = _as(client, "admin")
    before = _row(demo_db, did)
    r = client.patch(f"/api/cameras/{did}", json={"version": _version(client, did), **change}, headers=h)
    assert r.status_code == 422, r.get_json()
    assert field in [e["field"] for e in r.get_json()["errors"]]
    assert _row(demo_db, did) == before


def test_a_patch_without_its_version_is_a_422_naming_version(client, lead_grid, demo_db):
    did = _camera(demo_db)
    h = _as(client, "admin")
    r = client.patch(f"/api/cameras/{did}", json={"azimuth": 10}, headers=h)
    assert r.status_code == 422 and [e["field"] for e in r.get_json()["errors"]] == ["version"]


@pytest.mark.parametrize("account, change, refused", [
    ("operator", {"azimuth": 10}, ["azimuth"]),
    ("operator", {"name": "改名", "fov": 30}, ["name", "fov"]),
    ("planner", {"name": "改名", "azimuth": 10}, ["name"]),
    ("planner", {"programme": "other"}, ["programme"]),
])
def test_a_field_the_role_may_not_edit_is_a_403_naming_it(client, lead_grid, demo_db, account, change, refused):
    did = _camera(demo_db)
    h = _as(client, account)
    before, audit = _row(demo_db, did), _audit(demo_db, did)
    r = client.patch(f"/api/cameras/{did}", json={"version": _version(client, did), **change}, headers=h)
    assert r.status_code == 403
    assert r.get_json()["fields"] == refused
    assert all(f in r.get_json()["message"] for f in refused)
    assert _row(demo_db, did) == before and _audit(demo_db, did) == audit


def test_field_roles_may_not_patch_at_all(client, lead_grid, demo_db):
    did = _camera(demo_db, "grid_code = :g", g=lead_grid) if _q(
        demo_db, "SELECT 1 FROM cameras WHERE grid_code = :g", g=lead_grid) else _camera(demo_db)
    for account in ("lead", "member"):
        h = _as(client, account)
        r = client.patch(f"/api/cameras/{did}", json={"version": 1, "azimuth": 10}, headers=h)
        assert r.status_code in (403, 404)
        assert client.post(f"/api/cameras/{did}/status", json={"status": "OFF", "reason": "x", "version": 1},
                           headers=h).status_code == 403


def test_a_planner_moves_a_camera_and_it_gets_the_grid_postgis_says(client, lead_grid, demo_db):
    did = _camera(demo_db)
    h = _as(client, "planner")
    target, lon, lat = _q(demo_db, "SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
                                   "FROM grids WHERE code <> (SELECT grid_code FROM cameras WHERE device_id = :d) "
                                   "ORDER BY code DESC LIMIT 1", d=did)[0]
    v = _version(client, did)
    r = client.patch(f"/api/cameras/{did}", json={"version": v, "lon": lon, "lat": lat, "azimuth": 45.5,
                                                  "crs": "display"}, headers=h)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["version"] == v + 1 and r.get_json()["grid_code"] == target
    row = _row(demo_db, did)
    assert row.azimuth == 45.5 and abs(row[5] - lon) < 1e-9 and abs(row[6] - lat) < 1e-9 and row.grid_code == target
    action, actor, before, after = _audit(demo_db, did)[-1]
    assert (action, actor) == ("update", "planner")
    assert after["azimuth"] == 45.5 and after["grid_code"] == target and "geom" in after and "geom" in before
    assert _events(demo_db, did)[-1][:2] == ("UPDATE", "planner")


def test_a_move_outside_the_district_is_refused(client, lead_grid, demo_db):
    did = _camera(demo_db)
    h = _as(client, "admin")
    r = client.patch(f"/api/cameras/{did}", json={"version": _version(client, did), "lon": 104.0, "lat": 29.0},
                     headers=h)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "lon/lat"
    assert "outside the district" in r.get_json()["errors"][0]["reason"]


def test_patch_needs_the_csrf_token(client, lead_grid, demo_db):
    did = _camera(demo_db)
    login(client, "admin")
    assert client.patch(f"/api/cameras/{did}", json={"version": 1, "azimuth": 10}).status_code == 400


# -- status, retire, add ----------------------------------------------------------------------------------------
def test_an_operator_changes_the_status_with_a_reason(client, lead_grid, demo_db):
    did = _camera(demo_db, "status = 'ON'")
    h = _as(client, "operator")
    v = _version(client, did)
    r = client.post(f"/api/cameras/{did}/status", json={"status": "OFF", "version": v}, headers=h)
    assert r.status_code == 422 and [e["field"] for e in r.get_json()["errors"]] == ["reason"]
    r = client.post(f"/api/cameras/{did}/status", json={"status": "OFF", "reason": "断电", "version": v}, headers=h)
    assert r.status_code == 200 and r.get_json()["status"] == "OFF"
    assert _events(demo_db, did)[-1] == ("OFF", "operator", "断电")
    assert _audit(demo_db, did)[-1] == ("update", "operator", {"status": "ON"}, {"status": "OFF"})
    stale = client.post(f"/api/cameras/{did}/status", json={"status": "ON", "reason": "恢复", "version": v}, headers=h)
    assert stale.status_code == 409 and stale.get_json()["current"]["status"] == "OFF"
    assert _row(demo_db, did).status == "OFF"


def test_retire_keeps_the_record_and_history_and_leaves_the_maps(client, lead_grid, demo_db):
    from app.layers_db import read_layer

    did = _camera(demo_db, "lifecycle = 'active'")
    h = _as(client, "admin")
    v = _version(client, did)
    assert client.post(f"/api/cameras/{did}/retire", json={"version": v}, headers=h).status_code == 422
    r = client.post(f"/api/cameras/{did}/retire", json={"version": v, "reason": "拆除"}, headers=h)
    assert r.status_code == 200 and r.get_json()["lifecycle"] == "retired"
    assert _events(demo_db, did)[-1] == ("DEL", "admin", "拆除")
    assert _audit(demo_db, did)[-1] == ("update", "admin", {"lifecycle": "active"}, {"lifecycle": "retired"})
    assert len(_events(demo_db, did)) >= 2  # the history stays
    ids = [r["device_id"] for r in client.get("/api/cameras", query_string={"limit": 500}).get_json()["rows"]]
    assert did not in ids
    retired = client.get("/api/cameras", query_string={"lifecycle": "retired"}).get_json()
    assert [r["device_id"] for r in retired["rows"]] == [did]
    with demo_db.Session() as s:
        assert did not in set(read_layer(s, "cameras")["device_id"])
    # a retired record is read-only: no edit, no status, no second retirement
    v2 = r.get_json()["version"]
    assert client.patch(f"/api/cameras/{did}", json={"version": v2, "azimuth": 1}, headers=h).status_code == 409
    assert client.post(f"/api/cameras/{did}/status", json={"status": "ON", "reason": "x", "version": v2},
                       headers=h).status_code == 409
    assert client.post(f"/api/cameras/{did}/retire", json={"reason": "x", "version": v2},
                       headers=h).status_code == 409
    assert r.get_json()["editable"] == [] and r.get_json()["actions"] == {"edit": False, "status": False,
                                                                          "retire": False}


def _spot(demo_db):
    return _q(demo_db, "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p FROM grids "
                       "ORDER BY code LIMIT 1) q")[0]


def test_an_admin_adds_a_camera_with_its_add_event_and_audit_row(client, lead_grid, demo_db):
    grid, lon, lat = _spot(demo_db)
    h = _as(client, "admin")
    body = {"device_id": NEW_ID, "name": "新增测试球机", "lon": lon, "lat": lat, "azimuth": 120, "fov": 60,
            "range_m": 50, "programme": "xueliang", "ptz_type": 1}
    r = client.post("/api/cameras", json=body, headers=h)
    assert r.status_code == 201, r.get_json()
    assert r.headers["Location"].endswith(f"/cameras/{NEW_ID}")
    got = r.get_json()
    assert (got["grid_code"], got["lifecycle"], got["status"], got["version"]) == (grid, "active", "ON", 1)
    assert _events(demo_db, NEW_ID) == [("ADD", "admin", "added")]
    (action, actor, before, after), = _audit(demo_db, NEW_ID)
    assert (action, actor, before) == ("insert", "admin", None)
    assert after["name"] == "新增测试球机" and after["programme"] == "xueliang" and after["grid_code"] == grid
    assert client.post("/api/cameras", json=body, headers=h).status_code == 409  # the ID is taken
    assert client.get(f"/cameras/{NEW_ID}").status_code == 200


@pytest.mark.parametrize("change, field", [
    ({"device_id": "51030400001315990"}, "device_id"), ({"device_id": "51030400001115990001"}, "device_id"),
    ({"device_id": "51030500001315990001"}, "device_id"), ({"name": ""}, "name"), ({"lon": None}, "lon"),
    ({"azimuth": -5}, "azimuth"), ({"lifecycle": "retired"}, "lifecycle"),
])
def test_a_bad_new_camera_is_a_422_naming_the_field(client, lead_grid, demo_db, change, field):
    _grid, lon, lat = _spot(demo_db)
    h = _as(client, "admin")
    body = {"device_id": NEW_ID, "name": "新增测试球机", "lon": lon, "lat": lat, **change}
    r = client.post("/api/cameras", json=body, headers=h)
    assert r.status_code == 422, r.get_json()
    assert field in [e["field"] for e in r.get_json()["errors"]]
    assert _q(demo_db, "SELECT count(*) FROM cameras WHERE device_id = :d", d=body["device_id"] or "-")[0][0] == 0


@pytest.mark.parametrize("account", ["operator", "planner", "lead", "member"])
def test_only_the_admin_adds_and_retires(client, lead_grid, demo_db, account):
    _grid, lon, lat = _spot(demo_db)
    did = _camera(demo_db)
    h = _as(client, account)
    assert client.post("/api/cameras", json={"device_id": NEW_ID, "name": "x", "lon": lon, "lat": lat},
                       headers=h).status_code == 403
    assert client.post(f"/api/cameras/{did}/retire", json={"reason": "x", "version": 1}, headers=h).status_code == 403
    assert client.get("/cameras/new").status_code == 403


def test_a_planner_edits_every_field_of_a_planned_camera_and_on_commissions_it(client, lead_grid, demo_db):
    from camera_registry.history import add_camera

    grid, lon, lat = _spot(demo_db)
    with demo_db.Session() as s:
        add_camera(s, {"device_id": NEW_ID, "name": "规划点位", "lon": lon, "lat": lat}, actor="planner",
                   lifecycle="planned")
        s.commit()
    h = _as(client, "planner")
    rec = client.get(f"/api/cameras/{NEW_ID}").get_json()
    assert "name" in rec["editable"] and "programme" in rec["editable"]
    r = client.patch(f"/api/cameras/{NEW_ID}", json={"version": rec["version"], "name": "规划点位二", "programme": "huiyan"},
                     headers=h)
    assert r.status_code == 200 and r.get_json()["name"] == "规划点位二"
    # an operator may change a built camera's status, not put a planned one into service: 403, nothing written
    h = _as(client, "operator")
    assert client.get(f"/api/cameras/{NEW_ID}").get_json()["actions"]["status"] is False
    r = client.post(f"/api/cameras/{NEW_ID}/status", json={"status": "ON", "reason": "建成", "version": 2}, headers=h)
    assert r.status_code == 403 and "camera.plan" in r.get_json()["message"]
    assert _row(demo_db, NEW_ID).lifecycle == "planned" and len(_events(demo_db, NEW_ID)) == 2
    h = _as(client, "admin")  # camera.status and camera.plan
    assert client.get(f"/api/cameras/{NEW_ID}").get_json()["actions"]["status"] is True
    r = client.post(f"/api/cameras/{NEW_ID}/status", json={"status": "ON", "reason": "建成", "version": 2}, headers=h)
    assert r.status_code == 200 and r.get_json()["lifecycle"] == "active"
    assert _events(demo_db, NEW_ID)[-1][0] == "ON" and "commissioned" in _events(demo_db, NEW_ID)[-1][2]
    assert _audit(demo_db, NEW_ID)[-1][:2] == ("update", "admin")
    assert _audit(demo_db, NEW_ID)[-1][3] == {"lifecycle": "active"}


def test_a_planned_camera_is_not_put_into_service_under_its_provisional_id(client, lead_grid, demo_db):
    from camera_registry import planned
    from tests.settings import TEST_SETTINGS

    _grid, lon, lat = _spot(demo_db)
    with demo_db.Session() as s:
        cam = planned.adopt_site(s, lon, lat, range_m=60.0, actor="planner", district=TEST_SETTINGS.district)
        did, version = cam.device_id, cam.version
        s.commit()
    assert planned.is_provisional(did, TEST_SETTINGS.camera_centre_code)
    audit_before = len(_audit(demo_db, did))
    h = _as(client, "admin")
    r = client.post(f"/api/cameras/{did}/status", json={"status": "ON", "reason": "建成", "version": version},
                    headers=h)
    assert r.status_code == 409 and "gridwatch coverage replace-id" in r.get_json()["message"], r.get_json()
    assert _row(demo_db, did).lifecycle == "planned"
    assert [e[0] for e in _events(demo_db, did)] == ["ADD"] and len(_audit(demo_db, did)) == audit_before



# -- the minimum spacing (camera_registry.spacing, setting camera_min_spacing_m) --------------------------------
def _lonely_camera(demo_db, away_m: float = 20.0):
    """An active demo camera with no other camera within ``away_m`` (PostGIS, EPSG:4544): (ID, lon, lat)."""
    return _q(demo_db, "SELECT device_id, ST_X(geom), ST_Y(geom) FROM cameras c WHERE lifecycle = 'active' AND "
                       "NOT EXISTS (SELECT 1 FROM cameras o WHERE o.device_id <> c.device_id AND "
                       "ST_DWithin(ST_Transform(o.geom, 4544), ST_Transform(c.geom, 4544), :m)) "
                       "ORDER BY device_id LIMIT 2", m=away_m)


def _beside(lon: float, lat: float, east_m: float, north_m: float = 0.0) -> tuple[float, float]:
    from gis.crs import metric_transformer

    x, y = metric_transformer().transform(lon, lat)
    back = metric_transformer(inverse=True).transform(x + east_m, y + north_m)
    return float(back[0]), float(back[1])


def _distance_m(demo_db, did: str, lon: float, lat: float) -> float:
    """The oracle: PostGIS's distance in EPSG:4544 from the stored camera to (lon, lat)."""
    return _q(demo_db, "SELECT ST_Distance(ST_Transform(geom, 4544), ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), "
                       "4326), 4544)) FROM cameras WHERE device_id = :d", d=did, x=lon, y=lat)[0][0]


def test_a_camera_added_within_the_spacing_is_a_422_naming_lon_lat_the_distance_and_the_other(
        client, lead_grid, demo_db, settings):
    (other, lon0, lat0), _ = _lonely_camera(demo_db)
    spacing = settings.camera_min_spacing_m
    lon, lat = _beside(lon0, lat0, 0.6 * spacing, 0.3 * spacing)
    h = _as(client, "admin")
    audit_before = _q(demo_db, "SELECT count(*) FROM audit_log")[0][0]
    r = client.post("/api/cameras", json={"device_id": NEW_ID, "name": "贴近测试球机", "lon": lon, "lat": lat}, headers=h)
    assert r.status_code == 422, r.get_json()
    (error,) = r.get_json()["errors"]
    d = _distance_m(demo_db, other, lon, lat)
    assert d < spacing and error["field"] == "lon/lat"
    assert error["reason"] == (f"only {d:.2f} m from stored camera {other}: probable duplicate "
                               f"(minimum spacing {spacing:g} m)")
    assert _q(demo_db, "SELECT count(*) FROM cameras WHERE device_id = :d", d=NEW_ID)[0][0] == 0
    assert _q(demo_db, "SELECT count(*) FROM audit_log")[0][0] == audit_before
    # just outside the spacing it is added, with its audit row
    lon, lat = _beside(lon0, lat0, 1.25 * spacing)
    r = client.post("/api/cameras", json={"device_id": NEW_ID, "name": "贴近测试球机", "lon": lon, "lat": lat}, headers=h)
    assert r.status_code == 201, r.get_json()
    assert [a[:3] for a in _audit(demo_db, NEW_ID)] == [("insert", "admin", None)]


def test_a_move_within_the_spacing_is_a_422_and_writes_nothing(client, lead_grid, demo_db, settings):
    (fixed, lon0, lat0), (moving, mlon, mlat) = _lonely_camera(demo_db)
    spacing = settings.camera_min_spacing_m
    h = _as(client, "planner")
    v = _version(client, moving)
    audit_before = len(_audit(demo_db, moving))
    lon, lat = _beside(lon0, lat0, -0.5 * spacing, 0.5 * spacing)
    r = client.patch(f"/api/cameras/{moving}", json={"version": v, "lon": lon, "lat": lat, "azimuth": 33},
                     headers=h)
    assert r.status_code == 422, r.get_json()
    (error,) = r.get_json()["errors"]
    assert error["field"] == "lon/lat" and fixed in error["reason"]
    assert f"only {_distance_m(demo_db, fixed, lon, lat):.2f} m" in error["reason"]
    row = _row(demo_db, moving)
    assert (row.version, row[5], row[6]) == (v, mlon, mlat) and len(_audit(demo_db, moving)) == audit_before
    # a short move of its own (nothing else within the spacing of where it goes) is fine
    lon, lat = _beside(mlon, mlat, 0.5 * spacing)
    r = client.patch(f"/api/cameras/{moving}", json={"version": v, "lon": lon, "lat": lat}, headers=h)
    assert r.status_code == 200, r.get_json()
    assert _audit(demo_db, moving)[-1][:2] == ("update", "planner")

# -- no body makes the API answer 5xx ---------------------------------------------------------------------------
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from app.cameras.service import EDIT_FIELDS  # noqa: E402

_KEYS = st.sampled_from([*EDIT_FIELDS, "version", "crs", "status", "reason", "device_id", "lifecycle", "x"])
_VALUES = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
                    st.floats(allow_nan=True, allow_infinity=False), st.text(max_size=30),
                    st.sampled_from(["display", "wgs84", "ON", "1e308", "a\x00b", "\u202e", "104.7", "29.36",
                                     "51030400001315990001", "x" * 300]),
                    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=1))


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=st.dictionaries(_KEYS, _VALUES, max_size=6), which=st.sampled_from(["patch", "status", "retire", "add"]),
       good_version=st.booleans())
def test_no_json_body_makes_the_camera_api_answer_5xx(client, lead_grid, demo_db, body, which, good_version):
    if not hasattr(client, "h"):
        client.h = _as(client, "admin")
        client.did = _camera(demo_db, "lifecycle = 'active'")
    did = client.did
    if good_version:
        body = {**body, "version": _version(client, did)}
    path = {"patch": f"/api/cameras/{did}", "status": f"/api/cameras/{did}/status",
            "retire": f"/api/cameras/{did}/retire", "add": "/api/cameras"}[which]
    r = client.open(path, method="PATCH" if which == "patch" else "POST", json=body, headers=client.h)
    assert r.status_code < 500, (which, body, r.get_data(as_text=True)[:300])
    if r.status_code in (403, 409, 422):
        assert r.get_json()["message"]
    if which == "retire" and r.status_code == 200:  # keep a camera that can still be changed
        client.did = _camera(demo_db, "lifecycle = 'active'")
