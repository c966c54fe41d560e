"""gis.io readers: every attribute comes back as text, an empty value of any type as "" (like an empty CSV
cell), dates and date-times as ISO 8601 text. The files are written by the real writers (pyogrio/GDAL)."""
from __future__ import annotations

import datetime as dt
import json

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from gis.io import read_table, write_frame

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
