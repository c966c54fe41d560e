"""A catalogue of grid geometries for tests: shared edges, holes, islands, multipolygons, overlaps,
slivers, invalid rings, and a way to plant defects in a copy of the demo grids.

Random layers use dyadic coordinates (104.5 + k/4096 degrees): every vertex, and every midpoint of an
edge, is exactly representable, so "on the boundary" is exact in GEOS and in PostGIS alike.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

X0, Y0 = 104.5, 29.25
STEP = 1 / 512          # lattice spacing (≈ 200 m)
JITTER = 1 / 4096       # vertex jitter, dyadic


def random_layer(seed: int, nx: int = 8, ny: int = 6) -> gpd.GeoDataFrame:
    """A jittered lattice of grids with shared (slanted) edges, holes (empty and with island grids),
    multipolygon grids and one overlapping grid. Codes are 15-digit strings in random order."""
    rng = np.random.default_rng(seed)
    vx = X0 + np.arange(nx + 1)[:, None] * STEP + np.zeros((1, ny + 1))
    vy = Y0 + np.arange(ny + 1)[None, :] * STEP + np.zeros((nx + 1, 1))
    jx = rng.integers(-2, 3, size=vx.shape) * JITTER
    jy = rng.integers(-2, 3, size=vy.shape) * JITTER
    jx[[0, -1], :] = 0
    jy[:, [0, -1]] = 0
    vx, vy = vx + jx, vy + jy
    cells = {}
    for i in range(nx):
        for j in range(ny):
            ring = [(vx[i, j], vy[i, j]), (vx[i + 1, j], vy[i + 1, j]), (vx[i + 1, j + 1], vy[i + 1, j + 1]),
                    (vx[i, j + 1], vy[i, j + 1])]
            cells[(i, j)] = ring
    geoms: list = []
    owner = list(cells)
    rng.shuffle(owner)
    holes_done = 0
    used = set()
    for key in owner:
        if key in used:
            continue
        used.add(key)
        ring = cells[key]
        poly = Polygon(ring)
        if holes_done < 3 and 0 < key[0] < nx - 1 and 0 < key[1] < ny - 1:
            cx, cy = X0 + (key[0] + 0.5) * STEP, Y0 + (key[1] + 0.5) * STEP
            hole = box(cx - JITTER, cy - JITTER, cx + JITTER, cy + JITTER)
            poly = Polygon(ring, [hole.exterior.coords[::-1]])
            if holes_done == 0:  # an island grid fills the first hole exactly; the others stay empty
                geoms.append(hole)
            holes_done += 1
        partner = (key[0] + 2, key[1])
        if partner in cells and partner not in used and rng.random() < 0.15:
            used.add(partner)
            poly = MultiPolygon([poly, Polygon(cells[partner])])
        geoms.append(poly)
    # one grid overlapping others, with edges on the lattice midlines
    geoms.append(box(X0 + 2.5 * STEP, Y0 + 1.5 * STEP, X0 + 3.5 * STEP, Y0 + 2.5 * STEP))
    serials = rng.permutation(len(geoms))
    codes = [f"510304001001{s:03d}" for s in serials]
    return gpd.GeoDataFrame({"code": codes}, geometry=geoms, crs="EPSG:4326")


def probe_points(layer: gpd.GeoDataFrame, seed: int, n_random: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Points on every vertex, on every edge midpoint, inside holes, at random, and outside the layer."""
    rng = np.random.default_rng(seed)
    geoms = layer.geometry.to_numpy()
    rings = shapely.get_rings(shapely.get_parts(geoms))
    coords, ring_id = shapely.get_coordinates(rings, return_index=True)
    same = ring_id[1:] == ring_id[:-1]
    mids = (coords[:-1][same] + coords[1:][same]) / 2
    quarter = (coords[:-1][same] * 3 + coords[1:][same]) / 4
    w, s, e, n = layer.total_bounds
    rand = np.column_stack([rng.uniform(w - STEP, e + STEP, n_random), rng.uniform(s - STEP, n + STEP, n_random)])
    # snapped to the jitter lattice too: many fall exactly on axis-aligned edges and vertices
    lattice = np.round(rand[: n_random // 3] / JITTER) * JITTER
    far = np.array([[0.0, 0.0], [180.0, 89.0], [w - 1.0, s], [w, n + 1.0]])
    pts = np.vstack([coords, mids, quarter, rand, lattice, far])
    return pts[:, 0], pts[:, 1]


# -- small named geometries ------------------------------------------------------------------
def square(x: float, y: float, size: float = STEP) -> Polygon:
    return box(x, y, x + size, y + size)


BOWTIE = Polygon([(X0, Y0), (X0 + STEP, Y0 + STEP), (X0 + STEP, Y0), (X0, Y0 + STEP)])  # self-intersection


def plant_defects(grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, dict]:
    """A broken copy of a clean grid layer: one defect of each kind, and what was planted where.

    Returns the copy and ``{kind: code or codes}``.
    """
    from gis.crs import from_metric, to_metric

    g = grids.copy().reset_index(drop=True)
    metric = to_metric(g.geometry)
    planted: dict[str, object] = {}
    # pick grids far apart so the defects do not touch each other
    order = np.argsort(metric.centroid.x.to_numpy())
    picks = [int(order[k]) for k in np.linspace(0, len(order) - 1, 8).astype(int)]
    a, b, c, d, e, f, h, k = picks

    # overlap and outside: the westernmost grid grown by 30 m (into its neighbours and out of the district)
    g.loc[a, "geometry"] = from_metric(metric.iloc[a].buffer(30, join_style="mitre"))
    planted["overlap"] = g.loc[a, "code"]
    planted["outside"] = g.loc[a, "code"]

    # invalid: a bow-tie ring (self-intersection) over one grid's bounding box
    minx, miny, maxx, maxy = metric.iloc[b].bounds
    g.loc[b, "geometry"] = from_metric(Polygon([(minx, miny), (maxx, maxy), (maxx, miny), (minx, maxy)]))
    planted["invalid"] = g.loc[b, "code"]

    # gap: shrink one grid by 20 m
    g.loc[c, "geometry"] = from_metric(metric.iloc[c].buffer(-20, join_style="mitre"))
    planted["gap"] = g.loc[c, "code"][:12]

    # sliver: a 5 m x 5 m grid inside another grid's area → also an overlap
    centre = metric.iloc[d].representative_point()
    sliver = box(centre.x, centre.y, centre.x + 5, centre.y + 5)
    code_d = g.loc[d, "code"]
    new_code = code_d[:12] + "999"
    g = gpd.GeoDataFrame(
        np.vstack([g.drop(columns="geometry").to_numpy(), [[new_code] + [g.iloc[d][col] for col in
                                                           g.columns if col not in ("code", "geometry")]]]),
        columns=[col for col in g.columns if col != "geometry"],
        geometry=list(g.geometry) + [from_metric(sliver)], crs=g.crs)
    planted["sliver"] = new_code

    # duplicate code
    g.loc[e, "code"] = g.loc[f, "code"]
    planted["duplicate"] = g.loc[f, "code"]

    # malformed code
    g.loc[h, "code"] = "51030X" + g.loc[h, "code"][6:]
    planted["code"] = g.loc[h, "code"]

    # grid code not starting with its community's code (a community code that does not exist)
    g.loc[k, "code"] = g.loc[k, "code"][:9] + "998" + g.loc[k, "code"][12:]
    planted["community"] = g.loc[k, "code"]
    return g, planted
