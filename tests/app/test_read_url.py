"""The replica step of docs/scaling.md: ``database_read_url`` sends the read-only queries (statistics, OGC API
reads) to a second connection URL, read-only there, while every write stays on the primary."""
from __future__ import annotations

import base64

import pytest
from sqlalchemy import exc, text

from app.config import Settings
from app.db import Database, make_engine
from tests.app.dash_helpers import lead_grid  # noqa: F401  (fixture)

ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:demo-admin-pw").decode()}


@pytest.fixture(scope="module")
def replica_engine(database_factory):
    """A second database standing in for a replica: migrated, no district loaded, opened read-only."""
    eng = database_factory("replica")
    return make_engine(eng.url.render_as_string(hide_password=False), read_only=True)


def test_a_read_only_engine_refuses_writes(replica_engine):
    with replica_engine.connect() as conn:
        assert conn.execute(text("SHOW default_transaction_read_only")).scalar() == "on"
        with pytest.raises(exc.InternalError, match="read-only transaction"):
            conn.execute(text("INSERT INTO stats_zone (id, zone) VALUES (1, 'UTC') ON CONFLICT DO NOTHING"))


def test_the_setting_makes_a_second_read_only_engine(tmp_path, replica_engine):
    url = replica_engine.url.render_as_string(hide_password=False)
    s = Settings({"var_dir": str(tmp_path), "secret_key": "x", "database_url": url, "database_read_url": url},
                 environ={}, config_file=tmp_path / "none.toml")
    db = Database.from_settings(s)
    try:
        assert db.ReadSession is not db.Session and db.read_bind is not db.bind
        with db.ReadSession() as rs:
            assert rs.execute(text("SHOW default_transaction_read_only")).scalar() == "on"
        with db.Session() as ws:
            assert ws.execute(text("SHOW default_transaction_read_only")).scalar() == "off"
    finally:
        db.bind.dispose()
        db.read_bind.dispose()
    without = Database.from_settings(Settings({"var_dir": str(tmp_path), "secret_key": "x", "database_url": url},
                                              environ={}, config_file=tmp_path / "none.toml"))
    assert without.ReadSession is without.Session
    without.bind.dispose()


def test_ogc_reads_come_from_the_read_url_and_writes_stay_on_the_primary(settings, demo_db, replica_engine,
                                                                        lead_grid):  # noqa: F811
    """The primary has the demo's grids, the stand-in replica none: what the OGC API lists is the replica's;
    logging in (a write: the session row, the audit) still works, on the primary."""
    from app import create_app

    with demo_db.Session() as s:
        grids = s.execute(text("SELECT count(*) FROM grids")).scalar()
    assert grids > 0
    app = create_app(settings, database=Database(demo_db.bind, replica_engine))
    app.config.update(TESTING=True)
    client = app.test_client()
    fc = client.get("/ogc/collections/grids/items?limit=10", headers=ADMIN)
    assert fc.status_code == 200, fc.get_data(as_text=True)[:300]
    assert fc.get_json()["numberMatched"] == 0
    primary = create_app(settings, database=demo_db)
    primary.config.update(TESTING=True)
    fc = primary.test_client().get("/ogc/collections/grids/items?limit=10", headers=ADMIN)
    assert fc.get_json()["numberMatched"] == grids


def test_an_empty_district_lists_no_grids_rather_than_failing(engine):
    """Found by the replica test: the coverage figures of no grids at all were a KeyError (a 500)."""
    from app.coverage.service import coverage_report

    with Database(engine).Session() as s:
        report = coverage_report(s)
    assert len(report) == 0 and {"ratio", "seen_share"} <= set(report.columns)
