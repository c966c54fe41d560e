"""Bulk incident import: every bad row reported, reject vs skip, idempotency, timelines, other formats."""
from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from sqlalchemy import text

from app.incidents.importer import import_incidents
from app.incidents.models import DESCRIPTION_MAX
from gis.errors import InvalidData
from tests.settings import TEST_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo" / "incidents.csv"


def _demo_rows(n: int) -> list[dict]:
    with open(DEMO, encoding="utf-8") as fh:
        rows = [r for _, r in zip(range(n), csv.DictReader(fh))]
    for r in rows:
        r["external_id"] = "T-" + r["external_id"]
    return rows


def _write(path: Path, rows: list[dict]) -> Path:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, cols)
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture
def bad_file(tmp_path):
    rows = _demo_rows(12)
    rows[1]["category"] = "potholes"                                 # line 3
    rows[2]["source"] = "fax"                                        # line 4
    rows[3]["reported_at"] = "32/13/2025"                            # line 5
    rows[4]["lon"], rows[4]["lat"] = rows[4]["lat"], rows[4]["lon"]  # line 6: swapped
    rows[5]["external_id"] = rows[0]["external_id"]                  # line 7: duplicate id
    rows[6].update(state="closed", closed_at="")                     # line 8
    rows[7].update(lon="116.4", lat="39.9")                          # line 9: Beijing
    rows[8].update(state="dispatched", closed_at="2025-01-05T00:00:00+08:00")  # line 10
    return _write(tmp_path / "bad.csv", rows), rows


def _count(session, prefix="T-"):
    return session.execute(text("SELECT count(*) FROM incidents WHERE external_id LIKE :p"),
                           {"p": prefix + "%"}).scalar()


def test_reject_reports_every_bad_row_and_writes_nothing(demo_session, bad_file):
    path, _ = bad_file
    with pytest.raises(InvalidData) as err:
        import_incidents(demo_session, path, settings=TEST_SETTINGS)
    got = {(e.line, e.field) for e in err.value.errors}
    assert got == {(3, "category"), (4, "source"), (5, "reported_at"), (6, "lon/lat"), (7, "external_id"),
                   (8, "closed_at"), (9, "lon/lat"), (10, "closed_at")}
    assert "swapped" in next(e.reason for e in err.value.errors if e.line == 6)
    assert _count(demo_session) == 0


def test_skip_writes_good_rows_and_is_idempotent(demo_session, bad_file):
    path, rows = bad_file
    report = import_incidents(demo_session, path, on_error="skip", settings=TEST_SETTINGS)
    assert (report.rows, report.inserted, report.existing, report.rejected) == (12, 4, 0, 8)
    good = [rows[i]["external_id"] for i in (0, 9, 10, 11)]
    stored = demo_session.execute(text(
        "SELECT external_id, state, grid_code, deadline, dispatched_at, reported_at, closed_at FROM incidents "
        "WHERE external_id LIKE 'T-%' ORDER BY external_id")).all()
    assert [r[0] for r in stored] == sorted(good)
    for r in stored:
        oracle = demo_session.execute(text(
            "SELECT g.code FROM grids g JOIN incidents i ON ST_Covers(g.geom, i.geom) WHERE i.external_id = :e"),
            {"e": r[0]}).scalar()
        assert r.grid_code == oracle
        if r.state == "closed":
            assert r.dispatched_at == r.reported_at and r.deadline > r.dispatched_at
    again = import_incidents(demo_session, path, on_error="skip", settings=TEST_SETTINGS)
    assert (again.inserted, again.existing) == (0, 4) and _count(demo_session) == 4


def test_timeline_replays_to_the_stored_state(demo_session, tmp_path):
    rows = _demo_rows(40)
    import_incidents(demo_session, _write(tmp_path / "ok.csv", rows), settings=TEST_SETTINGS)
    bad = demo_session.execute(text(
        "SELECT i.external_id FROM incidents i WHERE i.external_id LIKE 'T-%' AND i.state IS DISTINCT FROM "
        "(SELECT e.to_state FROM incident_events e WHERE e.incident_id = i.id ORDER BY e.at DESC, e.id DESC LIMIT 1)"
    )).scalars().all()
    assert bad == []
    first = demo_session.execute(text(
        "SELECT count(*) FROM incidents i WHERE i.external_id LIKE 'T-%' AND NOT EXISTS (SELECT 1 FROM "
        "incident_events e WHERE e.incident_id = i.id AND e.action = 'report' AND e.at = i.reported_at)")).scalar()
    assert first == 0


def test_geojson_in_metric_crs_and_xlsx(demo_session, tmp_path):
    from gis.crs import to_metric

    rows = _demo_rows(5)
    frame = pd.DataFrame(rows)
    gdf = gpd.GeoDataFrame(frame.drop(columns=["lon", "lat"]),
                           geometry=gpd.points_from_xy(frame["lon"].astype(float), frame["lat"].astype(float)),
                           crs="EPSG:4326")
    path = tmp_path / "m.geojson"
    to_metric(gdf).to_file(path, driver="GeoJSON", engine="pyogrio")
    assert import_incidents(demo_session, path, settings=TEST_SETTINGS).inserted == 5
    got = demo_session.execute(text("SELECT external_id, ST_X(geom), ST_Y(geom) FROM incidents "
                                    "WHERE external_id LIKE 'T-%' ORDER BY external_id")).all()
    for (ext, x, y), r in zip(got, sorted(rows, key=lambda r: r["external_id"])):
        assert ext == r["external_id"] and abs(x - float(r["lon"])) < 1e-7 and abs(y - float(r["lat"])) < 1e-7
    xrows = _demo_rows(8)[5:]
    pd.DataFrame(xrows).to_excel(tmp_path / "x.xlsx", index=False, engine="openpyxl")
    assert import_incidents(demo_session, tmp_path / "x.xlsx", settings=TEST_SETTINGS).inserted == 3


def test_cli_dry_run_reject_and_skip(cli, demo_db, bad_file):
    path, _ = bad_file
    dry = cli(demo_db, "incidents", "import", str(path), "--dry-run", "--on-error", "skip")
    assert dry.exit_code == 0 and "would insert 4" in dry.stdout
    rejected = cli(demo_db, "incidents", "import", str(path))
    assert rejected.exit_code == 2 and "line 3" in rejected.stderr and "potholes" in rejected.stderr
    with demo_db.session() as s:
        assert _count(s) == 0
    done = cli(demo_db, "incidents", "import", str(path), "--on-error", "skip")
    assert done.exit_code == 0 and "inserted 4" in done.stdout
    with demo_db.session() as s:
        assert _count(s) == 4


def test_demo_file_loaded_through_importer(demo_session):
    with open(DEMO, encoding="utf-8") as fh:
        n = sum(1 for _ in csv.DictReader(fh))
    stored = demo_session.execute(text(
        "SELECT count(*), count(*) FILTER (WHERE grid_code IS NULL), "
        "count(*) FILTER (WHERE state = 'closed' AND deadline IS NULL) FROM incidents WHERE external_id LIKE 'DA%'"
    )).one()
    assert tuple(stored) == (n, 0, 0)


@pytest.mark.parametrize("content", [b"", b"external_id,category,source,lon,lat,reported_at\n"])
def test_empty_file_exits_2_with_one_clear_line(cli, demo_db, tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    res = cli(demo_db, "incidents", "import", str(path))
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert ("file is empty" if not content else "no rows") in res.stderr


LONG = {  # field: (value, the limit the reason must name: the model's column size)
    "address": ("路" * 201, "is 201 characters long; at most 200 allowed"),
    "reporter_name": ("张" * 61, "is 61 characters long; at most 60 allowed"),
    "reporter_phone": ("1" * 31, "is 31 characters long; at most 30 allowed"),
    "reporter_email": ("a" * 115 + "@x.com", "is 121 characters long; at most 120 allowed"),
    "external_id": ("T-" + "9" * 59, "is 61 characters long; at most 60 allowed"),
    # a Text column: the limit is the one every path shares (app.incidents.models.DESCRIPTION_MAX)
    "description": ("述" * (DESCRIPTION_MAX + 1), f"at most {DESCRIPTION_MAX} allowed"),
}
BAD_TEXT = {
    "description": ("井盖\x00破损", "U+0000 (NUL)"),
    "reporter_name": ("王\u202e五", "U+202E (right-to-left override)"),
    "address": ("东街\x1b[31m", "U+001B (ESC)"),
    "reporter_phone": ("138\t0000", "U+0009 (tab)"),
}


def _text_rows():
    rows = _demo_rows(len(LONG) + len(BAD_TEXT) + 3)
    bad = {}
    for k, (fld, (value, reason)) in enumerate(list(LONG.items()) + list(BAD_TEXT.items()), start=1):
        rows[k][fld] = value
        bad[(k + 2, fld)] = reason
    rows[-1]["description"] = "第一行\r\n第二行\t(制表符)"  # a description may span lines
    return rows, bad


def test_long_and_unprintable_texts_are_row_errors_naming_the_limit(demo_session, tmp_path):
    rows, bad = _text_rows()
    with pytest.raises(InvalidData) as err:
        import_incidents(demo_session, _write(tmp_path / "t.csv", rows), settings=TEST_SETTINGS)
    got = {(e.line, e.field): e.reason for e in err.value.errors}
    assert set(got) == set(bad)
    for where, reason in bad.items():
        assert reason in got[where], where
    assert _count(demo_session) == 0


def test_skip_writes_every_row_but_the_bad_texts(demo_session, tmp_path):
    """Before: one over-long address made PostgreSQL refuse the INSERT and the whole skip-import failed."""
    rows, bad = _text_rows()
    report = import_incidents(demo_session, _write(tmp_path / "t.csv", rows), on_error="skip", settings=TEST_SETTINGS)
    assert (report.inserted, report.rejected) == (len(rows) - len(bad), len(bad))
    stored = demo_session.execute(text("SELECT external_id, description FROM incidents WHERE external_id LIKE 'T-%' "
                                       "ORDER BY external_id")).all()
    good = [r for k, r in enumerate(rows) if (k + 2) not in {line for line, _ in bad}]
    assert [s[0] for s in stored] == sorted(r["external_id"] for r in good)
    assert dict(stored)[rows[-1]["external_id"]] == "第一行\r\n第二行\t(制表符)"


def test_dates_outside_the_district_window_are_refused(demo_session, tmp_path):
    rows = _demo_rows(6)
    rows[1].update(reported_at="2099-01-01T08:00:00+08:00", state="reported", closed_at="")  # line 3
    rows[2]["reported_at"] = "1900-01-01T08:00:00+08:00"                          # line 4
    rows[3].update(state="closed", closed_at="2099-06-01T00:00:00+08:00")         # line 5
    rows[4].update(state="reported", closed_at="", dispatched_at="2025-01-02T00:00:00+08:00")  # line 6
    path = _write(tmp_path / "d.csv", rows)
    with pytest.raises(InvalidData) as err:
        import_incidents(demo_session, path, settings=TEST_SETTINGS)
    got = {(e.line, e.field): e.reason for e in err.value.errors}
    assert set(got) == {(3, "reported_at"), (4, "reported_at"), (5, "closed_at"), (6, "dispatched_at")}
    assert "more than a day in the future" in got[(3, "reported_at")]
    assert "before the district's first date 2010-01-01 (setting data_start_date)" in got[(4, "reported_at")]
    assert "was not dispatched" in got[(6, "dispatched_at")]
    # the start is a setting: moved before 1900, that row passes
    early = TEST_SETTINGS.replace(data_start_date="1899-12-31")
    with pytest.raises(InvalidData) as err:
        import_incidents(demo_session, path, settings=early)
    assert (4, "reported_at") not in {(e.line, e.field) for e in err.value.errors}


def test_a_time_up_to_a_day_ahead_is_accepted(demo_session, tmp_path):
    from datetime import datetime, timezone

    rows = _demo_rows(1)
    soon = datetime.now(timezone.utc) + timedelta(hours=20)
    rows[0].update(reported_at=soon.isoformat(), state="reported", closed_at="")
    assert import_incidents(demo_session, _write(tmp_path / "s.csv", rows), settings=TEST_SETTINGS).inserted == 1
