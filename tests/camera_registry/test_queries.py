"""Registry queries on the demo district against independent oracles (PostGIS ST_Covers, pyproj Geod)."""
from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod
from sqlalchemy import text

from camera_registry import queries
from gis.errors import InvalidData


def _ids(frame):
    return sorted(frame["device_id"])


def test_by_area_matches_postgis_covers(demo_session):
    grid, comm, street = demo_session.execute(text(
        "SELECT g.code, g.community_code, c.street_code FROM grids g JOIN communities c ON c.code = g.community_code "
        "JOIN cameras k ON k.grid_code = g.code GROUP BY 1, 2, 3 ORDER BY count(*) DESC LIMIT 1")).one()
    oracle = {
        "grid": ("SELECT k.device_id FROM cameras k JOIN grids a ON ST_Covers(a.geom, k.geom) WHERE a.code = :c", grid),
        "community": ("SELECT k.device_id FROM cameras k JOIN communities a ON ST_Covers(a.geom, k.geom) "
                      "WHERE a.code = :c", comm),
        "street": ("SELECT k.device_id FROM cameras k JOIN streets a ON ST_Covers(a.geom, k.geom) WHERE a.code = :c",
                   street),
    }
    for kind, (sql, code) in oracle.items():
        expected = sorted(demo_session.execute(text(sql), {"c": code}).scalars())
        frame = queries.cameras(demo_session, **{kind: code})
        assert _ids(frame) == expected and len(expected) > 0, kind
        assert frame.crs.to_epsg() == 4326 and (frame.geometry.geom_type == "Point").all()
    assert _ids(queries.cameras_by_grid(demo_session, grid)) == _ids(queries.cameras(demo_session, grid=grid))
    assert _ids(queries.cameras_by_street(demo_session, street)) == _ids(queries.cameras(demo_session, street=street))


def test_by_attribute_accepts_every_spelling(demo_session):
    everything = queries.cameras(demo_session)
    assert len(everything) == 471
    assert len(queries.cameras_by_programme(demo_session, "天网")) == 371
    assert _ids(queries.cameras_by_programme(demo_session, "雪亮工程")) == \
        sorted(everything.loc[everything.programme == "xueliang", "device_id"])
    assert _ids(queries.cameras_by_status(demo_session, "离线")) == \
        sorted(everything.loc[everything.status == "OFF", "device_id"])
    assert _ids(queries.cameras_by_class(demo_session, "一类")) == \
        sorted(everything.loc[everything.point_class == 1, "device_id"])
    both = queries.cameras(demo_session, programme="skynet", point_class=2, status="ON")
    mask = (everything.programme == "skynet") & (everything.point_class == 2) & (everything.status == "ON")
    assert _ids(both) == sorted(everything.loc[mask, "device_id"]) and len(both) > 0
    with pytest.raises(InvalidData, match="is not a programme"):
        queries.cameras(demo_session, programme="天眼")


def test_cameras_within_matches_brute_force_geodesic_distance(demo_session):
    everything = queries.cameras(demo_session)
    lon, lat = float(everything.geometry.x.median()), float(everything.geometry.y.median())
    _, _, dist = Geod(ellps="WGS84").inv(np.full(len(everything), lon), np.full(len(everything), lat),
                                         everything.geometry.x.to_numpy(), everything.geometry.y.to_numpy())
    for radius in (50.0, 300.0, 1500.0):
        got = queries.cameras_within(demo_session, lon, lat, radius)
        inside = dist <= radius
        # points within 1 mm of the circle may fall either way between the two geodesic codes
        assert set(got["device_id"]) ^ set(everything.loc[inside, "device_id"]) <= \
            set(everything.loc[np.abs(dist - radius) < 1e-3, "device_id"])
        expected = dict(zip(everything["device_id"], dist))
        assert np.allclose(got["distance_m"], [expected[d] for d in got["device_id"]], atol=1e-3)
        assert list(got["distance_m"]) == sorted(got["distance_m"])
    assert len(queries.cameras_within(demo_session, lon, lat, 1500.0)) > len(queries.cameras_within(
        demo_session, lon, lat, 300.0)) > 0
    with pytest.raises(InvalidData):
        queries.cameras_within(demo_session, lon, lat, -1)


def test_counts_per_grid_and_community(demo_session):
    grids = queries.counts_per_grid(demo_session)
    assert len(grids) == demo_session.execute(text("SELECT count(*) FROM grids")).scalar()
    oracle = dict(demo_session.execute(text(
        "SELECT g.code, count(k.device_id) FROM grids g LEFT JOIN cameras k ON ST_Covers(g.geom, k.geom) "
        "GROUP BY g.code")).all())
    assert dict(zip(grids["code"], grids["cameras"])) == oracle
    assert (grids["online"] <= grids["cameras"]).all() and (grids["cameras"] == 0).any()
    comms = queries.counts_per_community(demo_session)
    assert len(comms) == 34 and comms["cameras"].sum() == 471
    assert comms["skynet"].sum() == 371


def test_cameras_outside_declared_community(demo_session):
    # oracle: the community named by the management unit, against the geocoded community of the position
    names = dict(demo_session.execute(text("SELECT name, code FROM communities")).all())
    rows = demo_session.execute(text("SELECT device_id, management_unit, community_code FROM cameras")).all()
    expected = sorted(d for d, unit, where in rows if unit in names and names[unit] != where)
    got = queries.cameras_outside_declared_community(demo_session)
    assert sorted(got["device_id"]) == expected
    # plant one: a Skynet camera whose record declares a community it does not stand in
    dev, where = demo_session.execute(text("SELECT device_id, community_code FROM cameras WHERE programme = 'skynet' "
                                           "ORDER BY device_id LIMIT 1")).one()
    other = demo_session.execute(text("SELECT code FROM communities WHERE code <> :c ORDER BY code LIMIT 1"),
                                 {"c": where}).scalar()
    demo_session.execute(text("UPDATE cameras SET declared_community_code = :o WHERE device_id = :d"),
                         {"o": other, "d": dev})
    got = queries.cameras_outside_declared_community(demo_session)
    planted = got.loc[got.device_id == dev].iloc[0]
    assert (planted.declared_code, planted.declared_by, planted.community_code) == (other, "record", where)
    # declaring where it stands is fine
    demo_session.execute(text("UPDATE cameras SET declared_community_code = :o WHERE device_id = :d"),
                         {"o": where, "d": dev})
    assert dev not in set(queries.cameras_outside_declared_community(demo_session)["device_id"])


def test_timeline_pairs_two_changes_of_one_transaction_stamped_alike(demo_session):
    from camera_registry.history import set_status, update_camera

    did, version, azimuth, status = demo_session.execute(text(
        "SELECT device_id, version, azimuth, status FROM cameras WHERE lifecycle = 'active' AND status = 'ON' "
        "AND azimuth IS NOT NULL ORDER BY device_id LIMIT 1")).one()
    last_event = demo_session.execute(text("SELECT max(id) FROM camera_events")).scalar()
    last_rev = demo_session.execute(text("SELECT max(id) FROM camera_revisions")).scalar()
    new_az = (azimuth + 30) % 360
    update_camera(demo_session, did, {"azimuth": new_az}, expected_version=version, actor="t")
    set_status(demo_session, did, "OFF", "t", note="power cut")

    def newest_two():
        return [(e["event"], e["version"], [c[0] for c in e["changes"]]) for e in queries.timeline(demo_session, did)[:2]]

    want = [("OFF", version + 2, ["status"]), ("UPDATE", version + 1, ["azimuth"])]
    assert newest_two() == want
    # the same two changes stamped with one time (the columns' default, the transaction's now()): still paired
    demo_session.execute(text("UPDATE camera_events SET at = now() WHERE device_id = :d AND id > :i"),
                         {"d": did, "i": last_event})
    demo_session.execute(text("UPDATE camera_revisions SET at = now() WHERE device_id = :d AND id > :i"),
                         {"d": did, "i": last_rev})
    assert demo_session.execute(text("SELECT count(DISTINCT at) FROM camera_events WHERE device_id = :d AND id > :i"),
                                {"d": did, "i": last_event}).scalar() == 1
    assert newest_two() == want
    status_change = queries.timeline(demo_session, did)[0]["changes"]
    assert ("status", status, "OFF") in status_change
