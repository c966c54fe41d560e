"""``gridwatch export LAYER`` reads back through that layer's importer, in every format, with the same values;
a database that is down or lost mid-import is one line and a non-zero exit, with nothing written."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from tests.camera_registry.conftest import row, write_csv

FORMATS = [".csv", ".xlsx", ".geojson", ".gpkg"]

CAMERAS = ("SELECT device_id, name, point_name, programme, point_class, ptz_type, function_types, height_m, azimuth, "
           "fov, vfov, range_m, install_date, management_unit, contact, record_days, address, status, source_crs, "
           "declared_community_code, grid_code, community_code, street_code, round(ST_X(geom)::numeric, 7), "
           "round(ST_Y(geom)::numeric, 7) FROM cameras ORDER BY device_id")
INCIDENTS = ("SELECT external_id, category_code, source, description, address, priority, state, reported_at, "
             "dispatched_at, closed_at, reporter_name, reporter_phone, reporter_email, grid_code, community_code, "
             "deadline, round(ST_X(geom)::numeric, 7), round(ST_Y(geom)::numeric, 7) FROM incidents "
             "ORDER BY external_id")
GRIDS = "SELECT code, name, community_code, households, population, ST_AsBinary(geom) FROM grids ORDER BY code"


def _rows(database, sql):
    with database.Session() as s:
        return s.execute(text(sql)).all()


def _run(database, sql):
    with database.Session() as s:
        s.execute(text(sql))
        s.commit()


@pytest.mark.parametrize("suffix", FORMATS)
def test_cameras_export_reads_back(cli, demo_db, tmp_path, suffix):
    path = tmp_path / f"cameras{suffix}"
    _run(demo_db, "UPDATE cameras SET name = '=HYPERLINK(\"http://evil.example/\",\"点我\")', "
                  "address = '-1+1', contact = '+86 813 1234567' WHERE device_id = (SELECT min(device_id) FROM cameras)")
    original = _rows(demo_db, CAMERAS)
    res = cli(demo_db, "export", "cameras", str(path))
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"{len(original)} cameras")

    res = cli(demo_db, "cameras", "import", str(path))   # into the registry it came from: nothing changes
    assert res.exit_code == 0, res.output
    assert f"unchanged {len(original)}" in res.output and "ignored columns" not in res.output

    _run(demo_db, "DELETE FROM cameras")                  # into an empty registry: every value back
    res = cli(demo_db, "cameras", "import", str(path))
    assert res.exit_code == 0, res.output
    assert f"added {len(original)}" in res.output
    assert _rows(demo_db, CAMERAS) == original


@pytest.fixture
def few_incidents(demo_db):
    """The demo's incidents in every state but only one closed incident in 40 (the import of all 16,000
    takes minutes on a busy machine and tests nothing more)."""
    # TRUNCATE and put the sample back: a DELETE of 15,000 rows checks the self-reference row by row (minutes)
    _run(demo_db, "CREATE TEMP TABLE kept ON COMMIT DROP AS SELECT * FROM incidents WHERE state <> 'closed' "
                  "OR id % 40 = 0; TRUNCATE incidents CASCADE; INSERT INTO incidents SELECT * FROM kept")
    return demo_db


@pytest.mark.parametrize("suffix", FORMATS)
def test_incidents_export_reads_back(cli, few_incidents, tmp_path, suffix):
    demo_db = few_incidents
    path = tmp_path / f"incidents{suffix}"
    _run(demo_db, "UPDATE incidents SET description = E'=cmd|'' /C calc''!A0\\r\\n第二行\\r第三行', reporter_email = '@x' "
                  "WHERE id = (SELECT min(id) FROM incidents)")
    original = _rows(demo_db, INCIDENTS)
    assert "=cmd|' /C calc'!A0\r\n第二行\r第三行" in {r.description for r in original}
    res = cli(demo_db, "export", "incidents", str(path))
    assert res.exit_code == 0, res.output

    res = cli(demo_db, "incidents", "import", str(path))  # the same database: every row already stored
    assert res.exit_code == 0, res.output
    assert f"inserted 0, already stored {len(original)}" in res.output

    _run(demo_db, "DELETE FROM incidents")
    res = cli(demo_db, "incidents", "import", str(path))
    assert res.exit_code == 0, res.output
    assert f"inserted {len(original)}, already stored 0, bad rows skipped 0" in res.output
    assert _rows(demo_db, INCIDENTS) == original


def test_incident_export_names_the_importer_columns(cli, few_incidents, tmp_path):
    demo_db = few_incidents
    import pandas as pd

    from app.incidents.importer import COLUMNS

    cli(demo_db, "export", "incidents", str(tmp_path / "i.csv"))
    header = list(pd.read_csv(tmp_path / "i.csv", nrows=1, encoding="utf-8-sig").columns)
    assert header[:len(COLUMNS)] == list(COLUMNS) and "category" in header and "category_code" not in header


def test_older_exports_with_category_code_are_read(cli, few_incidents, tmp_path):
    demo_db = few_incidents
    import pandas as pd

    cli(demo_db, "export", "incidents", str(tmp_path / "i.csv"))
    old = pd.read_csv(tmp_path / "i.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    old.head(30).rename(columns={"category": "category_code"}).to_csv(tmp_path / "old.csv", index=False)
    _run(demo_db, "DELETE FROM incidents")
    res = cli(demo_db, "incidents", "import", str(tmp_path / "old.csv"))
    assert res.exit_code == 0, res.output
    assert "inserted 30" in res.output
    both = old.head(3).assign(category_code=old["category"].head(3))
    both.to_csv(tmp_path / "both.csv", index=False)
    res = cli(demo_db, "incidents", "import", str(tmp_path / "both.csv"))
    assert res.exit_code == 2 and "two columns name 'category'" in res.output


@pytest.mark.parametrize("suffix", FORMATS)
def test_grids_export_reads_back(cli, demo_db, tmp_path, suffix):
    path = tmp_path / f"grids{suffix}"
    original = _rows(demo_db, GRIDS)
    res = cli(demo_db, "export", "grids", str(path))
    assert res.exit_code == 0, res.output

    res = cli(demo_db, "grids", "import", str(path))
    assert res.exit_code == 0, res.output
    assert f"0 grid(s) added, 0 updated, {len(original)} unchanged" in res.output

    _run(demo_db, "UPDATE grids SET name = 'x', households = 1, population = 2, "
                  "geom = ST_Multi(ST_Buffer(geom, 0.00001)) WHERE code IN (SELECT code FROM grids ORDER BY code LIMIT 5)")
    res = cli(demo_db, "grids", "import", str(path))
    assert res.exit_code == 0, res.output
    assert f"0 grid(s) added, 5 updated, {len(original) - 5} unchanged" in res.output
    assert _rows(demo_db, GRIDS) == original


# -- the database goes away ------------------------------------------------------------------
def _invoke(context, *args):
    from app.cli import main

    return CliRunner().invoke(main, list(args), obj=context, catch_exceptions=False)


def test_database_unavailable_at_start_is_one_line(settings, tmp_path):
    from app.cli import DB_UNAVAILABLE_EXIT, Context

    path = write_csv(tmp_path / "cams.csv", [row(1)])
    gone = settings.replace(database_url=f"postgresql://nobody@/gridwatch?host={tmp_path / 'no-such-socket'}")
    res = _invoke(Context(gone), "cameras", "import", str(path))
    assert res.exit_code == DB_UNAVAILABLE_EXIT != 0
    lines = [ln for ln in res.output.splitlines() if ln.startswith("error")]
    assert len(lines) == 1 and lines[0].startswith("error: database unavailable: ")
    assert "nothing was written; start it with `gridwatch db start` or check DATABASE_URL" in lines[0]
    assert "Traceback" not in res.output


@pytest.fixture
def lost_db(database_factory):
    """A committed database with one street, community and grid over the district, whose connection is
    terminated by the server (``pg_terminate_backend``) as soon as the first chunk of camera revisions is written."""
    from app.db import Database

    engine = database_factory("lost")
    box = "ST_Multi(ST_MakeEnvelope(104.55, 29.20, 105.00, 29.55, 4326))"
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO streets (code, name, kind, geom) VALUES ('510304001', '街道', 'street', {box})"))
        conn.execute(text("INSERT INTO communities (code, name, street_code, geom) "
                          f"VALUES ('510304001001', '社区', '510304001', {box})"))
        conn.execute(text("INSERT INTO grids (code, name, community_code, geom) "
                          f"VALUES ('510304001001001', '网格', '510304001001', {box})"))
        conn.execute(text("CREATE FUNCTION kill_me() RETURNS trigger LANGUAGE plpgsql AS "
                          "$$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$"))
        conn.execute(text("CREATE TRIGGER kill_me AFTER INSERT ON camera_revisions "
                          "FOR EACH STATEMENT EXECUTE FUNCTION kill_me()"))
    return Database(engine)


def test_database_lost_mid_import_is_one_line_and_writes_nothing(settings, lost_db, tmp_path):
    from app.cli import DB_UNAVAILABLE_EXIT, Context

    path = write_csv(tmp_path / "cams.csv", [row(k) for k in range(1, 1201)])   # 3 chunks of 500
    context = Context(settings)
    context._db = lost_db
    res = _invoke(context, "cameras", "import", str(path))
    assert res.exit_code == DB_UNAVAILABLE_EXIT
    lines = [ln for ln in res.output.splitlines() if ln.startswith("error")]
    assert len(lines) == 1 and "database unavailable: " in lines[0] and "terminating connection" in lines[0]
    assert "Traceback" not in res.output and "OperationalError" not in res.output
    with lost_db.engine.connect() as conn:   # the pool hands out a fresh connection
        counts = [conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                  for t in ("cameras", "camera_events", "camera_revisions")]
    assert counts == [0, 0, 0]
