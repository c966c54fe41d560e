"""Grid layer topology (网格拓扑) checks and safe repairs.

Grids of a community must tile it: valid polygons, no overlaps, no gaps, nothing outside the community,
no slivers, well-formed unique codes that start with their community's code.

Topology is judged in EPSG:4326, where the database stores and compares the geometries: a community
drawn with four corner vertices and the many-vertex grids that tile it share their edges exactly in
lon/lat, but not after projecting the vertices (a straight lon/lat edge becomes a curve in a projected
CRS, so its few projected vertices cut off centimetre-wide slivers along kilometres of edge). Only the
pieces found (overlaps, gaps, parts outside, grids) are projected, densified, to EPSG:4544 to measure
their areas in m² and compare them with the m² thresholds. Problem geometries are in EPSG:4326.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from gis.codes import COMMUNITY, GRID
from gis.crs import STORAGE_CRS, to_metric

NOISE_M2 = 0.01        # overlaps/gaps smaller than this are float noise of shared edges, not mistakes
SLIVER_M2 = 200.0      # a grid (or a part of one) smaller than this is a sliver
# before a piece is projected its lon/lat edges are cut to this length (degrees, ≈ 100 m), so its projected
# outline follows the straight lon/lat edges to well under a millimetre (the sagitta of a 100 m chord)
DENSIFY_DEG = 1e-3

KINDS = ("invalid", "code", "duplicate", "community", "overlap", "gap", "outside", "sliver")


@dataclass
class Problem:
    """One topology problem: its kind, the grid codes involved, a message, its area (m²) and geometry."""

    kind: str
    codes: tuple[str, ...]
    message: str
    area_m2: float | None = None
    geometry: object = None   # shapely geometry in EPSG:4326, or None
    row: int | None = None    # 0-based position in the input frame of the first grid involved

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass
class TopologyReport:
    """What :func:`check_grids` found. ``ok`` when ``errors`` is empty."""

    errors: list[Problem] = field(default_factory=list)
    grids: int = 0
    communities: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def count(self, kind: str) -> int:
        return sum(p.kind == kind for p in self.errors)

    def summary(self) -> str:
        if self.ok:
            return f"{self.grids} grids in {self.communities} communities: no problems"
        parts = ", ".join(f"{self.count(k)} {k}" for k in KINDS if self.count(k))
        return f"{self.grids} grids in {self.communities} communities: {len(self.errors)} problem(s) ({parts})"

    def to_frame(self) -> gpd.GeoDataFrame:
        """Problem geometries (EPSG:4326) with kind, codes, message and area_m2, for a GeoPackage."""
        rows = [{"kind": p.kind, "codes": ";".join(p.codes), "message": p.message,
                 "area_m2": None if p.area_m2 is None else round(float(p.area_m2), 3)} for p in self.errors]
        geoms = [p.geometry for p in self.errors]
        return gpd.GeoDataFrame(rows, columns=["kind", "codes", "message", "area_m2"], geometry=geoms,
                                crs=STORAGE_CRS)


def _storage_geoms(frame: gpd.GeoDataFrame) -> np.ndarray:
    """The frame's geometries in EPSG:4326 (EPSG:4326 assumed when the frame has no CRS)."""
    if frame.crs is None:
        frame = frame.set_crs(STORAGE_CRS)
    elif frame.crs != STORAGE_CRS:
        frame = frame.to_crs(STORAGE_CRS)
    return np.asarray(frame.geometry.to_numpy(), dtype=object)


def area_m2(geoms):
    """Area in m² of EPSG:4326 geometries (one or an array), measured in EPSG:4544.

    Each geometry is densified to ``DENSIFY_DEG`` first, so its projected outline follows its straight
    lon/lat edges; an empty geometry has area 0.

    Parameters
    ----------
    geoms : shapely.Geometry or array of them
        Polygons in EPSG:4326 (lon/lat degrees).

    Returns
    -------
    float or numpy.ndarray
        Areas in m² (EPSG:4544, CGCS2000 / 3-degree Gauss-Krüger CM 105°E).
    """
    dense = shapely.segmentize(geoms, DENSIFY_DEG)
    return shapely.area(to_metric(dense))


def _polygonal(geom, min_area_m2: float = 0.0):
    """make_valid (in EPSG:4326), keeping only the polygonal parts (a repaired bow-tie must stay a
    polygon) larger than ``min_area_m2`` (repairs leave crumbs of float noise)."""
    fixed = shapely.make_valid(geom)
    parts = np.array([p for p in shapely.get_parts(shapely.get_parts(fixed)) if p.geom_type == "Polygon"],
                     dtype=object)
    if len(parts) and min_area_m2 > 0:
        parts = parts[area_m2(parts) > min_area_m2]
    return shapely.union_all(parts) if len(parts) else shapely.Polygon()


def _shown(geom):
    return None if geom is None or geom.is_empty else geom


def check_grids(grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame | None, *, sliver_m2: float = SLIVER_M2,
                code: str = "code", community_code: str = "code", min_area_m2: float = NOISE_M2
                ) -> TopologyReport:
    """Check a grid layer against its communities.

    Parameters
    ----------
    grids : GeoDataFrame
        Grid polygons with a ``code`` column (any CRS; EPSG:4326 assumed when unset).
    communities : GeoDataFrame or None
        Community polygons with a ``community_code`` column; without them only the checks on the
        grids alone run (validity, codes, overlaps, slivers).
    sliver_m2 : float
        A grid or grid part below this area (m²) is reported as a sliver.
    min_area_m2 : float
        Overlaps, gaps and parts outside the community below this area (m²) are float noise.

    Returns
    -------
    TopologyReport
    """
    report = TopologyReport(grids=len(grids), communities=0 if communities is None else len(communities))
    codes = [str(c) if c is not None else "" for c in grids[code].tolist()]
    geoms = _storage_geoms(grids)
    err = report.errors

    valid = shapely.is_valid(geoms)
    for i in np.flatnonzero(~valid):
        err.append(Problem("invalid", (codes[i],), f"grid {codes[i]} has an invalid geometry: "
                           f"{shapely.is_valid_reason(geoms[i])}", geometry=geoms[i], row=int(i)))
    fixed = np.array([g if ok else _polygonal(g) for g, ok in zip(geoms, valid)], dtype=object)

    seen: dict[str, int] = {}
    for i, c in enumerate(codes):
        if not GRID.is_valid(c):
            err.append(Problem("code", (c,), f"grid code {c!r} is malformed: a grid code has {GRID.length} digits "
                               f"(12-digit community code + 3-digit serial)", row=i))
        elif c in seen:
            err.append(Problem("duplicate", (c,), f"grid code {c} appears more than once (rows {seen[c] + 1} and "
                               f"{i + 1})", geometry=_shown(fixed[i]), row=i))
        else:
            seen[c] = i

    areas = area_m2(fixed)
    for i in np.flatnonzero(areas < sliver_m2):
        err.append(Problem("sliver", (codes[i],), f"grid {codes[i]} is a sliver of {areas[i]:.1f} m² (below "
                           f"{sliver_m2:g} m²)", areas[i], _shown(fixed[i]), row=int(i)))
    for i in np.flatnonzero(areas >= sliver_m2):
        parts = shapely.get_parts(fixed[i])
        if len(parts) > 1:
            part_m2 = area_m2(parts)
            for p, m2 in zip(parts[part_m2 < sliver_m2], part_m2[part_m2 < sliver_m2]):
                err.append(Problem("sliver", (codes[i],), f"grid {codes[i]} has a sliver part of {m2:.1f} m²",
                                   m2, p, row=int(i)))

    tree = shapely.STRtree(fixed)
    left, right = tree.query(fixed, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    inters = shapely.intersection(fixed[left], fixed[right])
    some = shapely.area(inters) > 0  # neighbours meet along an edge: no area, nothing to measure
    for i, j, inter, m2 in zip(left[some], right[some], inters[some], area_m2(inters[some])):
        if m2 > min_area_m2:
            a, b = sorted((codes[i], codes[j]))
            err.append(Problem("overlap", (a, b), f"grids {a} and {b} overlap by {m2:.1f} m²", m2, inter,
                               row=int(i)))

    if communities is not None and len(communities):
        _check_communities(report, communities, community_code, codes, fixed, tree, min_area_m2)
    return report


def _check_communities(report, communities, community_code, codes, fixed, tree, min_area_m2) -> None:
    err = report.errors
    ccodes = [str(c) for c in communities[community_code].tolist()]
    cgeoms = np.array([g if g.is_valid else _polygonal(g) for g in _storage_geoms(communities)], dtype=object)
    by_code = dict(zip(ccodes, range(len(ccodes))))
    for i, c in enumerate(codes):
        if not GRID.is_valid(c):
            continue
        parent = c[: COMMUNITY.length]
        k = by_code.get(parent)
        if k is None:
            # "their" community is the one holding most of the grid
            hits = shapely.area(shapely.intersection(cgeoms, fixed[i])) if len(cgeoms) else np.zeros(0)
            home = ccodes[int(np.argmax(hits))] if len(hits) and hits.max() > 0 else None
            where = f"; it lies in community {home}" if home else ""
            err.append(Problem("community", (c,), f"grid code {c} does not start with its community's code"
                               f"{where} (no community {parent})", geometry=_shown(fixed[i]), row=i))
            continue
        outside = shapely.difference(fixed[i], cgeoms[k])
        m2 = area_m2(outside) if shapely.area(outside) > 0 else 0.0
        if m2 > min_area_m2:
            err.append(Problem("outside", (c,), f"grid {c} reaches {m2:.1f} m² outside its community "
                               f"{parent}", m2, outside, row=i))
    for cc, cg in zip(ccodes, cgeoms):
        idx = tree.query(cg, predicate="intersects")
        covered = shapely.union_all(fixed[idx]) if len(idx) else shapely.Polygon()
        parts = shapely.get_parts(shapely.difference(cg, covered))
        parts = parts[shapely.area(parts) > 0] if len(parts) else parts
        for part, m2 in zip(parts, area_m2(parts) if len(parts) else []):
            if m2 > min_area_m2:
                err.append(Problem("gap", (cc,), f"community {cc} has {m2:.1f} m² covered by no grid", m2, part))


def _thin(geom, tolerance_m: float) -> bool:
    """True when nothing of the EPSG:4326 ``geom`` is wider than ``tolerance_m`` metres (it vanishes under
    an inward buffer of its EPSG:4544 projection)."""
    return geom.is_empty or shapely.buffer(to_metric(shapely.segmentize(geom, DENSIFY_DEG)),
                                           -tolerance_m / 2.0).is_empty


def _small(geom, min_area_m2: float) -> bool:
    return shapely.area(geom) == 0 or area_m2(geom) <= min_area_m2


def repair_grids(grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame | None, *, tolerance_m: float = 1.0,
                 code: str = "code", community_code: str = "code", min_area_m2: float = NOISE_M2):
    """Fix what is safe to fix automatically, and say what was changed.

    * invalid geometries → ``make_valid`` (polygonal part kept);
    * overlaps no wider than ``tolerance_m`` → removed from the grid with the larger code;
    * parts outside the community no wider than ``tolerance_m`` → clipped off;
    * gaps no wider than ``tolerance_m`` → given to the neighbouring grid sharing the longest edge.

    The overlay runs in EPSG:4326, like :func:`check_grids`; widths and areas are measured in metres
    (EPSG:4544). Wider problems are left for a person (run :func:`check_grids` again to see them).

    Returns
    -------
    (repaired GeoDataFrame in the input's CRS, list of str describing each change)
    """
    crs = grids.crs or STORAGE_CRS
    out = grids.copy() if grids.crs else grids.set_crs(STORAGE_CRS)
    codes = [str(c) for c in out[code].tolist()]
    geoms = _storage_geoms(out)
    changed = np.zeros(len(geoms), dtype=bool)
    changes: list[str] = []
    for i, g in enumerate(geoms):
        if not g.is_valid:
            geoms[i] = _polygonal(g)
            changed[i] = True
            changes.append(f"grid {codes[i]}: invalid geometry made valid ({shapely.is_valid_reason(g)})")
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    for i, j in zip(left[left < right], right[left < right]):
        inter = shapely.intersection(geoms[i], geoms[j])
        if _small(inter, min_area_m2) or not _thin(inter, tolerance_m):
            continue
        loser = i if codes[i] > codes[j] else j
        winner = j if loser == i else i
        geoms[loser] = _polygonal(shapely.difference(geoms[loser], geoms[winner]), min_area_m2)
        changed[loser] = True
        changes.append(f"grid {codes[loser]}: removed {area_m2(inter):.2f} m² overlapping grid {codes[winner]}")
    if communities is not None and len(communities):
        ccodes = [str(c) for c in communities[community_code].tolist()]
        cgeoms = dict(zip(ccodes, _storage_geoms(communities)))
        for i, c in enumerate(codes):
            cg = cgeoms.get(c[: COMMUNITY.length])
            if cg is None:
                continue
            outside = shapely.difference(geoms[i], cg)
            if not _small(outside, min_area_m2) and _thin(outside, tolerance_m):
                geoms[i] = _polygonal(shapely.intersection(geoms[i], cg), min_area_m2)
                changed[i] = True
                changes.append(f"grid {c}: clipped {area_m2(outside):.2f} m² outside community {c[:12]}")
        tree = shapely.STRtree(geoms)
        for cc, cg in cgeoms.items():
            idx = tree.query(cg, predicate="intersects")
            if not len(idx):
                continue
            gap = shapely.difference(cg, shapely.union_all(geoms[idx]))
            for part in shapely.get_parts(gap):
                if _small(part, min_area_m2) or not _thin(part, tolerance_m):
                    continue
                near = tree.query(part, predicate="intersects")
                near = [k for k in near if codes[k].startswith(cc)] or list(near)
                if not near:
                    continue
                shared = [shapely.intersection(geoms[k].boundary, part.boundary).length for k in near]
                k = near[int(np.argmax(shared))]
                geoms[k] = _polygonal(shapely.union(geoms[k], part), min_area_m2)
                changed[k] = True
                changes.append(f"grid {codes[k]}: filled a {area_m2(part):.2f} m² gap in community {cc}")
    if changed.any():
        back = gpd.GeoSeries(geoms[changed], crs=STORAGE_CRS).to_crs(crs).to_numpy()
        new = np.asarray(out.geometry.to_numpy(), dtype=object)
        new[changed] = back
        out = out.set_geometry(gpd.GeoSeries(new, index=out.index, crs=crs))
    return out, changes
