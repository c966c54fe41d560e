"""The demand kept between requests (``app.coverage.demand``): after every kind of write (a report, a move, a void,
a delete, a report in flight, a newer incident moving the period, a camera turned, other areas) its answer equals
the one computed afresh (``service.demand_incidents`` read again, ``gis.coverage.seen_mask`` and ``first_area``
asked of every incident), and it read again only what changed. Real transactions on a committed demo copy."""
from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.coverage import service
from app.coverage.demand import DemandTracker
from gis import coverage
from gis.crs import METRIC_CRS

DAYS = service.DEMAND_DAYS
NEW_INCIDENT = (
    "INSERT INTO incidents (category_code, source, description, state, grid_code, community_code, geom, reported_at) "
    "SELECT (SELECT min(code) FROM categories), 'patrol', 'demand tracker', 'reported', code, community_code, "
    "ST_PointOnSurface(geom), (SELECT max(reported_at) FROM incidents) + make_interval(secs => :later) "
    "FROM grids ORDER BY code LIMIT 1 RETURNING id")


@pytest.fixture(scope="module")
def engine(demo_copy):
    return demo_copy("demand_tracker")


def _targets(s: Session, layer: str = "grids") -> np.ndarray:
    from app.layers_db import read_layer

    return read_layer(s, layer).geometry.to_crs(METRIC_CRS).to_numpy()


def _fresh(s: Session, targets: np.ndarray):
    """The oracle: every demand incident read and asked again."""
    cams = service.load_cameras(s, view_only=True)
    d = service.demand_incidents(s, DAYS, metric=True)
    return (d["code"].to_numpy(), coverage.seen_mask(cams, d.geometry),
            coverage.first_area(targets, d.geometry.to_numpy()))


def _ask(tracker: DemandTracker, engine, layer: str = "grids"):
    """The tracker's answer and the oracle's, in one read-only transaction (the same data for both)."""
    with Session(engine) as s:
        s.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        targets = _targets(s, layer)
        got = tracker.demand(s, DAYS, service.load_cameras(s, view_only=True), targets,
                             not_demand=service.NOT_DEMAND_STATES)
        want = _fresh(s, targets)
    assert got is not None
    assert np.array_equal(got.ids, want[0])
    assert np.array_equal(got.seen, want[1])
    assert np.array_equal(got.area, want[2])
    return got


def _sql(engine, sql: str, **params):
    with engine.begin() as conn:
        result = conn.execute(text(sql), params)
        return result.all() if result.returns_rows else result.rowcount


def test_the_kept_demand_equals_a_fresh_read_after_every_kind_of_write(engine):
    tracker = DemandTracker()
    first = _ask(tracker, engine)
    assert tracker.last[0] == "built" and tracker.last[1] >= len(first.ids) > 1000  # voided ones held too
    assert first.seen.any() and not first.seen.all() and (first.area >= 0).all()
    _ask(tracker, engine)
    assert tracker.last == ("updated", 0)  # nothing changed: nothing read

    (new,), = _sql(engine, NEW_INCIDENT, later=0)  # a report
    got = _ask(tracker, engine)
    assert tracker.last == ("updated", 1) and new in got.ids

    # a move into a camera's view and one out of every view
    unseen = int(first.ids[~first.seen][0])
    seen = int(first.ids[first.seen][0])
    _sql(engine, "UPDATE incidents SET geom = (SELECT geom FROM cameras WHERE lifecycle = 'active' "
                 "AND status = 'ON' ORDER BY device_id LIMIT 1) WHERE id = :i", i=unseen)
    _sql(engine, "UPDATE incidents SET geom = ST_SetSRID(ST_MakePoint(104.5, 29.0), 4326) WHERE id = :i", i=seen)
    got = _ask(tracker, engine)
    assert tracker.last == ("updated", 2)
    assert got.seen[np.searchsorted(got.ids, unseen)] and not got.seen[np.searchsorted(got.ids, seen)]
    assert got.area[np.searchsorted(got.ids, seen)] == -1  # outside every grid now

    # voided: no demand
    _sql(engine, "UPDATE incidents SET state = 'voided' WHERE id = :i", i=new)
    got = _ask(tracker, engine)
    assert tracker.last == ("updated", 1) and new not in got.ids

    # a delete: no cursor finds it, the count does, and everything is read again
    victim = int(first.ids[len(first.ids) // 2])
    _sql(engine, "DELETE FROM incidents WHERE id = :i", i=victim)
    got = _ask(tracker, engine)
    assert tracker.last[0] == "built" and victim not in got.ids


def test_a_report_in_flight_is_found_once_it_commits(engine):
    tracker = DemandTracker()
    _ask(tracker, engine)
    with engine.connect() as writer:
        writer.begin()
        (new,) = writer.execute(text(NEW_INCIDENT), {"later": 0}).one()
        got = _ask(tracker, engine)  # the cursor taken now has the writer running
        assert new not in got.ids
        writer.commit()
    got = _ask(tracker, engine)
    assert tracker.last == ("updated", 1) and new in got.ids
    _sql(engine, "DELETE FROM incidents WHERE id = :i", i=new)


def test_a_newer_incident_moves_the_period_and_its_delete_moves_it_back(engine):
    tracker = DemandTracker()
    before = _ask(tracker, engine)
    (new,), = _sql(engine, NEW_INCIDENT, later=200 * 86400)  # 200 days after the newest: the period moves on
    moved = _ask(tracker, engine)
    assert tracker.last == ("updated", 1)
    assert new in moved.ids and len(moved.ids) < len(before.ids)  # the older part of the period left it
    # back among the old ones: no row went away, but the period starts before the raised floor again
    _sql(engine, "UPDATE incidents SET reported_at = (SELECT min(reported_at) FROM incidents) WHERE id = :i", i=new)
    back = _ask(tracker, engine)
    assert tracker.last[0] == "built"
    assert np.array_equal(back.ids, np.union1d(before.ids, [new]))  # the whole demo is one period
    _sql(engine, "DELETE FROM incidents WHERE id = :i", i=new)


def test_cameras_and_areas_are_asked_again_not_the_incidents(engine):
    tracker = DemandTracker()
    before = _ask(tracker, engine)
    (dev, az), = _sql(engine, "SELECT device_id, azimuth FROM cameras WHERE lifecycle = 'active' AND status = 'ON' "
                              "AND azimuth IS NOT NULL AND fov < 180 ORDER BY device_id LIMIT 1")
    on = [d for d, in _sql(engine, "SELECT device_id FROM cameras WHERE status = 'ON'")]
    try:
        _sql(engine, "UPDATE cameras SET azimuth = mod(CAST(azimuth AS numeric) + 180, 360) WHERE device_id = :d",
             d=dev)
        turned = _ask(tracker, engine)
        assert tracker.last == ("updated", 0)  # no incident read again; seen asked again of all
        _sql(engine, "UPDATE cameras SET status = 'OFF' WHERE status = 'ON'")
        dark = _ask(tracker, engine)
        assert not dark.seen.any() and before.seen.any()
        assert not np.array_equal(turned.seen, dark.seen)
    finally:
        _sql(engine, "UPDATE cameras SET status = 'ON' WHERE device_id = ANY(:on)", on=on)
        _sql(engine, "UPDATE cameras SET azimuth = :a WHERE device_id = :d", a=az, d=dev)
    by_community = _ask(tracker, engine, "communities")
    assert tracker.last == ("updated", 0)
    assert by_community.area.max() < len(_sql(engine, "SELECT code FROM communities"))
    assert np.array_equal(_ask(tracker, engine).seen, before.seen)


def test_a_transaction_that_wrote_is_answered_afresh_and_kept_nothing(engine):
    """Its own writes are no changes to its own snapshot: a move it made would be missed, and kept after a
    rollback, if the tracker used or kept what such a transaction reads."""
    tracker = DemandTracker()
    before = _ask(tracker, engine)
    moved = int(before.ids[~before.seen][0])
    with Session(engine) as s:
        s.execute(text("UPDATE incidents SET geom = (SELECT geom FROM cameras WHERE lifecycle = 'active' "
                       "AND status = 'ON' ORDER BY device_id LIMIT 1) WHERE id = :i"), {"i": moved})
        targets = _targets(s)
        got = tracker.demand(s, DAYS, service.load_cameras(s, view_only=True), targets,
                             not_demand=service.NOT_DEMAND_STATES)
        assert tracker.last[0] == "fresh"  # its own move counts, in its own transaction
        assert got.seen[np.searchsorted(got.ids, moved)]
        want = _fresh(s, targets)
        assert np.array_equal(got.seen, want[1]) and np.array_equal(got.area, want[2])
        s.rollback()
    got = _ask(tracker, engine)  # the rolled-back move was never kept
    assert not got.seen[np.searchsorted(got.ids, moved)]


def test_another_database_under_the_same_tracker_is_read_on_its_own(engine, demo_copy):
    tracker = DemandTracker()
    a = _ask(tracker, engine)
    other = demo_copy("demand_tracker_other")
    _sql(other, "DELETE FROM incidents WHERE id IN (SELECT id FROM incidents ORDER BY id LIMIT 10)")
    b = _ask(tracker, other)
    assert tracker.last[0] == "built" and len(b.ids) != len(a.ids)
    _ask(tracker, engine)
    assert tracker.last == ("updated", 0)


def test_the_coverage_report_counts_as_the_fresh_path(engine, tmp_path):
    """The report through the tracker (a period) equals per-area counts of the oracle's incidents."""
    with Session(engine) as s:
        cov = service.coverage_report(s, by="grid", cache_dir=tmp_path)
        ids, seen, area = _fresh(s, _targets(s))
    total, hits, _share = coverage.area_counts(area, seen, len(cov))
    assert cov["incidents"].tolist() == total.tolist() and cov["seen_incidents"].tolist() == hits.tolist()
    assert cov["incidents"].sum() == (area >= 0).sum() > 0
    assert np.array_equal(cov.attrs["demand_seen"].ids, ids)


def test_a_snapshot_older_than_the_kept_one_is_not_told_of_writes_it_cannot_see(engine):
    """A REPEATABLE READ transaction takes its snapshot; a void commits and another request brings the tracker
    past it; the old transaction then asks: its answer is its own snapshot's (the void not yet seen)."""
    tracker = DemandTracker()
    before = _ask(tracker, engine)
    victim = int(before.ids[len(before.ids) // 3])
    (state,), = _sql(engine, "SELECT state FROM incidents WHERE id = :i", i=victim)
    with Session(engine) as old:
        old.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        old.execute(text("SELECT 1")).one()  # the snapshot is taken here
        _sql(engine, "UPDATE incidents SET state = 'voided' WHERE id = :i", i=victim)
        newer = _ask(tracker, engine)
        assert tracker.last == ("updated", 1) and victim not in newer.ids
        targets = _targets(old)
        got = tracker.demand(old, DAYS, service.load_cameras(old, view_only=True), targets,
                             not_demand=service.NOT_DEMAND_STATES)
        want = _fresh(old, targets)
        assert victim in want[0] and np.array_equal(got.ids, want[0])
        assert np.array_equal(got.seen, want[1]) and np.array_equal(got.area, want[2])
    got = _ask(tracker, engine)  # and the request after it is told of the void again
    assert victim not in got.ids
    _sql(engine, "UPDATE incidents SET state = :s WHERE id = :i", s=state, i=victim)
