"""The hierarchy: district, streets (街道/镇/乡), communities (社区) and grids (网格), built bottom-up
so that it tiles exactly.
"""
from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPoint

from data.generate.common import (
    CENTRE_LONLAT, DISTRICT_AREA_M2, PRECISION_DEG, TOWN_COMMUNITY_SUFFIX, _blob, _clockwise_from_north,
    _hex_seeds, _kmeans, read_reference, _round, _scale_to_area, to_lonlat, to_metric, _transformer, _union,
)

URBAN_STREETS = {  # street code -> community names, numbered north -> south
    "510304001": ["大安寨社区", "东街社区", "新街社区", "红旗社区", "燊海井社区", "扇子坝社区"],
    "510304002": ["华大社区", "龙井社区", "东锅社区", "汇西社区", "盐马社区", "石门社区"],
    "510304003": ["马冲口社区", "东兴寺社区", "广华社区", "自力社区", "鸿鹤社区"],
    "510304004": ["凉高山社区", "牛王庙社区", "长土社区", "双塘社区", "丰收社区"],
}
# Urban streets are matched to the 4 clusters of the core clockwise from north.
URBAN_CLOCKWISE = ["510304004", "510304002", "510304003", "510304001"]
TOWN_COMMUNITIES = {
    "510304100": "大山铺社区", "510304102": "团结场社区", "510304103": "三多寨社区",
    "510304104": "何市社区", "510304105": "新店村社区", "510304106": "新民场社区",
    "510304107": "牛佛社区", "510304108": "庙坝社区", "510304109": "回龙社区",
    "510304204": "永嘉社区", "510304205": "和平社区", "510304207": "凤凰社区",
}
# Towns are matched to the 12 rural clusters clockwise from north around the district centre.
TOWN_CLOCKWISE = ["510304103", "510304102", "510304108", "510304104", "510304106", "510304107",
                  "510304109", "510304205", "510304204", "510304105", "510304207", "510304100"]


def build_hierarchy(rng):
    """Return a dict with the district, seeds, labels and the snapped lon/lat hierarchy."""
    centre = np.array(_transformer(True).transform(*CENTRE_LONLAT))
    district = _scale_to_area(_blob(rng, centre, 11300, 0.22), centre, DISTRICT_AREA_M2)
    # The urban core sits in the west-south-west, against the boundary shared with the city centre.
    direction = np.array([-math.cos(math.radians(25)), -math.sin(math.radians(25))])
    ray = LineString([centre, centre + direction * 40000])
    edge = shapely.get_coordinates(ray.intersection(district.exterior))[0]
    core_c = centre + (edge - centre) * 0.74
    core = _blob(rng, core_c, 2600, 0.15).intersection(district)

    urban = _hex_seeds(rng, core, 400)
    rural = _hex_seeds(rng, district.difference(core.buffer(500)), 2000)
    street_of, comm_of = [], []
    lab, cen = _kmeans(rng, urban, 4)
    order = np.argsort(_clockwise_from_north(cen - core_c), kind="stable")
    urban_seeds, towns = [], {}
    for rank, j in enumerate(order):
        scode = URBAN_CLOCKWISE[rank]
        pts = urban[lab == j]
        names = URBAN_STREETS[scode]
        clab, ccen = _kmeans(rng, pts, len(names))
        corder = np.lexsort((ccen[:, 0], -ccen[:, 1]))  # north -> south, then west -> east
        for i, cj in enumerate(corder):
            cpts = pts[clab == cj]
            urban_seeds.append(cpts)
            street_of += [scode] * len(cpts)
            comm_of += [f"{scode}{i + 1:03d}"] * len(cpts)
    rlab, rcen = _kmeans(rng, rural, 12)
    # Peri-urban ring: medium grids so the outer urban cells do not sprawl into the countryside.
    peri = _hex_seeds(rng, district.intersection(core.buffer(1500)).difference(core.buffer(350)), 750)
    rural = np.vstack([rural, peri])
    rlab = np.argmin(((rural[:, None, :] - rcen[None]) ** 2).sum(-1), axis=1)
    order = np.argsort(_clockwise_from_north(rcen - centre), kind="stable")
    rural_seeds = []
    for rank, j in enumerate(order):
        scode = TOWN_CLOCKWISE[rank]
        town_c = rcen[j]
        pts = rural[rlab == j]
        pts = pts[np.hypot(*(pts - town_c).T) > 1000]
        a0 = rng.uniform(0, 2 * np.pi)
        ring = town_c + 650 * np.column_stack([np.cos(a0 + np.arange(5) * 2 * np.pi / 5),
                                               np.sin(a0 + np.arange(5) * 2 * np.pi / 5)])
        pts = np.vstack([pts, town_c[None], ring])
        pts = pts[shapely.contains_xy(district, pts[:, 0], pts[:, 1])]
        towns[scode] = town_c
        rural_seeds.append(pts)
        street_of += [scode] * len(pts)
        comm_of += [scode + TOWN_COMMUNITY_SUFFIX] * len(pts)
    seeds = np.vstack(urban_seeds + rural_seeds)
    cells = shapely.get_parts(shapely.voronoi_polygons(
        MultiPoint(seeds), extend_to=district.buffer(5000), ordered=True))
    cells = shapely.intersection(cells, district)
    cells_ll = _round(shapely.orient_polygons(shapely.set_precision(to_lonlat(cells), PRECISION_DEG)))
    cells_ll = np.array([g.geoms[0] if g.geom_type == "MultiPolygon" and len(g.geoms) == 1 else g
                         for g in cells_ll], dtype=object)
    return {"district_m": district, "centre": centre, "core_c": core_c, "towns": towns,
            "seeds": seeds, "street_of": np.array(street_of), "comm_of": np.array(comm_of),
            "grids_ll": cells_ll}


def grid_serial_order(centroids_xy: np.ndarray, areas_m2: np.ndarray) -> np.ndarray:
    """Order of grids for serial numbering inside one community (west->east, north->south).

    Rows are bands of height h = sqrt(mean grid area) counted down from the northernmost grid
    centroid (EPSG:4544); inside a band grids go by centroid easting ascending.
    """
    h = math.sqrt(float(np.sum(areas_m2)) / len(areas_m2))
    band = np.floor((centroids_xy[:, 1].max() - centroids_xy[:, 1]) / h)
    return np.lexsort((centroids_xy[:, 0], band))


def build_units(rng, h):
    """Grids, communities, streets as lists of (props, lon/lat geometry), plus metric versions."""
    streets_ref = {r["code"]: r for r in read_reference("streets.csv")}
    grids_ll, comm_of = h["grids_ll"], h["comm_of"]
    grids = []
    communities, streets = [], []
    comm_names = {f"{s}{i + 1:03d}": n for s, ns in URBAN_STREETS.items() for i, n in enumerate(ns)}
    comm_names.update({s + TOWN_COMMUNITY_SUFFIX: n for s, n in TOWN_COMMUNITIES.items()})
    for ccode in sorted(comm_names):
        idx = np.flatnonzero(comm_of == ccode)
        geoms_m = to_metric(grids_ll[idx])
        order = grid_serial_order(shapely.get_coordinates(shapely.centroid(geoms_m)),
                                  shapely.area(geoms_m))
        urban = ccode[6] == "0"
        cname = comm_names[ccode]
        hh_sum = pop_sum = 0
        for serial, k in enumerate(idx[order], start=1):
            hh = int(rng.integers(300, 601) if urban else rng.integers(80, 301))
            pop = int(round(hh * rng.uniform(2.45, 2.8)))
            hh_sum, pop_sum = hh_sum + hh, pop_sum + pop
            grids.append(({"code": f"{ccode}{serial:03d}", "name": f"{cname}第{serial}网格",
                           "community_code": ccode, "street_code": ccode[:9],
                           "households": hh, "population": pop}, grids_ll[k]))
        geom = _union(grids_ll[idx])
        communities.append(({"code": ccode, "name": cname, "street_code": ccode[:9], "urban": urban,
                             "households": hh_sum, "population": pop_sum}, geom))
    for scode in sorted(streets_ref):
        parts = [g for p, g in communities if p["street_code"] == scode]
        geom = _union(parts)
        r = streets_ref[scode]
        streets.append(({"code": scode, "name": r["name"], "kind": r["kind"]}, geom))
    district = _union([g for _, g in streets])
    return grids, communities, streets, district


