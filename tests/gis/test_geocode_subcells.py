"""GridIndex's sub-cells (boundary cells split SUB × SUB) and its line test, against PostGIS ST_Covers.

Points are put where the sub-cell cover could go wrong: exactly on sub-cell edges and corners (the
query's cell arithmetic rounds them to either side), on and around every vertex, along every segment
and a hair off it on both sides (inside and just outside the line test's certainty margin).
"""
import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis._cellcover import LINE_TOL, SUB
from gis.geocode import GridIndex
from tests.geometries import X0, Y0, random_layer
from tests.gis.test_geocode import postgis_covers

PATHS = ("pure", "line", "sub_grid", "sub_line", "sub_exact")


def query_paths(index: GridIndex, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Which stage answers each (finite, in-layer) point: a pure/empty cell, a line cell, or a
    boundary cell's sub-cell that holds a grid, a line, or sends the point to the exact test."""
    n, nx, nline = len(index), index._nx, index._nline
    fx = np.clip((lon - index._x0) * index._inv, 0, nx - 1)    # outside the raster: its empty rim
    fy = np.clip((lat - index._y0) * index._inv, 0, index._ny - 1)
    j = index._labels[fy.astype(np.int64) * nx + fx.astype(np.int64)].astype(np.int64) - (n + 1)
    kind = np.full(len(lon), "pure", dtype=object)
    kind[(j >= 0) & (j < nline)] = "line"
    b = np.flatnonzero(j >= nline)
    sx = ((fx[b] - np.trunc(fx[b])) * SUB).astype(np.int64)
    sy = ((fy[b] - np.trunc(fy[b])) * SUB).astype(np.int64)
    v = index._sub[(j[b] - nline) * SUB * SUB + sy * SUB + sx]
    kind[b] = np.where(v < 0, "sub_exact", np.where(v > n, "sub_line", "sub_grid"))
    return kind


def sub_lattice_points(index: GridIndex, rng, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Corners, edge midpoints and centres of the sub-cells of (a sample of) the boundary cells."""
    n = len(index)
    cells = np.flatnonzero(index._labels > n + index._nline)
    cells = rng.choice(cells, min(len(cells), limit // (2 * SUB + 1) ** 2), replace=False)
    size = 1.0 / index._inv
    k = np.arange(2 * SUB + 1) / (2 * SUB)              # sub-cell edges at even k, centres at odd k
    cx = (cells % index._nx)[:, None, None] + k[None, :, None] + 0 * k[None, None, :]
    cy = (cells // index._nx)[:, None, None] + 0 * k[None, :, None] + k[None, None, :]
    return (index._x0 + cx * size).ravel(), (index._y0 + cy * size).ravel()


def segment_points(layer, index: GridIndex) -> tuple[np.ndarray, np.ndarray]:
    """Every vertex, points along every edge, and the same pushed off the edge by a few tolerances."""
    rings = shapely.get_rings(shapely.get_parts(layer.geometry.to_numpy()))
    coords, ring_id = shapely.get_coordinates(rings, return_index=True)
    same = ring_id[1:] == ring_id[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    near_ends = np.geomspace(1e-4, 0.03, 16)           # inside the vertex's boundary cell, in its sub-cells
    t = np.concatenate([near_ends, np.arange(1, 32) / 32, 1 - near_ends])
    on = (a[:, None, :] + t[None, :, None] * (b - a)[:, None, :]).reshape(-1, 2)
    normal = np.column_stack([-(b - a)[:, 1], (b - a)[:, 0]])
    normal /= np.abs(normal).sum(axis=1, keepdims=True)
    normal = np.repeat(normal, len(t), axis=0)
    tol_deg = LINE_TOL / index._inv
    off = [on + normal * d * tol_deg for d in (-30.0, -1.5, -0.5, 0.5, 1.5, 30.0)]
    pts = np.vstack([coords, on, *off])
    return pts[:, 0], pts[:, 1]


@pytest.mark.parametrize("seed", [11, 12])
@pytest.mark.parametrize("max_cells", [None, 3000])
def test_sub_cells_and_line_margin_equal_postgis(session, seed, max_cells):
    layer = random_layer(seed)
    index = GridIndex.from_frame(layer, max_cells=max_cells)
    rng = np.random.default_rng(seed)
    lx, ly = sub_lattice_points(index, rng, 40_000)
    sx, sy = segment_points(layer, index)
    w, s, e, n = layer.total_bounds
    rx, ry = rng.uniform(w, e, 5000), rng.uniform(s, n, 5000)
    lon, lat = np.concatenate([lx, sx, rx]), np.concatenate([ly, sy, ry])
    expected = postgis_covers(session, layer, lon, lat)
    got = index.locate(lon, lat, workers=1)
    bad = np.flatnonzero(got != expected)
    assert not len(bad), [(lon[i], lat[i], got[i], expected[i]) for i in bad[:5]]
    # the points reach every stage, the sub-cells' three kinds included, on lattice and on segments
    kinds = query_paths(index, lon, lat)
    for kind in PATHS:
        assert (kinds == kind).sum() > 20, (kind, {k: int((kinds == k).sum()) for k in PATHS})
    seg_kinds = kinds[len(lx):len(lx) + len(sx)]
    assert (seg_kinds == "sub_line").sum() > 20 and (seg_kinds == "line").sum() > 20


def test_overlap_and_island_inside_sub_cells_equal_brute_force():
    # a grid overlapping two others and an island grid in a hole, with their corners and edges all
    # inside boundary cells of a coarse raster: sub-cells must see grids that cover them without an edge
    big = shapely.Polygon([(X0, Y0), (X0 + 0.01, Y0), (X0 + 0.01, Y0 + 0.01), (X0, Y0 + 0.01)],
                          [[(X0 + 0.003, Y0 + 0.003), (X0 + 0.003, Y0 + 0.004), (X0 + 0.004, Y0 + 0.004),
                            (X0 + 0.004, Y0 + 0.003)]])
    right = shapely.box(X0 + 0.01, Y0, X0 + 0.02, Y0 + 0.01)
    island = shapely.box(X0 + 0.003, Y0 + 0.003, X0 + 0.004, Y0 + 0.004)
    over = shapely.box(X0 + 0.0081, Y0 + 0.0021, X0 + 0.0119, Y0 + 0.0059)
    layer = gpd.GeoDataFrame({"code": ["510304001001004", "510304001001002", "510304001001003",
                                       "510304001001001"]}, geometry=[big, right, island, over], crs=4326)
    rng = np.random.default_rng(5)
    for max_cells in (40, 400, None):
        index = GridIndex.from_frame(layer, max_cells=max_cells)
        lx, ly = sub_lattice_points(index, rng, 60_000)
        sx, sy = segment_points(layer, index)
        rx, ry = rng.uniform(X0 - 0.001, X0 + 0.021, 20_000), rng.uniform(Y0 - 0.001, Y0 + 0.011, 20_000)
        lon, lat = np.concatenate([lx, sx, rx]), np.concatenate([ly, sy, ry])
        got = index.locate(lon, lat, workers=1)
        # brute force: every grid tested exactly, the smallest covering code wins
        codes = layer["code"].to_numpy()
        order = np.argsort(codes)
        expected = np.full(len(lon), None, dtype=object)
        for g in order[::-1]:
            expected[shapely.intersects_xy(layer.geometry.iloc[g], lon, lat)] = codes[g]
        bad = np.flatnonzero(got != expected)
        assert not len(bad), (max_cells, [(lon[i], lat[i], got[i], expected[i]) for i in bad[:5]])
        kinds = query_paths(index, lon, lat)
        assert (kinds == "sub_grid").sum() and (kinds == "sub_line").sum() and (kinds == "sub_exact").sum()


def test_raster_without_line_cells():
    # so coarse that every cell near a boundary holds a vertex: no line cell at all (row 0 of the line
    # table is only a stand-in), and answers still come from the sub-cells and the exact test
    tri = shapely.Polygon([(X0, Y0), (X0 + 0.001, Y0), (X0, Y0 + 0.001)])
    index = GridIndex(["510304001001001"], [tri], max_cells=1)
    assert index._nline == 0
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(X0 - 0.0002, X0 + 0.0012, 5000), rng.uniform(Y0 - 0.0002, Y0 + 0.0012, 5000)
    lon[:3], lat[:3] = [X0, X0 + 0.0005, X0 + 0.001], [Y0, Y0 + 0.0005, Y0]   # vertex, hypotenuse, vertex
    got = index.locate(lon, lat)
    expected = np.where(shapely.intersects_xy(tri, lon, lat), "510304001001001", None)
    assert (got == expected).all()
    assert (got[:3] == "510304001001001").all()
