"""gis.crs behaviours that mutation testing found unpinned: the exact bounds of the GCJ-02 box (both
sides of each), and which field an infinite or NaN coordinate's error names."""
import numpy as np
import pytest

from gis import crs as gc
from gis.errors import InvalidData
from tests.settings import DISTRICT

BBOX, MARGIN = DISTRICT.bbox, DISTRICT.margin_m
# (lon, lat) on each bound of the public algorithm's box (inside: shifted) and a hair beyond it (not)
EDGES = {
    "west": ((72.004, 30.0), (72.0039, 30.0)),
    "east": ((137.8347, 30.0), (137.8348, 30.0)),
    "south": ((110.0, 0.8293), (110.0, 0.8292)),
    "north": ((110.0, 55.8271), (110.0, 55.8272)),
}


@pytest.mark.parametrize("edge", EDGES)
def test_gcj02_box_bounds_are_inclusive_and_beyond_them_nothing_moves(edge):
    (on_lon, on_lat), (out_lon, out_lat) = EDGES[edge]
    assert not gc.out_of_china(on_lon, on_lat) and gc.out_of_china(out_lon, out_lat)
    for fn in (gc.wgs84_to_gcj02, gc.gcj02_to_wgs84):
        moved = fn(on_lon, on_lat)
        assert abs(moved[0] - on_lon) > 1e-5 or abs(moved[1] - on_lat) > 1e-5, (fn.__name__, moved)
        assert fn(out_lon, out_lat) == (out_lon, out_lat)


def test_between_the_equator_and_the_box_south_edge_nothing_moves():
    """0°–0.8293°N is outside the box (the South China Sea's southern tip is about 3.8°N)."""
    lat = np.array([0.0, 0.1, 0.5, 0.8, 0.82929])
    lon = np.full(len(lat), 112.0)
    for fn in (gc.wgs84_to_gcj02, gc.gcj02_to_wgs84):
        olon, olat = fn(lon, lat)
        np.testing.assert_array_equal(olon, lon)
        np.testing.assert_array_equal(olat, lat)
    # and BD-09 is then only Baidu's own rotation of the unshifted point
    np.testing.assert_array_equal(np.array(gc.wgs84_to_bd09(lon, lat)), np.array(gc.gcj02_to_bd09(lon, lat)))
    assert gc.out_of_china(lon, lat).all() and not gc.out_of_china(112.0, 0.83)


@pytest.mark.parametrize("bad", ["inf", "-inf", "nan", "Infinity", "-Infinity", "1e999", float("inf"),
                                 float("-inf"), float("nan")])
@pytest.mark.parametrize("which", ["lon", "lat"])
def test_infinite_or_nan_coordinate_names_its_own_field(bad, which):
    lon, lat = ["104.77", "104.78"], ["29.36", "29.37"]
    (lon if which == "lon" else lat)[1] = bad
    out_lon, out_lat, errors, ok = gc.parse_coordinates(lon, lat, [2, 3], bbox=BBOX, margin_m=MARGIN,
                                                        fields=("经度", "纬度"))
    assert ok.tolist() == [True, False]
    assert [(e.line, e.field) for e in errors] == [(3, "经度" if which == "lon" else "纬度")]
    assert errors[0].reason == f"{bad!r} is not a number"
    assert np.isnan(out_lon[1]) and np.isnan(out_lat[1]) and out_lon[0] == 104.77


def test_both_coordinates_infinite_names_the_first():
    _, _, errors, ok = gc.parse_coordinates(["inf"], ["-inf"], [7], bbox=BBOX, margin_m=MARGIN)
    assert [(e.line, e.field) for e in errors] == [(7, "lon")] and not ok[0]


def test_finite_but_impossible_positions_name_both_fields():
    # finite numbers that no CRS maps into the district: the pair is at fault, not one number
    _, _, errors, ok = gc.parse_coordinates(["1e300", "104.77"], ["29.36", "95"], [2, 3], bbox=BBOX, margin_m=MARGIN)
    assert [(e.line, e.field) for e in errors] == [(2, "lon/lat"), (3, "lon/lat")] and not ok.any()


@pytest.mark.parametrize("text", ["EPSG:４３２６", "４５４４", "epsg:٤٣٢٦"])
def test_parse_crs_refuses_non_ascii_digits_with_the_choices(text):
    with pytest.raises(InvalidData) as info:
        gc.parse_crs(text)
    assert "use one of wgs84, cgcs2000, gcj02, bd09 or EPSG:nnnn" in str(info.value)


def test_a_point_exactly_at_the_margin_is_accepted_a_metre_further_is_not():
    lon, lat = np.array([105.01]), np.array([29.40])          # ≈ 970 m east of the extent
    dist = float(gc.distance_outside_bbox_m(lon, lat, BBOX)[0])
    assert 900 < dist < 1100
    _, _, errors, ok = gc.parse_coordinates(["105.01"], ["29.40"], [2], bbox=BBOX, margin_m=dist)
    assert ok[0] and not errors
    _, _, errors, ok = gc.parse_coordinates(["105.01"], ["29.40"], [2], bbox=BBOX, margin_m=dist - 1)
    assert not ok[0] and "km outside the district extent" in errors[0].reason


def test_full_width_comma_is_a_decimal_mark_an_ascii_comma_is_not():
    out_lon, out_lat, errors, ok = gc.parse_coordinates(["104，77", "104,77"], ["29，36", "29.36"], [2, 3],
                                                        bbox=BBOX, margin_m=MARGIN)
    assert ok.tolist() == [True, False] and (out_lon[0], out_lat[0]) == (104.77, 29.36)
    assert [(e.line, e.field) for e in errors] == [(3, "lon")]
