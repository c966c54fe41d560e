"""Camera re-import behaviours that mutation testing found unpinned: what counts as a move (8-decimal
rounding does not, a change of latitude alone does), and blank programme/status cells on stored cameras."""
from __future__ import annotations

import numpy as np
from sqlalchemy import text

from camera_registry.importer import import_cameras
from gis.crs import wgs84_to_gcj02

from tests.settings import DISTRICT

from .conftest import count, row, write_csv

ID = row(1)["device_id"]


def _import(session, path, **kw):
    return import_cameras(session, path, district=DISTRICT, **kw)


def _stored(session, device_id=ID):
    return session.execute(text(
        "SELECT ST_X(geom), ST_Y(geom), version, status, programme, contact, source_crs, grid_code, community_code "
        "FROM cameras WHERE device_id = :d"), {"d": device_id}).one()


def _history(session):
    return count(session, "camera_events"), count(session, "camera_revisions")


def test_rounding_at_the_8th_decimal_is_not_a_move_but_2_mm_is(session, tmp_path):
    """Exports write lon/lat with 8 decimals (≈ 1 mm): reading such a file back must change nothing,
    and the stored position keeps its full precision. A shift of 2e-8° (≈ 2 mm) is a move."""
    lon, lat = 104.771412345678, 29.366512345678
    _import(session, write_csv(tmp_path / "a.csv", [row(1, lon=repr(lon), lat=repr(lat))]))
    before = _history(session)
    rounded = write_csv(tmp_path / "b.csv", [row(1, lon=f"{lon:.8f}", lat=f"{lat:.8f}")])
    assert f"{lon:.8f}" != repr(lon) and abs(float(f"{lat:.8f}") - lat) > 0
    report = _import(session, rounded)
    assert (report.updated, report.unchanged) == (0, 1)
    assert _history(session) == before
    assert _stored(session)[:3] == (lon, lat, 1)          # not even rewritten with the rounded value
    # 2 mm, in either coordinate alone: a move, with its event and revision (literal values: the test
    # pins the intent, ≈ 1 mm, not whatever the tolerance constant says)
    for k, (dlon, dlat) in enumerate([(2e-8, 0.0), (0.0, 2e-8)]):
        moved = write_csv(tmp_path / f"m{k}.csv", [row(1, lon=repr(lon + dlon), lat=repr(lat + dlat))])
        assert _import(session, moved).updated == 1
        lon, lat = lon + dlon, lat + dlat
        assert _stored(session)[:3] == (lon, lat, 2 + k)
    assert _history(session) == (before[0] + 2, before[1] + 2)


def test_a_move_in_latitude_only_is_a_move(session, tmp_path):
    base = row(1)
    _import(session, write_csv(tmp_path / "a.csv", [base]))
    old_lon, old_lat = _stored(session)[:2]
    north = f"{float(base['lat']) + 1e-4:.7f}"                # ≈ 11 m north, longitude untouched
    report = _import(session, write_csv(tmp_path / "b.csv", [row(1, lat=north)]))
    assert (report.updated, report.unchanged) == (1, 0)
    lon, lat, version = _stored(session)[:3]
    assert (lon, lat, version) == (old_lon, float(north), 2)
    event = session.execute(text("SELECT event, note FROM camera_events WHERE event <> 'ADD'")).one()
    assert event[0] == "UPDATE" and event[1] == "b.csv: changed position"
    rev = session.execute(text("SELECT data FROM camera_revisions WHERE version = 2")).scalar_one()
    assert (rev["lon"], rev["lat"], rev["version"]) == (old_lon, float(north), 2)


def test_a_move_rederives_grid_codes_and_provenance_an_unmoved_row_keeps_them(session, tmp_path):
    """Codes and ``source_crs`` describe the position: they follow a move (here in latitude only) and
    stay when the position does, even if the file was given in another CRS."""
    def locate(lon, lat):          # a stand-in locator: north of 29.3666 is another grid and community
        north = np.asarray(lat) > 29.3666
        return (np.where(north, "510304001002001", "510304001001001").astype(object),
                np.where(north, "510304001002", "510304001001").astype(object))

    _import(session, write_csv(tmp_path / "a.csv", [row(1)]), locate=locate)
    assert _stored(session)[6:] == ("wgs84", "510304001001001", "510304001001")
    # the same position given in GCJ-02: nothing changes, provenance included
    glon, glat = wgs84_to_gcj02(float(row(1)["lon"]), float(row(1)["lat"]))
    same = write_csv(tmp_path / "same.csv", [row(1, lon=repr(glon), lat=repr(glat))])
    assert _import(session, same, crs="gcj02", locate=locate).unchanged == 1
    assert _stored(session)[2] == 1 and _stored(session)[6] == "wgs84"
    # moved north in GCJ-02: new grid, community, street, and the new provenance
    glon, glat = wgs84_to_gcj02(float(row(1)["lon"]), 29.3667)
    north = write_csv(tmp_path / "north.csv", [row(1, lon=repr(glon), lat=repr(glat))])
    assert _import(session, north, crs="gcj02", locate=locate).updated == 1
    got = session.execute(text("SELECT source_crs, grid_code, community_code, street_code, version "
                               "FROM cameras")).one()
    assert got == ("gcj02", "510304001002001", "510304001002", "510304001", 2)


def test_blank_programme_or_status_keeps_the_stored_value(session, tmp_path):
    """The two columns that cannot be empty: a blank cell on a stored camera keeps what is stored (as
    the module documents), it is neither refused nor reset to the default; other blank cells clear."""
    _import(session, write_csv(tmp_path / "a.csv", [row(1, status="OFF", programme="xueliang", point_class="2")]))
    before = _history(session)
    blank = write_csv(tmp_path / "b.csv", [row(1, status="", programme="", point_class="2")])
    report = _import(session, blank)
    assert (report.updated, report.unchanged, report.rejected, report.errors) == (0, 1, 0, [])
    assert _stored(session)[2:5] == (1, "OFF", "xueliang")
    assert _history(session) == before
    # a blank in a column that may be empty is a change: it clears the value (one event, one revision)
    cleared = write_csv(tmp_path / "c.csv", [row(1, status="", programme="", point_class="2", contact="")])
    assert _import(session, cleared).updated == 1
    assert _stored(session)[2:6] == (2, "OFF", "xueliang", None)
    note = session.execute(text("SELECT note FROM camera_events WHERE event = 'UPDATE'")).scalar_one()
    assert note == "c.csv: changed contact"


def test_blank_programme_or_status_on_a_new_camera_takes_the_default(session, tmp_path):
    report = _import(session, write_csv(tmp_path / "a.csv", [row(2, status="", programme="")]))
    assert report.added == 1
    assert _stored(session, row(2)["device_id"])[3:5] == ("ON", "skynet")


def test_a_status_only_change_is_recorded_as_that_status(session, tmp_path):
    _import(session, write_csv(tmp_path / "a.csv", [row(1)]))
    _import(session, write_csv(tmp_path / "b.csv", [row(1, status="DEFECT")]))
    _import(session, write_csv(tmp_path / "c.csv", [row(1, status="ON", azimuth="100")]))
    events = session.execute(text("SELECT event, note FROM camera_events ORDER BY at, id")).all()
    assert events == [("ADD", "imported from a.csv"), ("DEFECT", "b.csv: changed status"),
                      ("UPDATE", "c.csv: changed azimuth, status")]
