"""GridIndex behaviours that mutation testing found unpinned: snapping to the first grid and ties,
overlapping grids under a third grid's edge, and zero-width spikes (brute force and PostGIS as oracles)."""
import geopandas as gpd
import numpy as np
import pytest
import shapely
import shapely.affinity

from gis.crs import from_metric, to_metric
from gis.geocode import GridIndex
from tests.geometries import STEP, X0, Y0
from tests.gis.test_geocode import postgis_covers
from tests.gis.test_geocode_subcells import query_paths, segment_points, sub_lattice_points

A, B, C = "510304001001001", "510304001001002", "510304001001003"


def brute_force(codes, geoms, lon, lat) -> np.ndarray:
    """Smallest code among the grids that cover each point (every grid tested exactly)."""
    out = np.full(len(lon), None, dtype=object)
    for i in np.argsort(codes)[::-1]:
        out[shapely.intersects_xy(geoms[i], lon, lat)] = codes[i]
    return out


def probe(index, geoms, rng, box, n_random=40_000):
    layer = gpd.GeoDataFrame(geometry=list(geoms), crs=4326)
    lx, ly = sub_lattice_points(index, rng, 30_000)
    sx, sy = segment_points(layer, index)
    rx, ry = rng.uniform(box[0], box[2], n_random), rng.uniform(box[1], box[3], n_random)
    return np.concatenate([lx, sx, rx]), np.concatenate([ly, sy, ry])


# -- snap_m -----------------------------------------------------------------------------------------
def _metric_point(x, y):
    return from_metric(shapely.Point(x, y))


def test_snap_m_can_give_the_first_grid():
    """The grid with the smallest code is index 0: a nearest-grid answer of 0 is a grid, not "none"."""
    first, second = shapely.box(X0, Y0, X0 + STEP, Y0 + STEP), shapely.box(X0 + STEP, Y0, X0 + 2 * STEP, Y0 + STEP)
    index = GridIndex([B, A], [second, first])           # given out of order: the index sorts by code
    assert index.codes[0] == A
    west = to_metric(shapely.Point(X0, Y0 + STEP / 2))
    east = to_metric(shapely.Point(X0 + 2 * STEP, Y0 + STEP / 2))
    pts = [_metric_point(west.x - 50, west.y), _metric_point(east.x + 50, east.y),
           _metric_point(west.x - 150, west.y)]
    codes, snapped = index.locate([p.x for p in pts], [p.y for p in pts], snap_m=100)
    assert codes.tolist() == [A, B, None] and snapped.tolist() == [True, True, False]
    assert index.locate(pts[0].x, pts[0].y, snap_m=100) == (A, True)
    assert index.locate(pts[0].x, pts[0].y, snap_m=0) == (None, False)   # 0: no snapping at all
    assert index.locate(pts[0].x, pts[0].y) is None


@pytest.mark.parametrize("codes", [(A, B), (B, A)])
def test_snap_m_tie_goes_to_the_smaller_code(codes):
    """Two grids whose nearest point to P is the same shared vertex V: exactly equal distances."""
    v = to_metric(shapely.Point(X0 + STEP, Y0 + STEP))
    s = 150.0
    # left: the triangle below-left of V; right: the triangle below-right; they share the edge down from V
    left = shapely.Polygon([(v.x, v.y), (v.x - s, v.y), (v.x, v.y - s)])
    right = shapely.Polygon([(v.x, v.y), (v.x, v.y - s), (v.x + s, v.y - s)])
    # P, up and a little right of V, lies in both triangles' normal cones at V: V is nearest in both
    p = shapely.Point(v.x + 12.0, v.y + 40.0)
    assert shapely.distance(left, p) == shapely.distance(right, p) == shapely.distance(shapely.Point(v.x, v.y), p)
    geoms = from_metric(np.array([left, right]))
    index = GridIndex(list(codes), geoms)
    wp = from_metric(p)
    assert index.locate(wp.x, wp.y) is None
    assert index.locate(wp.x, wp.y, snap_m=100) == (A, True)
    far = from_metric(shapely.Point(v.x + 30.0, v.y + 100.0))
    assert index.locate(far.x, far.y, snap_m=100) == (None, False)


def test_snap_m_ignores_points_that_are_not_numbers():
    index = GridIndex([A], [shapely.box(X0, Y0, X0 + STEP, Y0 + STEP)])
    lon = np.array([np.nan, X0 + STEP / 2, np.inf, -np.inf, X0 - 1e-4])
    lat = np.array([Y0, np.nan, Y0, Y0, Y0 + STEP / 2])
    codes, snapped = index.locate(lon, lat, snap_m=50)
    assert codes.tolist() == [None, None, None, None, A] and snapped.tolist() == [False] * 4 + [True]


# -- overlaps under a third grid's edge, spikes --------------------------------------------------------
@pytest.mark.parametrize("max_cells", [30, 300, 3000, None])
def test_two_overlapping_grids_crossed_by_a_third_grids_edge(max_cells):
    """Inside one cell, two grids cover everything and a third grid's edge crosses it: the cell has one
    segment but two grids no segment of it bounds, so neither side of the line is a single grid."""
    big = shapely.box(X0, Y0, X0 + 0.01, Y0 + 0.01)                           # C (largest code)
    inner = shapely.box(X0 + 0.001, Y0 + 0.001, X0 + 0.009, Y0 + 0.009)      # B, overlapping C
    cross = shapely.Polygon([(X0 + 0.0043, Y0 + 0.0031), (X0 + 0.0121, Y0 + 0.0037),
                             (X0 + 0.0117, Y0 + 0.0071), (X0 + 0.0047, Y0 + 0.0063)])  # A, its west edge slanted
    codes, geoms = np.array([C, B, A], dtype=object), np.array([big, inner, cross], dtype=object)
    index = GridIndex(codes, geoms, max_cells=max_cells)
    rng = np.random.default_rng(max_cells or 1)
    lon, lat = probe(index, geoms, rng, (X0 - 0.001, Y0 - 0.001, X0 + 0.013, Y0 + 0.011))
    # and points just either side of A's west edge, where only B/C (left) or A (right) cover
    t = rng.uniform(0, 1, 4000)
    ex, ey = X0 + 0.0043 + t * 0.0004, Y0 + 0.0031 + t * 0.0032
    for d in (-1e-9, 1e-9, -1e-6, 1e-6):
        lon, lat = np.concatenate([lon, ex + d]), np.concatenate([lat, ey])
    got = index.locate(lon, lat, workers=1)
    expected = brute_force(codes, geoms, lon, lat)
    bad = np.flatnonzero(got != expected)
    assert not len(bad), [(lon[i], lat[i], got[i], expected[i]) for i in bad[:5]]
    assert {A, B, C, None} <= set(expected)
    on_edge = query_paths(index, ex, ey)
    assert (on_edge != "pure").all()     # the edge's cells are special cells, decided by the machinery above


SPIKE_RING = [(0, 0), (8, 0), (8, 3), (13, 5), (8, 3), (8, 8), (0, 8)]   # outward spike from the east edge
INWARD_RING = [(0, 0), (8, 0), (8, 3), (3, 5), (8, 3), (8, 8), (0, 8)]   # inward spike into the interior


def _scaled(ring, unit=STEP / 4):
    return shapely.Polygon([(X0 + x * unit, Y0 + y * unit) for x, y in ring])


@pytest.mark.parametrize("ring", [SPIKE_RING, INWARD_RING], ids=["outward", "inward"])
@pytest.mark.parametrize("max_cells", [20, 200, 2000, None])
def test_zero_width_spike_vertex_inside_a_cell(ring, max_cells):
    """A ring going out to a vertex and straight back (zero width): its two edges are one segment with
    the grid on both sides. Only the spike's line belongs to the grid (outward), or all around it does
    (inward); the grid must not be given to the points beside the spike."""
    spike = _scaled(ring)
    neighbour = shapely.box(X0 + 8 * STEP / 4, Y0 + 6 * STEP / 4, X0 + 16 * STEP / 4, Y0 + 10 * STEP / 4)
    codes, geoms = np.array([B, A], dtype=object), np.array([spike, neighbour], dtype=object)
    index = GridIndex(codes, geoms, max_cells=max_cells)
    rng = np.random.default_rng(7)
    lon, lat = probe(index, geoms, rng, (X0 - STEP / 8, Y0 - STEP / 8, X0 + 4.2 * STEP, Y0 + 2.7 * STEP))
    got = index.locate(lon, lat, workers=1)
    expected = brute_force(codes, geoms, lon, lat)
    bad = np.flatnonzero(got != expected)
    assert not len(bad), [(lon[i], lat[i], got[i], expected[i]) for i in bad[:5]]
    tip = spike.exterior.coords[3]
    assert index.locate(*tip) == B                          # the tip and the spike's line are the grid's boundary
    mid = ((spike.exterior.coords[2][0] + tip[0]) / 2, (spike.exterior.coords[2][1] + tip[1]) / 2)
    assert index.locate(*mid) == B
    beside = index.locate(mid[0], mid[1] + STEP / 64)
    assert beside == (None if ring is SPIKE_RING else B)


def test_spike_and_overlap_layers_equal_postgis(session):
    """The same layers as above against the production oracle: MIN(code) over ST_Covers."""
    spike = _scaled(SPIKE_RING)
    layers = [
        ([B, A], [spike, shapely.affinity.translate(_scaled(INWARD_RING), 0, 3 * STEP)]),
        ([C, B, A], [shapely.box(X0, Y0, X0 + 0.01, Y0 + 0.01), shapely.box(X0 + 0.001, Y0 + 0.001, X0 + 0.009, Y0 + 0.009),
                     shapely.box(X0 + 0.0043, Y0 + 0.0031, X0 + 0.0121, Y0 + 0.0063)]),
    ]
    rng = np.random.default_rng(3)
    for codes, geoms in layers:
        frame = gpd.GeoDataFrame({"code": codes}, geometry=geoms, crs=4326)
        index = GridIndex.from_frame(frame, max_cells=200)
        w, s, e, n = frame.total_bounds
        lon, lat = probe(index, frame.geometry.to_numpy(), rng, (w - 1e-4, s - 1e-4, e + 1e-4, n + 1e-4), 5000)
        got = index.locate(lon, lat, workers=1)
        expected = postgis_covers(session, frame, lon, lat)
        bad = np.flatnonzero(got != expected)
        assert not len(bad), [(lon[i], lat[i], got[i], expected[i]) for i in bad[:5]]


CORNER_SHAPES = {  # the grid's ring near its corner C (in cells): which edges end exactly at C
    "box": [(-3, -3), (0, -3), (0, 0), (-3, 0)],          # a vertical and a horizontal edge
    "horizontal+diagonal": [(-3, -3), (0, 0), (-3, 0)],
    "vertical+diagonal": [(-3, -3), (0, -3), (0, 0)],
}


@pytest.mark.parametrize("shape", CORNER_SHAPES)
@pytest.mark.parametrize("corner", [(8, 8), (8, 20), (31, 9)])
def test_vertex_exactly_on_a_cell_corner_inside_another_grid(corner, shape):
    """A grid's corner exactly on a raster corner, inside a larger grid: the cell beyond the corner meets
    the smaller grid in that one point only, yet it must not be the larger grid's pure cell (every edge
    ending at the corner, one cell long per piece, reaches three columns or rows with the slack)."""
    side = 1 / 64                                 # 64 × 64 cells of 2⁻¹² degrees: cell coordinates are exact
    outer = shapely.box(X0, Y0, X0 + side, Y0 + side)
    probe_index = GridIndex([B], [outer], max_cells=64 * 64)
    size = 1 / probe_index._inv
    assert size == 2.0 ** -12
    cx, cy = probe_index._x0 + corner[0] * size, probe_index._y0 + corner[1] * size   # a cell corner
    inner = shapely.Polygon([(cx + i * size, cy + j * size) for i, j in CORNER_SHAPES[shape]])
    index = GridIndex([B, A], [outer, inner], max_cells=64 * 64)
    assert (index._x0, index._inv) == (probe_index._x0, probe_index._inv)               # the same raster
    assert index.locate(cx, cy) == A                                                   # the corner: both cover it
    lon = cx + np.array([-1, 0, 1, 0, 1, 1, -1]) * 1e-12
    lat = cy + np.array([0, -1, 0, 1, 1, -1, 1]) * 1e-12
    expected = brute_force(np.array([B, A], dtype=object), np.array([outer, inner], dtype=object), lon, lat)
    assert index.locate(lon, lat).tolist() == expected.tolist()
