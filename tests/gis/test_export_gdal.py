"""Exports as GDAL reads them: every file ``gridwatch export`` (and the downloads) writes is read back with
pyogrio (GDAL 3.12, bundled) and Debian's ``ogrinfo`` (another GDAL build), and the types and values GDAL
reports are compared with what PostGIS holds, not with our own writer's idea of them."""
from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pyogrio
import pyogrio.raw
import pytest
from sqlalchemy import text

from app.incidents.models import STATES
from camera_registry.models import STATUSES
from layers.coverage import RATIO_BREAKS, RATIO_COLOURS
from layers.incidents import STATE_COLOURS
from layers.qgis_styles import qgis_colour
from layers.style import CAMERA_STATUS_COLOURS


def _gdal(path, **open_options):
    """(field → OGR type, field → values, geometries as WKB, CRS) of the file's data layer, as GDAL reads it."""
    layer = next(str(n) for n, _ in pyogrio.list_layers(path) if n != "layer_styles")
    meta, _, wkb, values = pyogrio.raw.read(path, layer=layer, datetime_as_string=True, **open_options)
    types = dict(zip(meta["fields"], meta["ogr_types"]))
    return types, dict(zip(meta["fields"], (list(v) for v in values))), wkb, meta["crs"], layer


def _export(cli, database, layer, path):
    res = cli(database, "export", layer, str(path))
    assert res.exit_code == 0, res.output
    return path


def _db(database, sql):
    with database.Session() as s:
        return s.execute(text(sql)).all()


# -- CSV: the .csvt keeps codes text and numbers numbers ----------------------------------------------
def test_camera_csv_reads_with_codes_as_text_and_numbers_typed(cli, demo_db, tmp_path):
    path = _export(cli, demo_db, "cameras", tmp_path / "cameras.csv")
    assert path.with_suffix(".csvt").is_file() and path.with_suffix(".prj").is_file()
    # AUTODETECT_TYPE is what made device_id Integer64 (9223372036854775807): the .csvt overrides it
    types, values, wkb, crs, _ = _gdal(path, AUTODETECT_TYPE="YES")
    assert types["device_id"] == types["grid_code"] == types["community_code"] == types["street_code"] == "OFTString"
    assert types["contact"] == "OFTString"          # phone-like text is text
    assert types["ptz_type"] == types["point_class"] == types["record_days"] == "OFTInteger"
    assert types["height_m"] == types["azimuth"] == types["range_m"] == "OFTReal"
    assert types["install_date"] == "OFTDate"
    db = _db(demo_db, "SELECT device_id, ptz_type, install_date, ST_X(geom), ST_Y(geom) FROM cameras ORDER BY device_id")
    assert values["device_id"] == [r[0] for r in db] and all(len(d) == 20 for d in values["device_id"])
    got_ptz = [None if np.isnan(v) else int(v) for v in values["ptz_type"]]
    assert got_ptz == [r[1] for r in db]
    assert values["install_date"] == [None if r[2] is None else r[2].isoformat() for r in db]
    # lon/lat are typed CoordX/CoordY: GDAL builds the points, in the CRS of the .prj
    import shapely

    points = shapely.from_wkb(wkb)
    assert np.allclose(shapely.get_x(points), [r[3] for r in db], atol=1e-8)
    assert np.allclose(shapely.get_y(points), [r[4] for r in db], atol=1e-8)
    assert "4326" in crs or "WGS 84" in crs or crs.upper().startswith("GEOGCS")


def test_grid_csv_keeps_15_digit_codes_and_wkt_geometry(cli, demo_db, tmp_path):
    path = _export(cli, demo_db, "grids", tmp_path / "grids.csv")
    types, values, wkb, _, _ = _gdal(path, AUTODETECT_TYPE="YES")
    assert types["code"] == types["community_code"] == types["street_code"] == "OFTString"
    assert types["households"] == types["population"] == "OFTInteger"
    db = _db(demo_db, "SELECT code, community_code, ST_Area(geom) FROM grids ORDER BY code")
    assert values["code"] == [r[0] for r in db] and values["community_code"] == [r[1] for r in db]
    import shapely

    assert np.allclose(shapely.area(shapely.from_wkb(wkb)), [r[2] for r in db], rtol=1e-12)


def test_incident_csv_times_are_datetimes_in_the_district_zone(cli, demo_db, tmp_path):
    path = _export(cli, demo_db, "incidents", tmp_path / "incidents.csv")
    types, values, _, _, _ = _gdal(path)
    assert types["reported_at"] == types["closed_at"] == "OFTDateTime" and types["priority"] == "OFTString"
    first = _db(demo_db, "SELECT reported_at FROM incidents ORDER BY id LIMIT 1")[0][0]
    assert dt.datetime.fromisoformat(values["reported_at"][0]) == first   # the same instant, with its offset


def test_debian_ogrinfo_reads_the_csvt_too(cli, demo_db, tmp_path):
    path = _export(cli, demo_db, "cameras", tmp_path / "cameras.csv")
    out = subprocess.run(["ogrinfo", "-ro", "-so", "-al", "-oo", "AUTODETECT_TYPE=YES", str(path)],
                         capture_output=True, text=True, check=True).stdout
    assert "device_id: String" in out and "ptz_type: Integer" in out and "install_date: Date" in out
    assert "Geometry: Point" in out


# -- Excel: a header GDAL detects, a sheet named after the layer --------------------------------------
@pytest.mark.parametrize("layer", ["streets", "communities", "incidents", "cameras"])
def test_xlsx_header_is_detected_without_forcing_it(cli, demo_db, tmp_path, layer, monkeypatch):
    monkeypatch.delenv("OGR_XLSX_HEADERS", raising=False)
    path = _export(cli, demo_db, layer, tmp_path / f"{layer}.xlsx")
    types, values, _, _, sheet = _gdal(path)
    assert sheet == layer                                       # not Sheet1
    assert not any(name.startswith("Field") for name in types)  # the header is a header
    table = "incidents" if layer == "incidents" else layer
    key = {"cameras": "device_id", "incidents": "external_id"}.get(layer, "code")
    db_keys = [r[0] for r in _db(demo_db, f"SELECT {key} FROM {table} ORDER BY {'id' if layer == 'incidents' else key}")]
    assert [None if v in (None, "") else v for v in values[key]] == db_keys
    if key in ("code", "device_id"):
        assert types[key] == "OFTString"


def test_xlsx_of_an_all_text_layer_gets_a_numbered_fid_and_text_codes(cli, demo_db, tmp_path):
    types, values, _, _, _ = _gdal(_export(cli, demo_db, "streets", tmp_path / "s.xlsx"))
    assert list(types)[:3] == ["code", "name", "kind"] and types["code"] == "OFTString"
    assert types["fid"] == "OFTInteger" and list(values["fid"]) == list(range(1, len(values["code"]) + 1))


def test_xlsx_numbers_and_dates_are_typed_cells(cli, demo_db, tmp_path):
    types, values, _, _, _ = _gdal(_export(cli, demo_db, "cameras", tmp_path / "c.xlsx"))
    assert types["ptz_type"] == "OFTInteger" and types["height_m"] == "OFTReal" and types["lon"] == "OFTReal"
    assert types["install_date"] in ("OFTDate", "OFTDateTime")
    db = _db(demo_db, "SELECT install_date FROM cameras ORDER BY device_id")
    got = [None if v is None else v[:10].replace("/", "-") for v in values["install_date"]]
    assert got == [None if r[0] is None else r[0].isoformat() for r in db]


# -- GeoPackage: Date, DateTime and Integer fields ------------------------------------------------------
def test_camera_gpkg_has_date_and_integer_fields(cli, demo_db, tmp_path):
    types, values, _, _, _ = _gdal(_export(cli, demo_db, "cameras", tmp_path / "c.gpkg"))
    assert types["install_date"] == "OFTDate"
    assert types["ptz_type"] == types["point_class"] == types["record_days"] == "OFTInteger"
    db = _db(demo_db, "SELECT install_date, record_days FROM cameras ORDER BY device_id")
    assert values["install_date"] == [None if r[0] is None else r[0].isoformat() for r in db]
    assert [None if np.isnan(v) else int(v) for v in values["record_days"]] == [r[1] for r in db]


def test_incident_layer_gpkg_has_integer_assignee_and_datetime_times(demo_session, tmp_path):
    from app.layers_db import read_layer
    from gis.io import write_frame

    demo_session.execute(text("UPDATE incidents SET assignee_id = NULL WHERE id IN (SELECT min(id) FROM incidents)"))
    frame = read_layer(demo_session, "incidents", typed=True)
    types, values, _, _, _ = _gdal(write_frame(frame, tmp_path / "i.gpkg", layer="incidents"))
    assert types["assignee_id"] == types["code"] == "OFTInteger" and types["priority"] == "OFTString"
    assert types["reported_at"] == types["closed_at"] == "OFTDateTime"
    db = demo_session.execute(text("SELECT assignee_id, reported_at FROM incidents ORDER BY id")).all()
    got = [None if np.isnan(v) else int(v) for v in values["assignee_id"]]
    assert got == [r[0] for r in db] and got[0] is None and any(g is not None for g in got)
    assert [dt.datetime.fromisoformat(v) for v in values["reported_at"][:50]] == [r[1] for r in db[:50]]


def test_typed_read_leaves_the_maps_frames_alone(demo_session):
    from app.layers_db import read_layer

    plain = read_layer(demo_session, "incidents")
    typed = read_layer(demo_session, "incidents", typed=True)
    assert str(typed["assignee_id"].dtype) == "Int64" and str(plain["assignee_id"].dtype) != "Int64"
    assert plain["code"].tolist() == typed["code"].tolist()


# -- QGIS styles in every GeoPackage --------------------------------------------------------------------
def _style_row(path, table):
    con = sqlite3.connect(path)
    try:
        con.row_factory = sqlite3.Row
        rows = con.execute("SELECT * FROM layer_styles WHERE f_table_name = ?", (table,)).fetchall()
        kind = con.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()
        geom = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (table,)).fetchone()
    finally:
        con.close()
    assert kind[0] == "attributes" and len(rows) == 1
    row = rows[0]
    assert row["useAsDefault"] == 1 and row["f_geometry_column"] == geom[0] and row["styleName"] == table
    assert {"id", "f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column", "styleName", "styleQML",
            "styleSLD", "useAsDefault", "description", "owner", "ui", "update_time"} == set(row.keys())
    return ET.fromstring(row["styleQML"].split("\n", 1)[1])


def _categories(qml):
    renderer = qml.find("renderer-v2")
    cats = renderer.findall("categories/category")
    colours = {}
    for cat in cats:
        sym = renderer.find(f"symbols/symbol[@name='{cat.get('symbol')}']")
        colours[cat.get("value")] = sym.find("layer/Option/Option[@name='color']").get("value")
    return renderer, {c.get("value"): c.get("label") for c in cats}, colours


def test_camera_gpkg_carries_the_dashboards_status_style(cli, demo_db, tmp_path):
    from app.labels import names

    qml = _style_row(_export(cli, demo_db, "cameras", tmp_path / "c.gpkg"), "cameras")
    renderer, labels, colours = _categories(qml)
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "status"
    assert list(labels) == list(STATUSES)                       # the status code list, in its order
    assert labels == names("camera_status", "zh")              # words, not codes
    fill = {code: c.rsplit(",", 1)[0] for code, c in colours.items()}
    assert fill == {code: qgis_colour(hex_).rsplit(",", 1)[0] for code, hex_ in CAMERA_STATUS_COLOURS.items()}
    assert qml.find("layerGeometryType").text == "0"


def test_incident_gpkg_carries_the_state_style(cli, demo_db, tmp_path):
    qml = _style_row(_export(cli, demo_db, "incidents", tmp_path / "i.gpkg"), "incidents")
    renderer, labels, colours = _categories(qml)
    assert renderer.get("attr") == "state" and set(labels) == set(STATES)
    assert {k: v.rsplit(",", 1)[0] for k, v in colours.items()} == \
        {k: qgis_colour(v).rsplit(",", 1)[0] for k, v in STATE_COLOURS.items()}


def test_coverage_gpkg_is_graduated_by_ratio_with_the_planners_ramp(demo_session, tmp_path):
    from app.dashboards.planning import coverage_file

    body, _ = coverage_file(demo_session, "gpkg")
    path = tmp_path / "coverage.gpkg"
    path.write_bytes(body)
    renderer = _style_row(path, "coverage_by_grid").find("renderer-v2")
    assert renderer.get("type") == "graduatedSymbol" and renderer.get("attr") == "ratio"
    ranges = renderer.findall("ranges/range")
    assert [(float(r.get("lower")), float(r.get("upper"))) for r in ranges] == list(zip(RATIO_BREAKS, RATIO_BREAKS[1:]))
    got = [renderer.find(f"symbols/symbol[@name='{r.get('symbol')}']/layer/Option/Option[@name='color']")
           .get("value").rsplit(",", 1)[0] for r in ranges]
    assert got == [qgis_colour(c).rsplit(",", 1)[0] for c in RATIO_COLOURS]
    types, _, _, _, layer = _gdal(path)
    assert layer == "coverage_by_grid" and types["ratio"] == "OFTReal"


def test_a_styled_gpkg_still_reads_back_through_our_reader(cli, demo_db, tmp_path):
    from gis.io import read_table

    path = _export(cli, demo_db, "grids", tmp_path / "g.gpkg")
    assert [str(n) for n, _ in pyogrio.list_layers(path)] == ["grids", "layer_styles"]
    table = read_table(path)
    assert table.frame["code"].tolist() == [r[0] for r in _db(demo_db, "SELECT code FROM grids ORDER BY code")]


def test_style_labels_are_escaped_xml():
    from layers.qgis_styles import style_for

    qml = style_for("cameras", names=lambda kind: {"ON": '<b>"在线"</b> & co'})
    cat = ET.fromstring(qml.split("\n", 1)[1]).find("renderer-v2/categories/category[@value='ON']")
    assert cat.get("label") == '<b>"在线"</b> & co'


# -- one definition of the camera columns -------------------------------------------------------------
def test_camera_columns_have_one_definition(demo_session):
    from app.layers_db import read_layer
    from camera_registry import exporter
    from camera_registry.schema import COLUMNS, LAYER_COLUMNS, PERSONAL

    layer = read_layer(demo_session, "cameras")
    assert [c for c in layer.columns if c not in ("code", "version", "geom")] == list(LAYER_COLUMNS)
    assert not set(PERSONAL) & set(layer.columns)               # no phone numbers on a map
    frame = exporter.cameras_frame(demo_session)
    assert [c for c in frame.columns if c not in ("version", "geom")] == list(COLUMNS)
    gis_view = [r[0] for r in demo_session.execute(text(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'gis' AND table_name = 'cameras' "
        "ORDER BY ordinal_position"))]
    assert set(gis_view) - {"updated_at", "geom"} <= set(LAYER_COLUMNS)   # the frozen view shows no more


def test_patrol_report_goes_through_the_shared_writer(tmp_path):
    from gis.io import read_table, write_frame

    frame = pd.DataFrame({"member": ["=HYPERLINK(1)", "李四"], "grid_code": ["510304001001001"] * 2,
                          "minutes_in_grid": [18.0, 2.5]})
    path = write_frame(frame, tmp_path / "r.xlsx", layer="patrols")
    types, values, _, _, sheet = _gdal(path)
    assert sheet == "patrols" and types["grid_code"] == "OFTString" and types["minutes_in_grid"] == "OFTReal"
    assert read_table(path).frame["member"].tolist() == ["=HYPERLINK(1)", "李四"]
    csv = write_frame(frame, tmp_path / "r.csv")
    assert csv.with_suffix(".csvt").read_bytes() == b'"String","String","Real"\r\n'
    assert not csv.with_suffix(".prj").exists()


# -- QGIS itself (Debian's python3-qgis, a real client) opens the styled GeoPackages -----------------------
_QGIS_READ = r"""
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import QgsApplication, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
layer = QgsVectorLayer(sys.argv[1] + "|layername=" + sys.argv[2], sys.argv[2], "ogr")  # loads the default style
r = layer.renderer()
out = {"valid": layer.isValid(), "type": r.type(), "count": layer.featureCount()}
if r.type() == "categorizedSymbol":
    out.update(attr=r.classAttribute(), rows=[[c.value(), c.label(), c.symbol().color().name()] for c in r.categories()])
elif r.type() == "graduatedSymbol":
    out.update(attr=r.classAttribute(), rows=[[g.lowerValue(), g.upperValue(), g.symbol().color().name()]
                                              for g in r.ranges()])
print(json.dumps(out))
"""


def _qgis(path, layer):
    import json

    probe = subprocess.run(["/usr/bin/python3", "-c", "import qgis.core"], capture_output=True)
    if probe.returncode != 0:
        pytest.fail("python3-qgis is not installed: `make test` installs it (the Makefile's system-gdal target)")
    res = subprocess.run(["/usr/bin/python3", "-c", _QGIS_READ, str(path), layer], capture_output=True, text=True,
                         timeout=120, env={"QT_QPA_PLATFORM": "offscreen", "HOME": str(path.parent),
                                           "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_qgis_opens_cameras_and_incidents_styled_like_the_dashboards(cli, demo_db, tmp_path):
    from app.labels import names

    got = _qgis(_export(cli, demo_db, "cameras", tmp_path / "c.gpkg"), "cameras")
    assert got["valid"] and got["type"] == "categorizedSymbol" and got["attr"] == "status"
    assert got["count"] == _db(demo_db, "SELECT count(*) FROM cameras")[0][0]
    assert got["rows"] == [[code, names("camera_status", "zh")[code], CAMERA_STATUS_COLOURS[code]]
                           for code in STATUSES]
    got = _qgis(_export(cli, demo_db, "incidents", tmp_path / "i.gpkg"), "incidents")
    assert got["type"] == "categorizedSymbol" and got["attr"] == "state"
    assert {v: c for v, _, c in got["rows"]} == STATE_COLOURS


def test_qgis_opens_the_coverage_report_graduated(demo_session, tmp_path):
    from app.dashboards.planning import coverage_file

    path = tmp_path / "coverage.gpkg"
    path.write_bytes(coverage_file(demo_session, "gpkg")[0])
    got = _qgis(path, "coverage_by_grid")
    assert got["type"] == "graduatedSymbol" and got["attr"] == "ratio"
    assert got["rows"] == [[lo, hi, c] for lo, hi, c in zip(RATIO_BREAKS, RATIO_BREAKS[1:], RATIO_COLOURS)]


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin", "America/St_Johns", None])
def test_iso_texts_equal_isoformat(zone):
    """The vectorised timestamp text against pandas' own isoformat, across DST changes and half-hour zones."""
    from gis.writers import iso_texts

    rng = np.random.default_rng(7)
    micros = rng.integers(1_600_000_000_000_000, 1_800_000_000_000_000, 500)
    micros[::5] -= micros[::5] % 1_000_000          # whole seconds too
    times = pd.Series(pd.to_datetime(micros, unit="us", utc=True))
    times[3] = pd.NaT
    if zone is None:
        times = times.dt.tz_localize(None)
    expected = [None if pd.isna(t) else (t.tz_convert(zone) if zone else t).isoformat() for t in times]
    assert list(iso_texts(times, zone)) == expected


def test_the_camera_download_gpkg_is_styled_too(demo_session, tmp_path):
    from app.camera_files.service import export_file

    ids = [r[0] for r in demo_session.execute(text("SELECT device_id FROM cameras ORDER BY device_id LIMIT 5"))]
    path = export_file(demo_session, "gpkg", ids, tmp_path)
    _, labels, _ = _categories(_style_row(path, "cameras"))
    assert list(labels) == list(STATUSES)
    types, values, _, _, _ = _gdal(path)
    assert values["device_id"] == ids and types["install_date"] == "OFTDate"


@pytest.mark.parametrize("name, sheet", [("coverage_by_grid", "coverage_by_grid"), ("a/b:c*d?[e]", "a_b_c_d__e_"),
                                         ("'quoted'", "quoted"), ("x" * 40, "x" * 31)])
def test_sheet_names_are_what_excel_accepts(name, sheet):
    from gis.writers import sheet_name

    assert sheet_name(name) == sheet
