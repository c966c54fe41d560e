"""Deterministic demo district (演示辖区) for 大安区, 自贡市 (GB/T 2260 code 510304).

Everything here is synthetic: boundaries, roads, buildings, cameras, incidents and people are drawn
from ``numpy.random.default_rng(510304)``; no real person, phone number or boundary is used.

Geometry is built in metres in EPSG:4544 (CGCS2000 3-degree Gauss-Krueger, CM 105E) and written in
EPSG:4326 lon/lat rounded to 7 decimals. The hierarchy is built bottom-up so that it tiles exactly:
grids (网格) are Voronoi cells of seed points clipped to the district and snapped to a 1e-7 degree
precision grid; a community (社区) is the union of its grids and a street (街道/镇/乡) the union of its
communities. Output files are byte-identical on every run (fixed seed, fixed order, no timestamps,
GeoJSON written by :func:`write_geojson`, not by GDAL).

Run ``python -m data.generate [--out DIR]`` (default ``data/demo/``). This module is the recipe: it
draws from one generator in a fixed order, so the parts below take ``rng`` as an argument and must be
called in that order for the output to stay byte-identical:

- ``common``: constants, EPSG:4326 <-> EPSG:4544 transforms, the deterministic writers, small helpers;
- ``boundaries``: district, streets, communities and grids; ``networks``: roads and buildings;
- ``cameras``; ``people``: names, phone numbers, members; ``incidents``; ``patrols``: the members'
  tracks of the last two weeks; ``facilities``: service centres and renovation sites.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import Point

from data.generate.boundaries import build_hierarchy, build_units
from data.generate.cameras import CAMERA_COLUMNS, build_cameras, camera_rows, _intersections, _road_point
from data.generate.common import (
    DECIMALS, DEFAULT_OUT, DISTRICT_CODE, DISTRICT_NAME, SEED, read_reference, to_lonlat, to_metric,
    _transformer, write_csv, write_geojson,
)
from data.generate.facilities import build_renovation_sites, build_service_centres
from data.generate.incidents import INCIDENT_COLUMNS, build_incidents
from data.generate.networks import build_buildings, build_roads
from data.generate.patrols import PATROL_COLUMNS, build_patrols
from data.generate.people import build_members


def generate(out_dir: Path = DEFAULT_OUT) -> dict[str, Path]:
    """Write the demo district into ``out_dir`` and return {file name: path}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    h = build_hierarchy(rng)
    grids, communities, streets, district = build_units(rng, h)
    grids_m = to_metric(np.array([g for _, g in grids], dtype=object))
    communities_m = to_metric(np.array([g for _, g in communities], dtype=object))
    streets_m = [(p, to_metric(g)) for p, g in streets]
    h["district_m"] = to_metric(district)
    urban_m = shapely.union_all([g for p, g in streets_m if p["kind"] == "street"])
    roads, thetas = build_roads(rng, h, streets_m)
    buildings, heights = build_buildings(rng, roads, h["district_m"])
    sites = build_renovation_sites(rng, communities, communities_m, roads, thetas)
    crossings = _intersections(roads, urban_m)
    comm_tree = STRtree(communities_m)

    def locate(xy):
        hit = comm_tree.query(Point(xy), predicate="within")
        return communities[hit[0]][0]["name"] if len(hit) and communities[hit[0]][0]["urban"] else None

    cams = build_cameras(rng, roads, crossings, h["district_m"], urban_m, locate, h["towns"])
    tr = _transformer(False)
    cam_rows = camera_rows(rng, cams, lambda cs: np.round(np.column_stack(
        tr.transform([c["xy"][0] for c in cs], [c["xy"][1] for c in cs])), DECIMALS))
    members = build_members(rng, grids)
    major_x = [it["xy"] for it in crossings if it["urban"] and it["major"]]
    markets = [(major_x[i], 1.5) for i in rng.choice(len(major_x), 8, replace=False)]
    urban_res = [r for r in roads if r["urban"]]
    schools = [(_road_point(rng, urban_res, np.ones(len(urban_res)), 40, 60)[0], 1.0) for _ in range(10)]
    names = {p["code"]: p["name"] for p, _ in streets + communities}
    incidents = build_incidents(rng, grids, grids_m, np.array([g for _, g in grids], dtype=object),
                                markets + schools, h["towns"], roads, names, members,
                                read_reference("categories.csv"))
    patrols = build_patrols(rng, grids, grids_m, roads, members)
    road_ll = to_lonlat(np.array([r["geom"] for r in roads], dtype=object))
    b_ll = shapely.orient_polygons(to_lonlat(buildings))
    b_order = np.lexsort((shapely.get_coordinates(shapely.centroid(b_ll))[:, 0],
                          -shapely.get_coordinates(shapely.centroid(b_ll))[:, 1]))
    files = {
        "district.geojson": [({"code": DISTRICT_CODE, "name": DISTRICT_NAME}, district)],
        "streets.geojson": streets, "communities.geojson": communities, "grids.geojson": grids,
        "roads.geojson": [({"road_id": r["road_id"], "name": r["name"], "road_class": r["road_class"]}, g)
                          for r, g in zip(roads, road_ll)],
        "buildings.geojson": [({"building_id": i, "height_m": float(heights[k])}, b_ll[k])
                              for i, k in enumerate(b_order, start=1)],
        "service_centres.geojson": build_service_centres(communities, communities_m),
        "renovation_sites.geojson": sites,
    }
    paths = {}
    for fname, feats in files.items():
        paths[fname] = out_dir / fname
        write_geojson(paths[fname], fname.split(".")[0], feats)
    for fname, cols, rows in (("cameras.csv", CAMERA_COLUMNS, cam_rows),
                              ("incidents.csv", INCIDENT_COLUMNS, incidents),
                              ("members.csv", ["member_id", "name", "phone", "grid_code", "roles"], members),
                              ("patrols.csv", PATROL_COLUMNS, patrols)):
        paths[fname] = out_dir / fname
        write_csv(paths[fname], cols, rows)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (data/demo/)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    paths = generate(args.out)
    for name, path in paths.items():
        print(f"{path}  {path.stat().st_size:>10,d} bytes")
    print(f"generated {len(paths)} files in {time.perf_counter() - t0:.1f} s")
    return 0
