"""Incident exports stream (issue 16): written batch by batch, the file equals the one-piece file in every
format; an Excel file that would pass a sheet's row limit is refused before any work; a failure half-way
leaves no file; the types of a column do not depend on what one batch happens to hold."""
from __future__ import annotations

import pandas as pd
import pyogrio
import pytest
from sqlalchemy import text

import gis.writers
from app.incidents.exporter import export_incidents, incident_batches
from gis.errors import InvalidData
from gis.io import XLSX_MAX_ROWS
from gis.writers import check_sheet_rows
from tests.settings import TEST_SETTINGS

TZ = TEST_SETTINGS.timezone
FORMATS = [".csv", ".xlsx", ".geojson", ".gpkg"]


def _read(path):
    """The file as GDAL reads it (the real reader), every value as text so nothing is compared loosely."""
    kw = {"layer": "incidents"} if path.suffix == ".gpkg" else {}
    frame = pyogrio.read_dataframe(path, read_geometry=path.suffix in (".gpkg", ".geojson"), **kw)
    out = pd.DataFrame(frame.drop(columns="geometry", errors="ignore")).astype(str)
    if "geometry" in frame:
        out["wkt"] = frame.geometry.to_wkt()
    return out


@pytest.mark.parametrize("suffix", FORMATS)
def test_batches_write_the_same_file_as_one_piece(demo_session, tmp_path, suffix):
    s = demo_session
    n = s.execute(text("SELECT count(*) FROM incidents")).scalar()
    whole, batched = tmp_path / f"whole{suffix}", tmp_path / f"batched{suffix}"
    assert export_incidents(s, whole, timezone=TZ, batch_rows=n + 1) == n
    assert export_incidents(s, batched, timezone=TZ, batch_rows=997) == n  # 17 batches, the last one short
    a, b = _read(whole), _read(batched)
    assert len(a) == n
    pd.testing.assert_frame_equal(a, b)
    if suffix == ".csv":
        assert batched.with_suffix(".csvt").read_text() == whole.with_suffix(".csvt").read_text()
        assert batched.read_bytes() == whole.read_bytes()


def test_progress_counts_up_to_the_total(demo_session, tmp_path):
    s = demo_session
    n = s.execute(text("SELECT count(*) FROM incidents")).scalar()
    seen = []
    export_incidents(s, tmp_path / "i.gpkg", timezone=TZ, batch_rows=5000, progress=lambda t, d: seen.append((t, d)))
    assert seen[0] == (n, 0) and seen[-1] == (n, n)
    assert [d for _, d in seen] == sorted(d for _, d in seen) and len(seen) == n // 5000 + 2


def test_batches_are_keyset_pages_in_id_order_up_to_the_first_newest(demo_session):
    s = demo_session
    ids = [r[0] for r in s.execute(text("SELECT id FROM incidents ORDER BY id"))]
    got = [int(c) for b in incident_batches(s, batch_rows=1000, upto=ids[-10]) for c in b["code"]]
    assert got == ids[:-9]


def test_a_column_empty_in_the_first_batch_keeps_its_type(demo_session, tmp_path):
    """No close time in the first batch: still DateTime in the GeoPackage and the .csvt, not text."""
    s = demo_session
    s.execute(text("UPDATE incidents SET closed_at = NULL, state = 'in_progress', reporter_email = NULL "
                   "WHERE id IN (SELECT id FROM incidents ORDER BY id LIMIT 500)"))
    assert s.execute(text("SELECT count(closed_at) FROM incidents")).scalar() > 0
    gpkg, csv = tmp_path / "i.gpkg", tmp_path / "i.csv"
    export_incidents(s, gpkg, timezone=TZ, batch_rows=500)
    export_incidents(s, csv, timezone=TZ, batch_rows=500)
    info = pyogrio.read_info(gpkg, layer="incidents")
    types = dict(zip(info["fields"], info["dtypes"]))
    assert types["closed_at"].startswith("datetime64") and types["code"] in ("int32", "int64")
    assert types["reporter_email"] == "object"
    csvt = dict(zip(pd.read_csv(csv, nrows=0).columns.str.lstrip("\ufeff"),
                    csv.with_suffix(".csvt").read_text().split(",")))
    assert csvt["closed_at"] == '"DateTime"' and csvt["code"] == '"Integer"'


def test_the_sheet_limit_is_excels():
    check_sheet_rows(XLSX_MAX_ROWS, "x.xlsx")
    with pytest.raises(InvalidData, match="1,048,576 rows are more than an Excel sheet holds") as e:
        check_sheet_rows(XLSX_MAX_ROWS + 1, "x.xlsx")
    assert ".gpkg or .csv" in str(e.value)


def test_an_excel_file_over_the_limit_is_refused_before_any_work(demo_db, cli, tmp_path, monkeypatch):
    monkeypatch.setattr(gis.writers, "XLSX_MAX_ROWS", 100)
    read = []
    monkeypatch.setattr("app.incidents.exporter.incident_batches", lambda *a, **k: read.append(1) or iter(()))
    path = tmp_path / "i.xlsx"
    res = cli(demo_db, "export", "incidents", str(path))
    assert res.exit_code != 0
    assert "more than an Excel sheet holds (100 below its header)" in res.output and "Traceback" not in res.output
    assert not path.exists() and not read
    res = cli(demo_db, "export", "incidents", str(tmp_path / "i.csv"))  # the way out the message names
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("suffix", [".xlsx", ".gpkg"])
def test_a_failure_half_way_leaves_no_file(demo_session, tmp_path, suffix, monkeypatch):
    s = demo_session
    iid = s.execute(text("SELECT id FROM incidents ORDER BY id OFFSET 2500 LIMIT 1")).scalar()
    if suffix == ".xlsx":  # a cell too long for Excel in the third batch: named by its line in the sheet
        s.execute(text("UPDATE incidents SET description = repeat('长', 33000) WHERE id = :i"), {"i": iid})
        with pytest.raises(InvalidData) as e:
            export_incidents(s, tmp_path / f"i{suffix}", timezone=TZ, batch_rows=1000)
        assert e.value.errors[0].line == 2502 and e.value.errors[0].field == "description"
    else:  # the database goes away between batches
        real = incident_batches

        def dying(*a, **k):
            for k_, b in enumerate(real(*a, **k)):
                if k_ == 2:
                    raise RuntimeError("connection lost")
                yield b
        monkeypatch.setattr("app.incidents.exporter.incident_batches", dying)
        with pytest.raises(RuntimeError):
            export_incidents(s, tmp_path / f"i{suffix}", timezone=TZ, batch_rows=1000)
    assert not (tmp_path / f"i{suffix}").exists()
