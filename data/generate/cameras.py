"""Cameras (天网/雪亮 points) at road crossings and along roads, and the rows of cameras.csv."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import Point

from data.generate.common import DISTRICT_CODE, _bearing_at
from data.generate.networks import CLASS_RANK
from data.generate.people import _landline

CAMERA_COLUMNS = ["device_id", "name", "point_name", "programme", "point_class", "ptz_type",
                  "function_types", "height_m", "azimuth", "fov", "vfov", "range_m", "install_date",
                  "management_unit", "contact", "record_days", "address", "status", "lon", "lat"]
POLICE_UNIT = "自贡市公安局大安区分局"


def _intersections(roads, urban_m):
    """Road crossings (metres) with the two road names, whether both are major, and a bearing."""
    geoms = np.array([r["geom"] for r in roads])
    a, b = STRtree(geoms).query(geoms, predicate="intersects")
    m = (a < b) & np.array([roads[i]["name"] != roads[j]["name"] for i, j in zip(a, b)], bool)
    a, b = a[m], b[m]
    out, seen = [], np.empty((0, 2))
    for i, j, g in zip(a, b, shapely.intersection(geoms[a], geoms[b])):
        for p in shapely.get_parts(g):
            if p.geom_type != "Point":
                continue
            xy = np.array(p.coords[0])
            if len(seen) and np.min(np.hypot(*(seen - xy).T)) < 30:
                continue
            seen = np.vstack([seen, xy])
            ri, rj = roads[i], roads[j]
            out.append({"xy": xy, "a": ri["name"], "b": rj["name"],
                        "major": CLASS_RANK[ri["road_class"]] <= 1 and CLASS_RANK[rj["road_class"]] <= 1,
                        "bearing": _bearing_at(ri["geom"], p),
                        "urban": bool(shapely.contains_xy(urban_m, *xy))})
    return out


class _Placer:
    """Accept camera positions that keep a minimum spacing and stay inside an area."""

    def __init__(self, area, min_m=6.0):
        self.area, self.min_m, self.xy = area, min_m, np.empty((0, 2))

    def accept(self, xy):
        if not shapely.contains_xy(self.area, *xy):
            return False
        if len(self.xy) and np.min(np.hypot(*(self.xy - xy).T)) < self.min_m:
            return False
        self.xy = np.vstack([self.xy, xy])
        return True


def _road_point(rng, roads, weights, offset_lo, offset_hi):
    r = roads[rng.choice(len(roads), p=weights / weights.sum())]
    line = r["geom"]
    d = rng.uniform(0, line.length)
    p = line.interpolate(d)
    bearing = _bearing_at(line, p)
    side = rng.choice([-1, 1])
    a = math.radians(bearing + 90 * side)
    xy = np.array(p.coords[0]) + rng.uniform(offset_lo, offset_hi) * np.array([math.sin(a), math.cos(a)])
    number = 2 * int(d // 12) + (1 if side > 0 else 2)
    return xy, bearing, r["name"], number


def build_cameras(rng, roads, intersections, district_m, urban_m, locate, towns):
    """Skynet (371), 雪亮 and compound cameras as rows in CAMERA_COLUMNS order (metres in 'xy')."""
    placer = _Placer(district_m)
    cams = []

    def add(group, xy, azimuth, point_name, address, community="", **kw):
        if not placer.accept(xy):
            return False
        cams.append(dict(group=group, xy=xy, azimuth=azimuth, point_name=point_name,
                         address=address, community=community, **kw))
        return True

    def corner(rng, it, dist):
        a = math.radians(it["bearing"] + 45 + 90 * int(rng.integers(4)))
        return it["xy"] + dist * np.array([math.sin(a), math.cos(a)])

    def fill(group, n, make):
        got = 0
        for _ in range(n * 50):
            if got == n:
                return
            got += bool(make())
        raise RuntimeError(f"could not place {n} cameras of group {group}")

    urban_x = [it for it in intersections if it["urban"]]
    major = [it for it in urban_x if it["major"]]
    # Entry checkpoints where trunk roads enter the district.
    for r in roads:
        if r["road_class"] != "trunk":
            continue
        for end in (0.0, 1.0):
            p = r["geom"].interpolate(end, normalized=True)
            if district_m.exterior.distance(p) < 1:
                q = r["geom"].interpolate(abs(end * r["geom"].length - 150))
                a = math.radians(_bearing_at(r["geom"], q) + 90)
                add("checkpoint", np.array(q.coords[0]) + 6 * np.array([math.sin(a), math.cos(a)]),
                    _bearing_at(r["geom"], q), f"{r['name']}入城方向",
                    f"自贡市大安区{r['name']}入城方向", major_point=True)
    site = lambda it: f"{it['a']}与{it['b']}交叉口"  # noqa: E731
    n_entry = len(cams)
    fill("checkpoint", 36 - n_entry, lambda: (lambda it: add(
        "checkpoint", corner(rng, it, 9), it["bearing"], site(it), "自贡市大安区" + site(it),
        major_point=True))(major[rng.integers(len(major))]))
    w = np.array([3.0 if it["major"] else 1.0 for it in urban_x])
    for s in sorted(towns):
        near = [it for it in intersections if np.hypot(*(it["xy"] - towns[s])) < 900]
        if near:
            it = near[0]
            add("dome", corner(rng, it, 7), 0.0, site(it), "自贡市大安区" + site(it), major_point=False)
    fill("dome", 90 - sum(c["group"] == "dome" for c in cams), lambda: (lambda it: add(
        "dome", corner(rng, it, 7), 0.0, site(it), "自贡市大安区" + site(it),
        major_point=it["major"]))(urban_x[rng.choice(len(urban_x), p=w / w.sum())]))

    def bullet(pool, weights, group="bullet", lo=3.0, hi=9.0):
        xy, bearing, name, num = _road_point(rng, pool, weights, lo, hi)
        az = (bearing + 180 * int(rng.integers(2))) % 360
        community = ""
        if group in ("xueliang", "compound"):
            community = locate(xy)  # the urban community's name, or None outside the urban core
            if community is None:
                return False
        return add(group, xy, az, f"{name}{num}号", f"自贡市大安区{name}{num}号旁", major_point=False,
                   community=community)

    urban_roads = [r for r in roads
                   if shapely.intersects(urban_m, r["geom"]) and r["road_class"] != "secondary"]
    uw = np.array([r["geom"].length * (3 if CLASS_RANK[r["road_class"]] <= 1 else 1) for r in urban_roads])
    town_roads = [r for r in roads if any(r["geom"].distance(Point(t)) < 800 for t in towns.values())
                  and not shapely.intersects(urban_m, r["geom"])]
    rural_roads = [r for r in roads if r["road_class"] in ("trunk", "secondary") and r not in urban_roads]
    lengths = lambda rs: np.array([r["geom"].length for r in rs])  # noqa: E731
    fill("bullet", 36, lambda: bullet(town_roads, lengths(town_roads)))
    fill("bullet", 12, lambda: bullet(rural_roads, lengths(rural_roads)))
    fill("bullet", 371 - len(cams), lambda: bullet(urban_roads, uw))
    res = [r for r in urban_roads if r["road_class"] == "residential"]
    fill("xueliang", 60, lambda: bullet(res, lengths(res), "xueliang"))
    fill("compound", 40, lambda: bullet(res, lengths(res), "compound", 8, 12))
    return cams


def camera_rows(rng, cams, to_ll):
    """Give every camera its GB/T 28181 ID (one serial counter, increasing in file order) and fields."""
    group_rank = {"checkpoint": 0, "dome": 1, "bullet": 2, "xueliang": 3, "compound": 4}
    cams = sorted(cams, key=lambda c: (group_rank[c["group"]], round(float(c["xy"][0]), 3)))
    lonlat = to_ll(cams)
    rows = []
    for serial, (c, (lon, lat)) in enumerate(zip(cams, lonlat), start=1):
        g = c["group"]
        skynet = g in ("checkpoint", "dome", "bullet")
        programme = "skynet" if skynet else g
        industry = "00" if skynet else ("01" if g == "xueliang" or rng.random() < .3 else "02")
        dtype = {"checkpoint": "121", "dome": "132"}.get(g, "131" if g == "bullet" and rng.random() < .2
                                                          else "132")
        network = ("5" if rng.random() < .85 else "0") if skynet else "0"
        ptz = {"checkpoint": 3, "dome": 1}.get(g, 2 if g != "bullet" and rng.random() < .3 else 3)
        pclass = 1 if g == "checkpoint" or c["major_point"] else (3 if g == "compound" else 2)
        fn = {"checkpoint": ["01;03", "03", "03;04"], "dome": ["02;03", "99", "02"],
              "bullet": ["03", "02", "99", "02;03"], "xueliang": ["02", "99"],
              "compound": ["01;02", "02"]}[g]
        years = {"xueliang": (2018, 2024), "compound": (2020, 2024)}.get(g, (2014, 2023))
        day = datetime(years[0], 1, 1) + timedelta(days=int(rng.integers(0, 365 * (years[1] - years[0] + 1))))
        label = {1: "球机", 2: "半球", 3: "卡口" if g == "checkpoint" else "枪机"}[ptz]
        fov = 360 if ptz == 1 else int(rng.integers(40, 71) if g == "checkpoint" else rng.integers(40, 111))
        rng_m = (rng.integers(40, 81) if g == "checkpoint" else rng.integers(80, 201) if ptz == 1
                 else rng.integers(30, 61) if g == "compound" else rng.integers(30, 151))
        unit = POLICE_UNIT if skynet else c["community"]
        rows.append({
            "device_id": f"{DISTRICT_CODE}00{industry}{dtype}{network}{serial:06d}",
            "name": f"{c['point_name']}{label}", "point_name": c["point_name"],
            "programme": programme, "point_class": pclass, "ptz_type": ptz,
            "function_types": str(rng.choice(fn)),
            "height_m": round(float(rng.uniform(6, 10) if ptz == 1 else rng.uniform(5.5, 7.5)
                                    if g == "checkpoint" else rng.uniform(2.8, 4.5)
                                    if g == "compound" else rng.uniform(4, 8)), 1),
            "azimuth": round(float(c["azimuth"]), 1), "fov": fov, "vfov": int(rng.integers(20, 61)),
            "range_m": int(rng_m), "install_date": day.date().isoformat(), "management_unit": unit,
            "contact": _landline(rng), "record_days": 90 if pclass == 1 else 30,
            "address": c["address"], "status": "OFF" if rng.random() < .04 else "ON",
            "lon": repr(float(lon)), "lat": repr(float(lat))})
    return rows


