"""Export → import round trips in every format: the same values come back, and nothing changes."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from camera_registry.exporter import export_cameras
from camera_registry.importer import import_cameras
from gis.errors import InvalidData

from .conftest import count, postgis_locate
from tests.settings import DISTRICT
from tests.settings import TEST_SETTINGS

VALUES = ("SELECT device_id, name, point_name, programme, point_class, ptz_type, function_types, height_m, azimuth, "
          "fov, vfov, range_m, install_date, management_unit, contact, record_days, address, status, source_crs, "
          "declared_community_code, ST_X(geom), ST_Y(geom) FROM cameras ORDER BY device_id")


def _same(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert ra[:-2] == rb[:-2]
        assert ra[-2] == pytest.approx(rb[-2], abs=1e-8) and ra[-1] == pytest.approx(rb[-1], abs=1e-8)


@pytest.mark.parametrize("suffix, chinese", [(".csv", False), (".csv", True), (".xlsx", False), (".xlsx", True),
                                             (".geojson", False), (".gpkg", False), (".gpkg", True), (".shp", False)])
def test_export_then_import_gives_the_same_values(demo_session, session, tmp_path, suffix, chinese):
    demo_session.execute(text("UPDATE cameras SET declared_community_code = community_code, install_date = NULL, "
                              "point_class = 2, height_m = NULL, function_types = NULL "
                              "WHERE device_id = (SELECT min(device_id) FROM cameras WHERE point_class = 1)"))
    path = tmp_path / f"cameras{suffix}"
    assert export_cameras(demo_session, path, chinese_headers=chinese) == 471
    original = demo_session.execute(text(VALUES)).all()

    # into an empty registry: every value back
    report = import_cameras(session, path, district=DISTRICT)
    assert (report.added, report.rejected) == (471, 0)
    _same(session.execute(text(VALUES)).all(), original)

    # into the registry it came from: nothing changes, no history written
    revs, events = count(demo_session, "camera_revisions"), count(demo_session, "camera_events")
    again = import_cameras(demo_session, path, locate=postgis_locate(demo_session), district=DISTRICT)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 471)
    assert (count(demo_session, "camera_revisions"), count(demo_session, "camera_events")) == (revs, events)


def test_chinese_headers_are_written(demo_session, tmp_path):
    import pandas as pd

    export_cameras(demo_session, tmp_path / "c.csv", chinese_headers=True)
    header = list(pd.read_csv(tmp_path / "c.csv", nrows=1, encoding="utf-8-sig").columns)
    assert header[:4] == ["设备编码", "设备名称", "点位名称", "建设工程"]
    assert header[-2:] == ["经度", "纬度"] and "lon" not in header


def test_shapefile_uses_short_names_and_refuses_chinese_headers(demo_session, tmp_path):
    import geopandas as gpd

    export_cameras(demo_session, tmp_path / "c.shp")
    cols = [c for c in gpd.read_file(tmp_path / "c.shp", engine="pyogrio").columns if c != "geometry"]
    assert all(len(c.encode()) <= 10 for c in cols)
    assert {"pt_class", "mgmt_unit", "rec_days", "inst_date", "func_types"} <= set(cols)
    with pytest.raises(InvalidData, match="10 bytes"):
        export_cameras(demo_session, tmp_path / "z.shp", chinese_headers=True)


def test_demo_cameras_were_loaded_through_the_importer(demo_session):
    assert count(demo_session, "cameras") == 471
    assert count(demo_session, "cameras", "programme = 'skynet'") == 371
    assert count(demo_session, "camera_events", "event = 'ADD' AND actor = 'load-demo'") == 471
    assert count(demo_session, "camera_revisions", "version = 1") == 471
    # derived codes agree with PostGIS ST_Covers of the grids
    wrong = demo_session.execute(text(
        "SELECT count(*) FROM cameras c WHERE c.grid_code IS DISTINCT FROM (SELECT g.code FROM grids g "
        "WHERE ST_Covers(g.geom, c.geom) ORDER BY g.code LIMIT 1)")).scalar()
    assert wrong == 0
    assert count(demo_session, "cameras", "street_code = left(community_code, 9)") == 471


def test_load_demo_again_changes_nothing(demo_session):
    from app.loaders import load_cameras
    from tests.conftest import ROOT

    revs = count(demo_session, "camera_revisions")
    assert load_cameras(demo_session, ROOT / "data" / "demo" / "cameras.csv", settings=TEST_SETTINGS) == 471
    assert count(demo_session, "camera_revisions") == revs


FORMULA = '=HYPERLINK("http://evil.example/","点我")'


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_formula_name_is_exported_as_text_and_reimported_as_written(demo_session, tmp_path, suffix):
    did = demo_session.execute(text("SELECT min(device_id) FROM cameras")).scalar()
    demo_session.execute(text("UPDATE cameras SET name = :n, address = '@SUM(1+1)' WHERE device_id = :d"),
                         {"n": FORMULA, "d": did})
    path = tmp_path / f"c{suffix}"
    export_cameras(demo_session, path)
    if suffix == ".csv":
        import csv

        with open(path, encoding="utf-8-sig", newline="") as fh:
            first = next(r for r in csv.DictReader(fh) if r["device_id"] == did)
        assert (first["name"], first["address"]) == ("'" + FORMULA, "'@SUM(1+1)")
    else:
        from openpyxl import load_workbook

        sheet = load_workbook(path).active
        header = [c.value for c in sheet[1]]
        cell = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == did)[header.index("name")]
        assert cell.data_type == "s" and cell.value == "'" + FORMULA   # text, not a formula
    demo_session.execute(text("UPDATE cameras SET name = 'changed', address = NULL WHERE device_id = :d"), {"d": did})
    report = import_cameras(demo_session, path, locate=postgis_locate(demo_session), district=DISTRICT)
    assert (report.updated, report.unchanged) == (1, 470)
    assert demo_session.execute(text("SELECT name, address FROM cameras WHERE device_id = :d"),
                                {"d": did}).one() == (FORMULA, "@SUM(1+1)")
