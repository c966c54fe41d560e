"""Events, revisions, past states and optimistic concurrency (two real sessions on two connections)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from camera_registry.history import camera_as_of, delete_camera, events, set_status, update_camera
from camera_registry.importer import import_cameras
from camera_registry.models import Camera
from gis.errors import Conflict, InvalidData, NotFound

from .conftest import count, row
from tests.settings import DISTRICT

ID = row(1)["device_id"]


def _current(session) -> dict:
    """The stored row, read by SQL (the oracle for what camera_as_of must give back)."""
    r = session.execute(text("SELECT name, azimuth, status, version, ST_X(geom) AS lon, ST_Y(geom) AS lat "
                             "FROM cameras WHERE device_id = :d"), {"d": ID}).mappings().one()
    return dict(r)


def _as_of(session, at) -> dict | None:
    data = camera_as_of(session, ID, at)
    return None if data is None else {k: data[k] for k in ("name", "azimuth", "status", "version", "lon", "lat")}


def test_history_reconstructs_every_past_state(session, csv_file):
    import_cameras(session, csv_file([row(1), row(2)]), district=DISTRICT)
    states = [_current(session)]
    update_camera(session, ID, {"azimuth": 180, "name": "改名球机"}, expected_version=1, actor="alice")
    states.append(_current(session))
    set_status(session, ID, "离线", "bob", note="power cut")
    states.append(_current(session))
    update_camera(session, ID, {"lon": 104.7720, "lat": 29.3670}, expected_version=3, actor="alice")
    states.append(_current(session))
    set_status(session, ID, "ON", "bob")
    states.append(_current(session))
    delete_camera(session, ID, "carol", note="dismantled")
    times = session.execute(text("SELECT at FROM camera_revisions WHERE device_id = :d ORDER BY at, id"),
                            {"d": ID}).scalars().all()
    assert len(times) == 6 and times == sorted(times) and len(set(times)) == 6
    assert _as_of(session, times[0] - timedelta(microseconds=1)) is None
    for k, state in enumerate(states):
        assert _as_of(session, times[k]) == state
        assert _as_of(session, times[k] + (times[k + 1] - times[k]) / 2) == state  # between two changes
    assert states[1]["azimuth"] == 180 and states[2]["status"] == "OFF" and states[3]["lon"] == 104.7720
    assert [s["version"] for s in states] == [1, 2, 3, 4, 5]
    assert _as_of(session, times[-1]) is None  # deleted
    assert count(session, "cameras", "device_id = :d", d=ID) == 0
    assert [(e.event, e.actor) for e in events(session, ID)] == [
        ("ADD", "import"), ("UPDATE", "alice"), ("OFF", "bob"), ("UPDATE", "alice"), ("ON", "bob"), ("DEL", "carol")]
    assert events(session, ID)[2].note == "power cut"
    full = camera_as_of(session, ID, times[1])
    assert full["install_date"].isoformat() == "2020-05-01" and full["device_id"] == ID


def test_stale_expected_version_is_a_conflict(session, csv_file):
    import_cameras(session, csv_file([row(1)]), district=DISTRICT)
    update_camera(session, ID, {"azimuth": 10}, expected_version=1, actor="a")
    with pytest.raises(Conflict, match="is at version 2, not 1"):
        update_camera(session, ID, {"azimuth": 20}, expected_version=1, actor="b")
    assert _current(session)["azimuth"] == 10


def test_edits_are_validated_like_imports(session, csv_file):
    import_cameras(session, csv_file([row(1)]), district=DISTRICT)
    with pytest.raises(InvalidData) as info:
        update_camera(session, ID, {"azimuth": 400, "record_days": None}, expected_version=1, actor="a")
    assert {e.field for e in info.value.errors} == {"azimuth", "record_days"}
    with pytest.raises(InvalidData, match="not an editable camera field"):
        update_camera(session, ID, {"device_id": "x", "version": 9}, expected_version=1, actor="a")
    with pytest.raises(InvalidData, match="is not a status"):
        set_status(session, ID, "BROKEN", "a")
    with pytest.raises(NotFound):
        set_status(session, "51030400001325099999", "ON", "a")
    assert _current(session)["version"] == 1 and count(session, "camera_events") == 1


def test_a_no_op_edit_writes_no_history(session, csv_file):
    import_cameras(session, csv_file([row(1)]), district=DISTRICT)
    update_camera(session, ID, {"azimuth": 90}, expected_version=1, actor="a")
    set_status(session, ID, "ON", "a")
    assert count(session, "camera_revisions") == 1 and _current(session)["version"] == 1


@pytest.fixture(scope="module")
def committed(database_factory):
    """A database of its own where two sessions really run on two connections (and commit)."""
    from app.db import Database

    return Database(database_factory("camera_concurrency"))


def test_concurrent_edits_cannot_overwrite_each_other(committed, tmp_path):
    from .conftest import write_csv

    with committed.session() as s:
        import_cameras(s, write_csv(tmp_path / "c.csv", [row(1)]), district=DISTRICT)
    alice, bob = committed.Session(), committed.Session()
    try:
        seen_a = alice.get(Camera, ID).version
        seen_b = bob.get(Camera, ID).version
        assert seen_a == seen_b == 1
        update_camera(alice, ID, {"azimuth": 45}, expected_version=seen_a, actor="alice")
        alice.commit()
        with pytest.raises(Conflict, match="someone changed it meanwhile"):
            update_camera(bob, ID, {"azimuth": 270}, expected_version=seen_b, actor="bob")
        bob.rollback()
        # bob reloads and succeeds on the new version
        fresh = bob.get(Camera, ID, populate_existing=True).version
        update_camera(bob, ID, {"name": "鲍勃改名"}, expected_version=fresh, actor="bob")
        bob.commit()
    finally:
        alice.close()
        bob.close()
    with committed.session() as s:
        stored = s.execute(text("SELECT azimuth, name, version FROM cameras WHERE device_id = :d"), {"d": ID}).one()
        actors = s.execute(text("SELECT actor FROM camera_revisions ORDER BY id")).scalars().all()
    assert stored == (45.0, "鲍勃改名", 3)
    assert actors == ["import", "alice", "bob"]


def test_orm_flush_of_a_stale_object_is_refused(committed):
    """The version column also guards ORM writes that bypass update_camera."""
    from sqlalchemy.orm.exc import StaleDataError

    alice, bob = committed.Session(), committed.Session()
    try:
        a, b = alice.get(Camera, ID), bob.get(Camera, ID)
        a.contact = "0813-0000001"
        alice.commit()
        b.contact = "0813-0000002"
        with pytest.raises(StaleDataError):
            bob.flush()
        bob.rollback()
    finally:
        alice.close()
        bob.close()
    with committed.session() as s:
        assert s.execute(text("SELECT contact FROM cameras WHERE device_id = :d"), {"d": ID}).scalar() == \
            "0813-0000001"


def test_moving_a_camera_rederives_its_codes(demo_session):
    from .conftest import postgis_locate

    cam = demo_session.execute(text("SELECT device_id, version, grid_code FROM cameras ORDER BY device_id LIMIT 1")
                               ).one()
    target = demo_session.execute(text(
        "SELECT code, community_code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM grids "
        "WHERE code <> :g ORDER BY code DESC LIMIT 1"), {"g": cam.grid_code}).one()
    update_camera(demo_session, cam.device_id, {"lon": target[2], "lat": target[3]}, expected_version=cam.version,
                  actor="ops", locate=postgis_locate(demo_session))
    got = demo_session.execute(text("SELECT grid_code, community_code, street_code FROM cameras WHERE device_id = :d"),
                               {"d": cam.device_id}).one()
    assert got == (target[0], target[1], target[1][:9])


# -- add, retire, commission (the console's steps) -------------------------------------------------------------
@pytest.mark.parametrize("over", [
    {"device_id": "51030400001325000"}, {"device_id": "51030500001325000001"}, {"azimuth": "400"},
    {"point_class": "1", "contact": ""}, {"install_date": "2999-01-01"}, {"programme": "天罗"}, {"name": ""},
    {"ptz_type": "8"}, {"lon": "104.0", "lat": "29.0"}, {"function_types": "77"},
])
def test_add_refuses_exactly_what_the_importer_refuses(session, csv_file, over):
    """Differential: the same bad row through ``add_camera`` and the importer gives the same fields and reasons."""
    from camera_registry.history import add_camera

    values = row(1, **over)
    with pytest.raises(InvalidData) as imported:
        import_cameras(session, csv_file([values]), district=DISTRICT)
    with pytest.raises(InvalidData) as added:
        add_camera(session, values, actor="ann", district=DISTRICT)
    def norm(errors):
        return sorted((("lon/lat" if e.field in ("lon", "lat", "lon/lat") else e.field), e.reason.split(";")[0])
                      for e in errors)
    assert norm(added.value.errors) == norm(imported.value.errors)
    assert count(session, "cameras") == 0 and count(session, "camera_events") == 0


def test_add_writes_the_camera_its_add_event_and_revision(session):
    from camera_registry.history import add_camera

    cam = add_camera(session, row(1), actor="ann", district=DISTRICT)
    assert (cam.version, cam.lifecycle, cam.status) == (1, "active", "ON")
    assert [(e.event, e.actor) for e in events(session, ID)] == [("ADD", "ann")]
    assert _current(session)["azimuth"] == 90 and abs(_current(session)["lon"] - float(row(1)["lon"])) < 1e-12
    with pytest.raises(Conflict, match="already in the registry"):
        add_camera(session, row(1), actor="ann", district=DISTRICT)
    with pytest.raises(InvalidData, match="lifecycle"):
        add_camera(session, row(2), actor="ann", lifecycle="retired")


def test_retire_keeps_the_record_and_its_history_read_only(session):
    from camera_registry.history import add_camera, retire_camera
    from camera_registry.queries import cameras_within
    from gis.errors import IllegalTransition

    add_camera(session, row(1), actor="ann", district=DISTRICT)
    with pytest.raises(InvalidData, match="reason"):
        retire_camera(session, ID, "ann", "  ")
    with pytest.raises(Conflict):
        retire_camera(session, ID, "ann", "dismantled", expected_version=7)
    cam = retire_camera(session, ID, "ann", "dismantled", expected_version=1)
    assert (cam.lifecycle, cam.version) == ("retired", 2)
    assert [(e.event, e.note) for e in events(session, ID)] == [("ADD", "added"), ("DEL", "dismantled")]
    assert camera_as_of(session, ID, events(session, ID)[-1].at)["lifecycle"] == "retired"
    assert ID not in set(cameras_within(session, float(row(1)["lon"]), 29.3665, 50)["device_id"])
    for step in (lambda: update_camera(session, ID, {"azimuth": 1}, expected_version=2, actor="a"),
                 lambda: set_status(session, ID, "OFF", "a", note="x"),
                 lambda: retire_camera(session, ID, "a", "again")):
        with pytest.raises(IllegalTransition, match="retired"):
            step()
    assert count(session, "camera_events") == 2


def test_on_commissions_a_planned_camera(session):
    from camera_registry.history import add_camera

    add_camera(session, row(1, status="OFF"), actor="pat", lifecycle="planned")
    set_status(session, ID, "VLOST", "op", note="not built yet")
    assert session.get(Camera, ID).lifecycle == "planned"
    cam = set_status(session, ID, "ON", "op", note="built", expected_version=2)
    assert (cam.lifecycle, cam.status) == ("active", "ON")
    assert events(session, ID)[-1].note == "built; commissioned (planned → active)"
    with pytest.raises(Conflict):
        set_status(session, ID, "OFF", "op", note="x", expected_version=2)


def test_on_does_not_commission_a_planned_camera_under_its_provisional_id(session):
    from camera_registry.history import add_camera
    from camera_registry.planned import PROVISIONAL_SERIALS, provisional_prefix
    from gis.errors import IllegalTransition

    centre = DISTRICT.camera_centre_code
    prov = f"{provisional_prefix(centre)}{PROVISIONAL_SERIALS[0] + 7:06d}"
    add_camera(session, row(1, device_id=prov, status="OFF"), actor="pat", lifecycle="planned")
    for kw in ({}, {"centre": centre}):  # the ID's own centre code, or the district's
        with pytest.raises(IllegalTransition, match=f"coverage replace-id {prov}"):
            set_status(session, prov, "ON", "admin", note="built", **kw)
    cam = session.get(Camera, prov)
    assert (cam.lifecycle, cam.status, cam.version) == ("planned", "OFF", 1)
    assert [e.event for e in events(session, prov)] == ["ADD"]
    set_status(session, prov, "VLOST", "admin", note="pole up, no device yet")  # not commissioning: allowed
    assert session.get(Camera, prov).lifecycle == "planned"


def test_update_with_the_district_refuses_a_move_outside_it_and_a_cleared_programme(session):
    from camera_registry.history import add_camera

    add_camera(session, row(1), actor="ann", district=DISTRICT)
    with pytest.raises(InvalidData, match="outside the district extent"):
        update_camera(session, ID, {"lon": 104.0, "lat": 29.0}, expected_version=1, actor="a", district=DISTRICT)
    with pytest.raises(InvalidData, match="cannot be cleared"):
        update_camera(session, ID, {"programme": None}, expected_version=1, actor="a")
    with pytest.raises(InvalidData, match="does not start with its parent code"):
        update_camera(session, ID, {"declared_community_code": "510305001001"}, expected_version=1, actor="a",
                      district=DISTRICT)
    assert _current(session)["version"] == 1


def test_the_timeline_says_what_changed_from_and_to_and_who(session, csv_file):
    from camera_registry.queries import timeline

    import_cameras(session, csv_file([row(1)]), district=DISTRICT)
    update_camera(session, ID, {"azimuth": 180, "name": "改名球机"}, expected_version=1, actor="alice")
    set_status(session, ID, "OFF", "bob", note="power cut")
    got = timeline(session, ID)
    assert [(e["event"], e["actor"], e["version"]) for e in got] == [("OFF", "bob", 3), ("UPDATE", "alice", 2),
                                                                     ("ADD", "import", 1)]
    assert got[0]["changes"] == [("status", "ON", "OFF")] and got[0]["note"] == "power cut"
    assert sorted(got[1]["changes"]) == [("azimuth", 90.0, 180.0), ("name", "测试点位1球机", "改名球机")]
    assert got[2]["changes"] == []


# -- the minimum spacing of cameras added or moved one by one (camera_registry.spacing) ------------------------
def _metres_east(lon: float, lat: float, east_m: float, north_m: float = 0.0) -> tuple[float, float]:
    """The WGS-84 position ``east_m``/``north_m`` metres from (lon, lat) in EPSG:4544, the spacing's frame."""
    from gis.crs import metric_transformer

    x, y = metric_transformer().transform(lon, lat)
    back = metric_transformer(inverse=True).transform(x + east_m, y + north_m)
    return float(back[0]), float(back[1])


def _postgis_m(session, device_id: str, lon: float, lat: float) -> float:
    """The oracle: PostGIS's planar distance in EPSG:4544 from the stored camera to (lon, lat)."""
    return session.execute(text(
        "SELECT ST_Distance(ST_Transform(geom, 4544), ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), 4326), 4544)) "
        "FROM cameras WHERE device_id = :d"), {"d": device_id, "x": lon, "y": lat}).scalar()


def test_add_refuses_a_camera_closer_than_the_spacing_naming_the_other_and_the_distance(session, csv_file):
    from camera_registry.history import add_camera

    first = add_camera(session, row(1), actor="ann", district=DISTRICT)
    lon, lat = _metres_east(float(row(1)["lon"]), float(row(1)["lat"]), 1.2, 0.3)
    near = row(2, lon=f"{lon:.9f}", lat=f"{lat:.9f}")
    with pytest.raises(InvalidData) as exc:
        add_camera(session, near, actor="ann", district=DISTRICT, min_spacing_m=2.0)
    (error,) = exc.value.errors
    d = _postgis_m(session, first.device_id, float(near["lon"]), float(near["lat"]))
    assert error.field == "lon/lat" and first.device_id in error.reason and f"only {d:.2f} m" in error.reason
    assert "minimum spacing 2 m" in error.reason
    assert count(session, "cameras") == 1 and count(session, "camera_events") == 1
    # the importer refuses the same row with the same words (one check for both)
    with pytest.raises(InvalidData) as imported:
        import_cameras(session, csv_file([near]), district=DISTRICT, min_spacing_m=2.0)
    assert [e.reason for e in imported.value.errors] == [error.reason]
    # a smaller spacing, or none (0, the default), lets it in
    assert add_camera(session, near, actor="ann", district=DISTRICT, min_spacing_m=1.0).version == 1
    assert add_camera(session, row(3, lon=near["lon"], lat=near["lat"]), actor="ann").version == 1


def test_planned_and_active_cameras_count_for_the_spacing_retired_ones_do_not(session):
    from camera_registry.history import add_camera, retire_camera

    add_camera(session, row(1), actor="ann", lifecycle="planned")
    add_camera(session, row(2), actor="ann")
    add_camera(session, row(3), actor="ann")
    retire_camera(session, row(3)["device_id"], "ann", "dismantled")
    for stored in (1, 2):
        lon, lat = _metres_east(float(row(stored)["lon"]), 29.3665, 0.0, 1.0)
        with pytest.raises(InvalidData, match=f"from stored camera {row(stored)['device_id']}"):
            add_camera(session, row(5, lon=f"{lon:.9f}", lat=f"{lat:.9f}"), actor="ann", min_spacing_m=2.0)
    # the retired camera's pole takes its replacement: no duplicate
    lon, lat = _metres_east(float(row(3)["lon"]), 29.3665, 0.0, 1.0)
    cam = add_camera(session, row(6, lon=f"{lon:.9f}", lat=f"{lat:.9f}"), actor="ann", min_spacing_m=2.0)
    assert cam.lifecycle == "active"


def test_spacing_lists_exactly_the_cameras_postgis_finds_within_it_nearest_first(session):
    """Differential: 40 cameras scattered within 6 m; for 10 probes the refusal names exactly those PostGIS
    puts within the spacing (EPSG:4544), nearest first, each with its distance."""
    import numpy as np

    from camera_registry.history import add_camera
    from camera_registry.spacing import check_spacing

    rng = np.random.default_rng(13)
    lon0, lat0 = float(row(1)["lon"]), float(row(1)["lat"])
    for k in range(40):
        lon, lat = _metres_east(lon0, lat0, *rng.uniform(-6, 6, 2))
        add_camera(session, row(k + 1, lon=f"{lon:.9f}", lat=f"{lat:.9f}"), actor="ann")
    for _ in range(10):
        lon, lat = _metres_east(lon0, lat0, *rng.uniform(-5, 5, 2))
        oracle = session.execute(text(
            "SELECT device_id, d FROM (SELECT device_id, ST_Distance(ST_Transform(geom, 4544), "
            "ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), 4326), 4544)) d FROM cameras) q WHERE d <= 2.5 "
            "ORDER BY d"), {"x": lon, "y": lat}).all()
        got = check_spacing(session, None, lon, lat, 2.5)
        assert [(e.field, e.line) for e in got] == [("lon/lat", None)] * len(oracle)
        assert [e.reason for e in got] == [f"only {d:.2f} m from stored camera {did}: probable duplicate "
                                           "(minimum spacing 2.5 m)" for did, d in oracle]
        assert check_spacing(session, None, lon, lat, 0) == []


def test_a_move_closer_than_the_spacing_is_refused_but_not_against_itself(session):
    from camera_registry.history import add_camera

    add_camera(session, row(1), actor="ann", district=DISTRICT)
    moving = add_camera(session, row(3), actor="ann", district=DISTRICT)   # ~19 m east of row 1
    lon, lat = _metres_east(float(row(1)["lon"]), float(row(1)["lat"]), 0.8, -0.9)
    with pytest.raises(InvalidData) as exc:
        update_camera(session, moving.device_id, {"lon": lon, "lat": lat, "azimuth": 10}, expected_version=1,
                      actor="bob", district=DISTRICT, min_spacing_m=2.0)
    (error,) = exc.value.errors
    assert error.field == "lon/lat" and row(1)["device_id"] in error.reason
    assert f"only {_postgis_m(session, row(1)['device_id'], lon, lat):.2f} m" in error.reason
    still = session.get(Camera, moving.device_id, populate_existing=True)
    assert (still.version, still.azimuth) == (1, 90) and count(session, "camera_events") == 2
    # a short move of its own (it is the only camera near where it stood) and a move 2.5 m away are fine
    lon2, lat2 = _metres_east(float(row(3)["lon"]), float(row(3)["lat"]), 0.5)
    assert update_camera(session, moving.device_id, {"lon": lon2, "lat": lat2}, expected_version=1, actor="bob",
                         district=DISTRICT, min_spacing_m=2.0).version == 2
    lon3, lat3 = _metres_east(float(row(1)["lon"]), float(row(1)["lat"]), 2.5)
    assert update_camera(session, moving.device_id, {"lon": lon3, "lat": lat3}, expected_version=2, actor="bob",
                         district=DISTRICT, min_spacing_m=2.0).version == 3
    # an edit that does not move it is not checked (the registry may hold older, closer pairs)
    assert update_camera(session, moving.device_id, {"azimuth": 20}, expected_version=3, actor="bob",
                         min_spacing_m=50.0).version == 4


def test_adopting_a_planned_site_next_to_a_camera_is_refused(session):
    from camera_registry.history import add_camera
    from camera_registry.planned import adopt_site

    add_camera(session, row(1), actor="ann", district=DISTRICT)
    lon, lat = _metres_east(float(row(1)["lon"]), float(row(1)["lat"]), 1.5)
    with pytest.raises(InvalidData) as exc:
        adopt_site(session, lon, lat, range_m=80.0, actor="pat", district=DISTRICT, min_spacing_m=2.0)
    assert [e.field for e in exc.value.errors] == ["lon/lat"] and row(1)["device_id"] in exc.value.errors[0].reason
    assert count(session, "cameras") == 1
    assert adopt_site(session, lon, lat, range_m=80.0, actor="pat", district=DISTRICT, min_spacing_m=1.0).lifecycle \
        == "planned"
