"""gis.crs: published GCJ-02/BD-09 vectors, iterated inverses, parse_crs, parse_coordinates, metric CRS."""
import numpy as np
import pytest
import shapely
from pyproj import Geod

from gis import crs as gc
from gis.errors import InvalidData
from tests.settings import DISTRICT

VECTORS_GCJ = [  # (wgs lon, wgs lat) -> (gcj lon, gcj lat), DOMAIN.md
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
]
VECTOR_BD = ((116.403988, 39.914266), (116.41661560068297, 39.92196580126834))
GEOD = Geod(ellps="WGS84")


@pytest.mark.parametrize("wgs, gcj", VECTORS_GCJ)
def test_published_gcj02_vectors(wgs, gcj):
    lon, lat = gc.wgs84_to_gcj02(*wgs)
    assert abs(lon - gcj[0]) < 1e-9 and abs(lat - gcj[1]) < 1e-9


def test_published_bd09_vector():
    lon, lat = gc.wgs84_to_bd09(*VECTOR_BD[0])
    assert abs(lon - VECTOR_BD[1][0]) < 1e-9 and abs(lat - VECTOR_BD[1][1]) < 1e-9


def _china(n, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(73.5, 135.0, n), rng.uniform(18.0, 53.5, n)


@pytest.mark.parametrize("forward, inverse", [
    (gc.wgs84_to_gcj02, gc.gcj02_to_wgs84), (gc.wgs84_to_bd09, gc.bd09_to_wgs84),
    (gc.gcj02_to_bd09, gc.bd09_to_gcj02)])
def test_round_trips_across_china_within_a_tenth_of_a_metre(forward, inverse):
    lon, lat = _china(20000, 7)
    back_lon, back_lat = inverse(*forward(lon, lat))
    _, _, dist = GEOD.inv(lon, lat, back_lon, back_lat)
    assert dist.max() < 0.1
    assert np.abs(back_lon - lon).max() < 1e-8  # in fact float noise


def test_inverse_beats_the_one_step_approximation():
    lon, lat = 104.78, 29.37
    glon, glat = gc.wgs84_to_gcj02(lon, lat)
    one_step = (2 * glon - gc.wgs84_to_gcj02(glon, glat)[0], 2 * glat - gc.wgs84_to_gcj02(glon, glat)[1])
    it = gc.gcj02_to_wgs84(glon, glat)
    d_it = GEOD.inv(lon, lat, *it)[2]
    d_one = GEOD.inv(lon, lat, *one_step)[2]
    assert d_it < 1e-3 < d_one


def test_offset_near_daan_is_about_400_m():
    lon, lat = gc.wgs84_to_gcj02(104.7713, 29.3665)
    assert 300 < GEOD.inv(104.7713, 29.3665, lon, lat)[2] < 600


def test_outside_china_unchanged():
    lon = np.array([2.35, -74.0, 139.69, 151.2])
    lat = np.array([48.85, 40.7, 35.69, -33.87])
    for fn in (gc.wgs84_to_gcj02, gc.gcj02_to_wgs84):
        olon, olat = fn(lon, lat)
        np.testing.assert_array_equal(olon, lon)
        np.testing.assert_array_equal(olat, lat)


def test_scalar_in_scalar_out_and_arrays_match():
    lon, lat = _china(50, 3)
    alon, alat = gc.wgs84_to_gcj02(lon, lat)
    s = gc.wgs84_to_gcj02(float(lon[5]), float(lat[5]))
    assert isinstance(s[0], float) and s == (alon[5], alat[5])


@pytest.mark.parametrize("text, expected", [("wgs84", "wgs84"), ("WGS-84", "wgs84"), ("CGCS2000", "cgcs2000"),
                                            ("gcj02", "gcj02"), ("BD-09", "bd09"), ("epsg:4544", "EPSG:4544"),
                                            ("4326", "EPSG:4326")])
def test_parse_crs_accepts(text, expected):
    assert gc.parse_crs(text) == expected


@pytest.mark.parametrize("text", ["mars", "", "EPSG:999999", "utm"])
def test_parse_crs_refuses_with_the_choices(text):
    with pytest.raises(InvalidData) as exc:
        gc.parse_crs(text)
    assert "coordinate system" in str(exc.value)
    if text != "EPSG:999999":
        assert "wgs84, cgcs2000, gcj02, bd09" in str(exc.value)


def test_metric_crs_check_value_from_domain():
    x, y = gc.metric_transformer().transform(104.78, 29.37)
    assert abs(x - 478640.199) < 0.01 and abs(y - 3250299.801) < 0.01
    lon, lat = gc.to_wgs84([478640.199], [3250299.801], "EPSG:4544")
    assert abs(lon[0] - 104.78) < 1e-7 and abs(lat[0] - 29.37) < 1e-7


def test_to_metric_and_back_for_frames_and_geometries():
    import geopandas as gpd

    poly = shapely.box(104.77, 29.36, 104.78, 29.37)
    m = gc.to_metric(poly)
    assert 900_000 < m.area < 1_200_000  # ≈ 970 m x 1110 m
    assert gc.from_metric(m).equals_exact(poly, 1e-9)
    frame = gpd.GeoDataFrame(geometry=[poly], crs="EPSG:4326")
    assert gc.to_metric(frame).crs.to_epsg() == 4544
    assert abs(gc.to_metric(frame).area.iloc[0] - m.area) < 1e-6


@pytest.mark.parametrize("crs", ["gcj02", "bd09", "cgcs2000", "EPSG:4544"])
def test_to_wgs84_inverts_each_system(crs):
    lon, lat = np.array([104.70, 104.78, 104.90]), np.array([29.30, 29.37, 29.45])
    if crs == "gcj02":
        x, y = gc.wgs84_to_gcj02(lon, lat)
    elif crs == "bd09":
        x, y = gc.wgs84_to_bd09(lon, lat)
    elif crs == "cgcs2000":
        x, y = lon, lat
    else:
        x, y = gc.metric_transformer().transform(lon, lat)
    blon, blat = gc.to_wgs84(x, y, crs)
    assert GEOD.inv(lon, lat, blon, blat)[2].max() < 0.01


def test_parse_coordinates_reports_each_bad_row():
    lon = ["104.77", "29.36", "abc", "120.0", "", "104.80", "104.99"]
    lat = ["29.36", "104.77", "29.3", "30.0", "29.3", "nan", "29.56"]
    lines = [2, 3, 4, 5, 6, 7, 8]
    out_lon, out_lat, errors, ok = gc.parse_coordinates(lon, lat, lines, bbox=(104.55, 29.20, 105.0, 29.55),
                                                        margin_m=2000, fields=("x", "y"))
    by_line = {e.line: e for e in errors}
    assert ok.tolist() == [True, False, False, False, False, False, True]  # 104.99/29.56 is ≈1.1 km out
    assert "swapped" in by_line[3].reason
    assert by_line[4].field == "x" and "not a number" in by_line[4].reason
    assert "outside the district" in by_line[5].reason
    assert by_line[6].field == "x" and by_line[7].field == "y"
    assert np.isnan(out_lon[~ok]).all() and out_lon[0] == 104.77


def test_parse_coordinates_margin_is_configurable_and_crs_applied():
    glon, glat = gc.wgs84_to_gcj02(104.99, 29.56)
    lon, lat, errors, ok = gc.parse_coordinates([glon], [glat], [2], crs="gcj02", margin_m=500, bbox=DISTRICT.bbox)
    assert not ok[0] and "outside" in errors[0].reason
    lon, lat, errors, ok = gc.parse_coordinates([glon], [glat], [2], crs="gcj02", margin_m=3000, bbox=DISTRICT.bbox)
    assert ok[0] and abs(lon[0] - 104.99) < 1e-9
