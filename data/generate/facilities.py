"""Service centres (党群服务中心) and renovation sites (老旧小区改造) of the communities."""
from __future__ import annotations

import math

import numpy as np
import shapely

from data.generate.common import _random_points_in, _round, to_lonlat
from data.generate.networks import CLASS_RANK, HALF_WIDTH_M

RENOVATION_NAMES = ["东锅小区", "红旗二村小区", "学苑小区", "燊海小区", "盐厂宿舍小区", "机械厂小区",
                    "新华村小区", "五星小区"]


def build_service_centres(communities, communities_m):
    out = []
    for (props, geom_ll), geom_m in zip(communities, communities_m):
        if not props["urban"]:
            continue
        p = to_lonlat(shapely.point_on_surface(geom_m))
        if not geom_ll.contains(p):
            p = _round(shapely.point_on_surface(geom_ll))
        out.append(({"name": f"{props['name']}党群服务中心", "community_code": props["code"]}, p))
    return out


def build_renovation_sites(rng, communities, communities_m, roads, thetas):
    major = shapely.union_all([shapely.buffer(r["geom"], HALF_WIDTH_M[r["road_class"]])
                               for r in roads if CLASS_RANK[r["road_class"]] <= 1])
    urban = [i for i, (p, _) in enumerate(communities) if p["urban"]]
    out = []
    for name, i in zip(RENOVATION_NAMES, sorted(rng.choice(urban, size=8, replace=False))):
        props, geom_ll = communities[i]
        theta = math.radians(thetas[props["street_code"]])
        u = np.array([math.sin(theta), math.cos(theta)])
        v = np.array([u[1], -u[0]])
        for _ in range(2000):
            c = _random_points_in(rng, communities_m[i], 1)[0]
            w, d = rng.uniform(150, 260), rng.uniform(110, 200)
            ring = [c + a * u * w / 2 + b * v * d / 2 for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
            site = shapely.Polygon(ring)
            site_ll = shapely.orient_polygons(to_lonlat(site))
            if geom_ll.contains(site_ll) and not site.intersects(major):
                break
        else:
            raise RuntimeError(f"no room for renovation site in {props['name']}")
        out.append(({"name": name, "community_code": props["code"],
                     "households": int(rng.integers(200, 901))}, site_ll))
    return out


