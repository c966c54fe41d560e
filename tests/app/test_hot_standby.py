"""The replica step of docs/scaling.md on a real hot standby: a primary and a streaming replica made from it
by ``pg_basebackup -R`` (two clusters on this machine), the replica as ``database_read_url``. Every page and
endpoint that reads there answers from a server in recovery, writes stay on the primary, and a report made
on the primary reaches what the replica serves."""
from __future__ import annotations

import base64
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from app.config import Settings
from app.db import Database, make_engine
from app.pgcluster import Cluster
from tests.app.dash_helpers import login

ROOT = Path(__file__).resolve().parents[2]
ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:demo-admin-pw").decode()}
REPLAY_WAIT_S = 60


def _wait(engine, sql: str, params: dict, what: str) -> None:
    deadline = time.monotonic() + REPLAY_WAIT_S
    with engine.connect() as conn:
        while not conn.execute(text(sql), params).scalar():
            assert time.monotonic() < deadline, f"{what} within {REPLAY_WAIT_S} s"
            conn.rollback()
            time.sleep(0.05)


def _insert_lsn(primary) -> str:
    # the insert position: with synchronous_commit off (a fast test cluster) a commit may not be written yet
    with primary.connect() as conn:
        return conn.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar()


def _received(primary, standby) -> None:
    """Wait until the standby has received (not necessarily replayed) what the primary has written so far."""
    lsn = _insert_lsn(primary)
    _wait(standby, "SELECT coalesce(pg_last_wal_receive_lsn() >= CAST(:l AS pg_lsn), false)", {"l": lsn},
          f"the standby received {lsn}")


def _replayed(primary, standby) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    lsn = _insert_lsn(primary)
    _wait(standby, "SELECT pg_last_wal_replay_lsn() >= CAST(:l AS pg_lsn)", {"l": lsn}, f"the standby replayed {lsn}")


@pytest.fixture(scope="module")
def pair():
    """(primary engine, standby engine, settings): the demo district on a primary, and its hot standby."""
    from app import migrate
    from app.demo import create_demo_accounts, load_demo
    from tests.settings import TEST_SETTINGS

    primary = Cluster(tempfile.mkdtemp(prefix="gridwatch-test-primary-"), fast=True)
    standby = Cluster(tempfile.mkdtemp(prefix="gridwatch-test-standby-"), fast=True)
    engines = []
    var = Path(tempfile.mkdtemp(prefix="gridwatch-test-standby-var-"))
    try:
        primary.start()
        primary.ensure_database("gridwatch")
        p_engine = make_engine(primary.url())
        engines.append(p_engine)
        migrate.upgrade(p_engine, district_code="510304")
        with Database(p_engine).session() as s:
            load_demo(s, ROOT / "data", settings=TEST_SETTINGS, keep_dates=True)
            create_demo_accounts(s)
        standby.standby_of(primary)  # the replica as docs/scaling.md makes it
        s_engine = make_engine(standby.url(), read_only=True)
        engines.append(s_engine)
        settings = Settings({"var_dir": str(var), "secret_key": "standby", "database_url": primary.url(),
                             "database_read_url": standby.url()}, environ={}, config_file=var / "none.toml")
        # streaming, not only the base backup's own WAL replayed
        _wait(p_engine, "SELECT count(*) = 1 FROM pg_stat_replication WHERE state = 'streaming'", {},
              "the standby streams from the primary")
        _replayed(p_engine, s_engine)
        yield p_engine, s_engine, settings
    finally:
        shutil.rmtree(var, ignore_errors=True)
        for e in engines:
            e.dispose()
        standby.destroy()
        primary.destroy()


@pytest.fixture(scope="module")
def app(pair):
    from app import create_app

    p_engine, s_engine, settings = pair
    application = create_app(settings, database=Database(p_engine, s_engine))
    application.config.update(TESTING=True)
    return application


def test_the_replica_is_a_hot_standby_of_the_primary(pair):
    p_engine, s_engine, _ = pair
    with s_engine.connect() as conn:
        assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar() > 10000
    with p_engine.connect() as conn:
        assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar() is False
        assert conn.execute(text("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")).scalar() == 1


def test_every_read_of_the_read_url_answers_from_the_standby(app, pair):
    """Statistics and their CSVs, the OGC API (HTML, JSON, a computed collection), the cameras by box and
    the blind spots: each a 200 from a server in recovery, where any write would fail."""
    client = app.test_client()
    login(client, "operator")
    for path in ("/dashboard/stats", "/dashboard/stats?period=all", "/api/map/cameras?bbox=104.70,29.30,104.85,29.42"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:300])
    from app.dashboards import stats

    for path in (f"/dashboard/stats/{name}.csv" for name in stats.TABLES):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:300])
    planner = app.test_client()
    login(planner, "planner")
    r = planner.get("/api/map/blind-spots")
    assert r.status_code == 200 and r.get_json()["features"], r.get_data(as_text=True)[:300]
    for path in ("/ogc/collections?f=json", "/ogc/collections/incidents/items?limit=20&f=json",
                 "/ogc/collections/cameras/items?limit=5&f=html", "/ogc/collections/grids/items?limit=5&f=json"):
        r = client.get(path, headers=ADMIN)
        assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:300])
    computed = [c["id"] for c in client.get("/ogc/collections?f=json", headers=ADMIN).get_json()["collections"]
                if c["id"] not in ("incidents", "cameras", "grids")]
    assert computed, "the OGC API lists its computed collections"
    r = client.get(f"/ogc/collections/{computed[0]}/items?limit=5&f=json", headers=ADMIN)
    assert r.status_code == 200, (computed[0], r.status_code, r.get_data(as_text=True)[:300])


def test_a_report_on_the_primary_is_served_by_the_standby_once_replayed(app, pair):
    """With replay paused the OGC API still counts the old incidents (it reads the standby); resumed, the new one."""
    p_engine, s_engine, _ = pair
    client = app.test_client()

    def total() -> int:
        fc = client.get("/ogc/collections/incidents/items?limit=1&f=json", headers=ADMIN)
        assert fc.status_code == 200, fc.get_data(as_text=True)[:300]
        return fc.get_json()["numberMatched"]

    before = total()
    with s_engine.connect() as conn:  # the standby stops replaying: what the API serves stands still
        conn.execute(text("SELECT pg_wal_replay_pause()"))
    try:
        with p_engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO incidents (category_code, source, description, state, grid_code, community_code, geom) "
                "SELECT (SELECT min(code) FROM categories), 'patrol', 'via the standby', 'reported', code, "
                "community_code, ST_PointOnSurface(geom) FROM grids ORDER BY code LIMIT 1"))
        _received(p_engine, s_engine)  # the report has reached the standby, unreplayed
        assert total() == before  # so the answer is the standby's, not the primary's
    finally:
        with s_engine.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_resume()"))
    _replayed(p_engine, s_engine)
    assert total() == before + 1
    with s_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents WHERE description = 'via the standby'")).scalar() == 1


def test_writes_stay_on_the_primary(app, pair):
    """Logging in writes a session and an audit row: on the primary, while the standby refuses any write."""
    p_engine, s_engine, _ = pair
    with p_engine.connect() as conn:
        sessions = conn.execute(text("SELECT count(*) FROM user_sessions")).scalar()
    client = app.test_client()
    login(client, "admin")
    with p_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM user_sessions")).scalar() == sessions + 1
    with s_engine.connect() as conn:
        with pytest.raises(Exception, match="read-only transaction|recovery"):
            conn.execute(text("DELETE FROM user_sessions"))


def test_the_demand_tracker_keeps_nothing_read_on_a_standby(pair):
    """A standby's snapshot lists no transaction running on the primary: a cursor taken there would count a move
    still in flight as seen, and miss it once committed. On the standby the tracker answers afresh, keeps
    nothing, and sees the move once replayed."""
    import numpy as np
    from sqlalchemy.orm import Session

    from app.coverage import service
    from app.coverage.demand import DemandTracker
    from app.layers_db import read_layer
    from gis.crs import METRIC_CRS

    p_engine, s_engine, _ = pair
    tracker = DemandTracker()

    def ask():
        with Session(s_engine) as s:
            targets = read_layer(s, "grids").geometry.to_crs(METRIC_CRS).to_numpy()
            return tracker.demand(s, service.DEMAND_DAYS, service.load_cameras(s, view_only=True), targets,
                                  not_demand=service.NOT_DEMAND_STATES)

    before = ask()
    assert tracker.last[0] == "fresh"
    moved = int(before.ids[~before.seen][0])
    with p_engine.connect() as conn:
        was = conn.execute(text("SELECT geom FROM incidents WHERE id = :i"), {"i": moved}).scalar()
    with p_engine.connect() as writer:  # the move in flight, and a later transaction committed past it
        writer.begin()
        writer.execute(text("UPDATE incidents SET geom = (SELECT geom FROM cameras WHERE lifecycle = 'active' "
                            "AND status = 'ON' ORDER BY device_id LIMIT 1) WHERE id = :i"), {"i": moved})
        with p_engine.begin() as other:
            other.execute(text("UPDATE grids SET name = name WHERE code = (SELECT min(code) FROM grids)"))
        _replayed(p_engine, s_engine)
        assert not ask().seen[np.searchsorted(before.ids, moved)]
        writer.commit()
    _replayed(p_engine, s_engine)
    after = ask()
    assert tracker.last[0] == "fresh" and after.seen[np.searchsorted(after.ids, moved)]
    with p_engine.begin() as conn:  # the module's primary as it was
        conn.execute(text("UPDATE incidents SET geom = :g WHERE id = :i"), {"g": was, "i": moved})
    _replayed(p_engine, s_engine)
