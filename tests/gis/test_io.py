"""gis.io readers: every attribute comes back as text, an empty value of any type as "" (like an empty CSV
cell), dates and date-times as ISO 8601 text. The files are written by the real writers (pyogrio/GDAL)."""
from __future__ import annotations

import datetime as dt
import json
import re

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from gis.errors import InvalidData
from gis.io import escape_formula, read_table, write_frame

# Shapefile has no date-time type: GDAL says it writes those columns as text, which is what we test
pytestmark = pytest.mark.filterwarnings("ignore:Field .* created as String field:RuntimeWarning")

ZONED = ["2024-03-05T08:30:00+08:00", None, "2024-12-31T23:59:59+08:00", "2024-06-01T02:00:00.250000+08:00"]


def _frame() -> gpd.GeoDataFrame:
    """Dates, zoned and UTC date-times, integers, reals, booleans and text, each with a null in row 2."""
    return gpd.GeoDataFrame({
        "day": [dt.date(2024, 3, 5), None, dt.date(2024, 12, 31), dt.date(2025, 1, 1)],
        "at": pd.to_datetime(ZONED, format="ISO8601"),
        "at_utc": pd.to_datetime(["2024-03-05T00:30:00Z", None, "2024-12-31T15:59:59Z", "2024-06-01T00:00:00Z"]),
        "count": pd.array([3, None, 0, -7], dtype="Int64"),
        "ratio": [1.5, None, 2.0, -0.25],
        "ok": pd.array([True, None, False, True], dtype="boolean"),
        "name": ["网格 A", None, "", "b"],
    }, geometry=shapely.points([104.70, 104.71, 104.72, 104.73], [29.35, 29.36, 29.37, 29.38]), crs=4326)


EXPECTED = {
    "day": ["2024-03-05", "", "2024-12-31", "2025-01-01"],
    "at": ["2024-03-05T08:30:00+08:00", "", "2024-12-31T23:59:59+08:00", "2024-06-01T02:00:00.250000+08:00"],
    "at_utc": ["2024-03-05T00:30:00+00:00", "", "2024-12-31T15:59:59+00:00", "2024-06-01T00:00:00+00:00"],
    "count": ["3", "", "0", "-7"],
    "ratio": ["1.5", "", "2.0", "-0.25"],
    "ok": ["True", "", "False", "True"],
    "name": ["网格 A", "", "", "b"],
}


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp"])
def test_vector_round_trip_gives_text_with_empty_for_null(tmp_path, suffix):
    path = write_frame(_frame(), tmp_path / f"t{suffix}")
    table = read_table(path)
    got = {c: table.frame[c].tolist() for c in EXPECTED}
    assert got == EXPECTED
    assert all(isinstance(v, str) for col in table.frame.columns for v in table.frame[col])
    assert "NaT" not in table.frame.to_numpy().ravel().tolist()
    assert table.lines == [1, 2, 3, 4]
    assert table.crs == "EPSG:4326"
    assert table.geometry.geom_equals_exact(_frame().geometry, tolerance=1e-9).all()


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp"])
def test_vector_and_csv_give_the_same_strings(tmp_path, suffix):
    frame = _frame()
    csv = read_table(write_frame(frame, tmp_path / "t.csv")).frame
    vector = read_table(write_frame(frame, tmp_path / f"t{suffix}")).frame
    for col in EXPECTED:
        assert vector[col].tolist() == csv[col].tolist(), col
    # the oracle for the zoned column: Python's own ISO form of each instant, and each string parses back to it
    parsed = [pd.Timestamp(v) if v else None for v in vector["at"]]
    assert parsed == [pd.Timestamp(v) if v else None for v in ZONED]


def test_dates_as_written_by_hand_in_geojson(tmp_path):
    """GDAL types these fields Date/DateTime; an empty one must not read as "NaT" nor a date gain a time."""
    features = [
        {"day": "2024-03-05", "at": "2024-03-05T08:30:00+08:00", "local": "2024-03-05T08:30:00", "t": "08:30:00"},
        {"day": None, "at": None, "local": None, "t": None},
        {"day": "2024-02-29", "at": "2024-03-05T23:30:00-05:00", "local": "2024-03-05T23:30:00", "t": "23:59:59"},
    ]
    path = tmp_path / "hand.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": p, "geometry": {"type": "Point", "coordinates": [104.7, 29.3]}}
        for p in features]}), encoding="utf-8")
    info = pyogrio.read_info(path)
    assert list(info["ogr_types"]) == ["OFTDate", "OFTDateTime", "OFTDateTime", "OFTTime"]  # GDAL did parse them
    frame = read_table(path).frame
    assert frame.to_dict("records") == [
        {"day": "2024-03-05", "at": "2024-03-05T08:30:00+08:00", "local": "2024-03-05T08:30:00", "t": "08:30:00"},
        {"day": "", "at": "", "local": "", "t": ""},
        {"day": "2024-02-29", "at": "2024-03-05T23:30:00-05:00", "local": "2024-03-05T23:30:00", "t": "23:59:59"},
    ]


def test_gpkg_date_and_datetime_fields_with_empty_values(tmp_path):
    """GeoPackage DATE and DATETIME columns written by GDAL itself (typed fields, not text)."""
    path = tmp_path / "typed.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame({
        "day": pd.to_datetime(["2024-03-05", None, "2023-10-01"]).astype("datetime64[ms]"),
        "at": pd.to_datetime(["2024-03-05T00:30:00Z", None, "2023-10-01T12:00:00Z"]),
    }, geometry=shapely.points([104.7] * 3, [29.3] * 3), crs=4326), path)
    assert list(pyogrio.read_info(path)["ogr_types"]) == ["OFTDateTime", "OFTDateTime"]
    frame = read_table(path).frame
    assert frame["day"].tolist() == ["2024-03-05T00:00:00", "", "2023-10-01T00:00:00"]
    assert frame["at"].tolist() == ["2024-03-05T00:30:00+00:00", "", "2023-10-01T12:00:00+00:00"]


def test_empty_csv_cell_and_null_vector_value_read_alike(tmp_path):
    frame = gpd.GeoDataFrame({"day": [None, dt.date(2024, 1, 2)], "n": pd.array([None, 5], dtype="Int64")},
                             geometry=shapely.points([104.7, 104.8], [29.3, 29.3]), crs=4326)
    csv = read_table(write_frame(frame, tmp_path / "e.csv")).frame
    gj = read_table(write_frame(frame, tmp_path / "e.geojson")).frame
    assert csv["day"].tolist() == gj["day"].tolist() == ["", "2024-01-02"]
    assert csv["n"].tolist() == gj["n"].tolist() == ["", "5"]


# -- refusals: what a reader cannot hand on honestly is InvalidData naming the file and the row -------------
def _feature_collection(path, features):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


@pytest.mark.parametrize("name, content, reason", [
    ("zero.csv", b"", "file is empty (0 bytes)"),
    ("blank.csv", b"\n\n", "file is empty (no header, no rows)"),
    ("header.csv", "设备编码,设备名称,经度,纬度\n".encode("utf-8-sig"), "no rows"),
    ("zero.xlsx", b"", "file is empty (0 bytes)"),
    ("zero.geojson", b"", "file is empty (0 bytes)"),
])
def test_empty_files_are_refused(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InvalidData) as err:
        read_table(path)
    assert reason in str(err.value) and err.value.source == str(path)


def test_header_only_workbook_and_featureless_layer_are_refused(tmp_path):
    pd.DataFrame(columns=["device_id", "name"]).to_excel(tmp_path / "h.xlsx", index=False)
    _feature_collection(tmp_path / "none.geojson", [])
    for path in (tmp_path / "h.xlsx", tmp_path / "none.geojson"):
        with pytest.raises(InvalidData, match="no rows"):
            read_table(path)


def test_unclosed_ring_is_a_row_error_not_a_traceback(tmp_path):
    ring = [[104.70, 29.30], [104.71, 29.30], [104.71, 29.31], [104.70, 29.31], [104.70, 29.30]]
    path = _feature_collection(tmp_path / "rings.geojson", [
        {"type": "Feature", "properties": {"code": c}, "geometry": {"type": "Polygon", "coordinates": [r]}}
        for c, r in (("a", ring), ("b", ring[:-1]), ("c", ring), ("d", ring[:-1]))])
    with pytest.raises(InvalidData) as err:
        read_table(path)
    assert [(e.line, e.field) for e in err.value.errors] == [(2, "geometry"), (4, "geometry")]
    assert "ring is not closed" in err.value.errors[0].reason


def test_geojson_nul_reaches_the_importer_instead_of_cutting_the_text(tmp_path):
    """GDAL's JSON reader ends a string at \\u0000 ('a\\u0000b' → 'a'); the reader hands on the whole text."""
    pt = {"type": "Point", "coordinates": [104.7, 29.3]}
    path = _feature_collection(tmp_path / "nul.geojson", [
        {"type": "Feature", "properties": {"name": "a\u0000b", "n": 1}, "geometry": pt},
        {"type": "Feature", "properties": {"name": "plain", "n": 2}, "geometry": pt}])
    assert "\\u0000" in path.read_text(encoding="utf-8")
    assert pyogrio.read_dataframe(path)["name"].tolist()[0] == "a"   # what GDAL alone gives
    assert read_table(path).frame["name"].tolist() == ["a\x00b", "plain"]


# -- spreadsheet formula injection -----------------------------------------------------------------------
# the first nine would run (or lose their apostrophe) in a spreadsheet: each gets one more leading apostrophe
TRICKY = ["=HYPERLINK(\"http://evil.example\",\"点我\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx",
          "'=already quoted", "''@two", "+86 813 1234567", "'plain", "-3.5", "a=b", "", "普通文本",
          "Windows\r\nlines\r", "a literal _x000D_ and _x005F_"]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_formula_cells_are_escaped_and_read_back_exactly(tmp_path, suffix):
    n = len(TRICKY)
    frame = gpd.GeoDataFrame({"text": TRICKY, "number": [-3.5] * n},
                             geometry=shapely.points([104.7] * n, [29.3] * n), crs=4326)
    path = write_frame(frame, tmp_path / f"f{suffix}")
    if suffix == ".csv":
        written = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")["text"].tolist()
    else:
        from openpyxl import load_workbook

        sheet = load_workbook(path).active
        cells = [row[0] for row in sheet.iter_rows(min_row=2)]
        assert {c.data_type for c in cells if c.value is not None} == {"s"}   # text, never a formula
        assert {row[1].data_type for row in sheet.iter_rows(min_row=2)} == {"n"}   # -3.5 stays a number
        # a CR travels as OOXML's _x000D_ (as Excel writes it: XML turns a bare CR into LF), a literal one escaped
        assert cells[-2].value == "Windows_x000D_\nlines_x000D_"
        assert cells[-1].value == "a literal _x005F_x000D_ and _x005F_x005F_"
        written = [re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m.group(1), 16)), c.value or "") for c in cells]
    assert written == ["'" + v if i < 9 else v for i, v in enumerate(TRICKY)]
    table = read_table(path)
    assert table.frame["text"].tolist() == TRICKY
    assert table.frame["number"].tolist() == ["-3.5"] * n


def test_escape_formula_leaves_numbers_and_harmless_text():
    assert escape_formula(-3.5) == -3.5 and escape_formula("-3.5") == "-3.5" and escape_formula("1e-3") == "1e-3"
    assert escape_formula("-") == "'-" and escape_formula("=") == "'="
    assert escape_formula(None) is None and escape_formula("x=1") == "x=1"


# -- non-point geometries in CSV and Excel ----------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_polygons_travel_as_full_precision_wkt(tmp_path, suffix):
    polys = [shapely.box(104.1234567891234, 29.1, 104.2, 29.2), shapely.MultiPolygon([shapely.box(104, 29, 104.1, 29.1)])]
    frame = gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=polys, crs=4326)
    table = read_table(write_frame(frame, tmp_path / f"p{suffix}"))
    assert "wkt" not in table.frame.columns and table.frame["code"].tolist() == ["a", "b"]
    assert all(shapely.equals_exact(a, b, 0) for a, b in zip(table.geometry, polys))


def test_bad_wkt_is_a_row_error(tmp_path):
    (tmp_path / "w.csv").write_text('code,wkt\na,"POLYGON ((0 0, 1 0, 1 1, 0 0))"\nb,"POLYGON ((0 0, 1"\nc,\n',
                                    encoding="utf-8")
    with pytest.raises(InvalidData) as err:
        read_table(tmp_path / "w.csv")
    assert [(e.line, e.field) for e in err.value.errors] == [(3, "wkt")]


def test_a_cell_too_long_for_excel_is_refused_by_row_and_column(tmp_path):
    frame = gpd.GeoDataFrame({"note": ["ok", "x" * 32_768]}, geometry=shapely.points([1, 2], [1, 2]), crs=4326)
    with pytest.raises(InvalidData) as err:
        write_frame(frame, tmp_path / "long.xlsx")
    assert [(e.line, e.field) for e in err.value.errors] == [(3, "note")]
    assert "32767" in err.value.errors[0].reason
