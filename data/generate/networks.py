"""Roads (named, classed, wiggled) and buildings along them, in metres (EPSG:4544)."""
from __future__ import annotations

import math

import numpy as np
import shapely
from shapely import STRtree

from data.generate.boundaries import TOWN_COMMUNITIES
from data.generate.common import _pieces, _wiggle

ROAD_STEMS = ["汇东", "大安", "龙井", "华大", "东兴", "凉高", "马冲", "燊海", "学苑", "扇子坝", "红旗",
              "光明", "和平", "建设", "人民", "胜利", "团结", "盐马", "东锅", "丹桂", "五星", "檀木林",
              "长征", "解放", "新华", "民主", "跃进", "东风", "兴隆", "太平", "富台", "鸿鹤", "兴元",
              "金鱼", "桂湖", "丰收", "双塘", "石塔", "滨江", "高峰", "盐都", "井神", "新民", "向阳",
              "凤凰", "文化", "体育", "交通", "工农", "育才", "春华", "秋实", "银杏", "梧桐", "玉带"]
ORDINALS = ["", "一", "二", "三", "四", "五"]
CLASS_RANK = {"trunk": 0, "primary": 1, "secondary": 2, "residential": 3}
HALF_WIDTH_M = {"trunk": 15.0, "primary": 12.0, "secondary": 7.0, "residential": 6.0}


class _Names:
    def __init__(self, rng):
        self.rng, self.used = rng, set()

    def take(self, suffix):
        for _ in range(1000):
            name = f"{self.rng.choice(ROAD_STEMS)}{self.rng.choice(ORDINALS)}{suffix}"
            if name not in self.used:
                self.used.add(name)
                return name
        raise RuntimeError("road names exhausted")


def build_roads(rng, h, streets_m):
    """Road segments in metres: list of dicts with geom, name, road_class, urban flag."""
    district = h["district_m"]
    clip = district
    names = _Names(rng)
    roads = []

    def add(line, name, cls, lo, hi, urban, drop=0.0):
        for part in shapely.get_parts(line.intersection(clip)):
            if part.geom_type != "LineString" or part.length < 60:
                continue
            for piece in _pieces(part, rng, lo, hi):
                if rng.random() >= drop:
                    roads.append({"geom": piece, "name": name, "road_class": cls, "urban": urban})

    centre, core_c, towns = h["centre"], h["core_c"], h["towns"]

    def far(angle_deg):
        a = math.radians(angle_deg)
        return centre + 30000 * np.array([math.sin(a), math.cos(a)])

    trunks = [("大安大道", [far(255), core_c, towns["510304104"], far(75)]),
              ("自隆路", [far(310), core_c + [600, 900], towns["510304107"], far(120)]),
              ("盐都大道", [far(20), towns["510304103"], core_c + [900, -300], far(200)])]
    for name, pts in trunks:
        names.used.add(name)
        add(_wiggle(pts, rng, 700, 80), name, "trunk", 800, 1600, False)
    # Urban street grids: one jittered, rotated grid per urban street, with dropped pieces.
    thetas = {}
    for props, geom in streets_m:
        if props["kind"] != "street":
            continue
        theta = rng.uniform(-35, 35)
        thetas[props["code"]] = theta
        c = np.array(geom.centroid.coords[0])
        x0, y0, x1, y1 = geom.bounds
        radius = math.hypot(x1 - x0, y1 - y0) / 2 + 200
        region = geom.buffer(60)
        for fam in (0, 1):
            a = math.radians(theta + 90 * fam)
            u, v = np.array([math.sin(a), math.cos(a)]), np.array([math.cos(a), -math.sin(a)])
            spacing = rng.uniform(230, 320)
            offsets = np.arange(-radius, radius, spacing)
            offsets += rng.uniform(-0.25, 0.25, len(offsets)) * spacing
            for i, o in enumerate(offsets):
                tilt = math.radians(rng.normal(0, 2.5))
                uu = np.array([u[0] * math.cos(tilt) - u[1] * math.sin(tilt),
                               u[0] * math.sin(tilt) + u[1] * math.cos(tilt)])
                base = c + o * v
                line = _wiggle([base - radius * uu, base + radius * uu], rng, 18, 60)
                line = line.intersection(region)
                if line.is_empty:
                    continue
                primary = i % 3 == 1
                cls = "primary" if primary else "residential"
                name = names.take("路" if primary else str(rng.choice(["街", "街", "巷"])))
                add(line, name, cls, 180, 450, True, 0.0 if primary else 0.17)
    # Primary radials from the core to the three nearest towns.
    near = sorted(towns, key=lambda s: float(np.hypot(*(towns[s] - core_c))))[:3]
    for s in near:
        add(_wiggle([core_c, towns[s]], rng, 250, 80), names.take("路"), "primary", 600, 1400, False)
    # Secondary roads: minimum spanning tree over town centres and the core, plus three extras.
    nodes = [("城", core_c)] + [(TOWN_COMMUNITIES[s][0], towns[s]) for s in sorted(towns)]
    xy = np.array([p for _, p in nodes])
    dist = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
    edges, inside = [], {0}
    while len(inside) < len(nodes):
        i, j = min(((i, j) for i in inside for j in range(len(nodes)) if j not in inside),
                   key=lambda e: dist[e])
        edges.append((i, j))
        inside.add(j)
    extra = sorted(((dist[i, j], i, j) for i in range(len(nodes)) for j in range(i + 1, len(nodes))
                    if (i, j) not in edges and (j, i) not in edges))[:3]
    edges += [(i, j) for _, i, j in extra]
    for i, j in edges:
        name = f"{nodes[i][0]}{nodes[j][0]}路"
        name = name if name not in names.used else name[:-1] + "线"
        names.used.add(name)
        add(_wiggle([xy[i], xy[j]], rng, 300, 80), name, "secondary", 700, 1500, False)
    # Town streets: two short crossing streets at each town centre.
    for s in sorted(towns):
        stem = TOWN_COMMUNITIES[s][:2]
        a = rng.uniform(0, np.pi)
        for k, suffix in enumerate(["正街", "新街"]):
            d = np.array([math.sin(a + k * np.pi / 2), math.cos(a + k * np.pi / 2)])
            half = rng.uniform(450, 800)
            add(_wiggle([towns[s] - half * d, towns[s] + half * d], rng, 15, 50),
                stem + suffix, "residential", 200, 500, False)
    roads.sort(key=lambda r: (CLASS_RANK[r["road_class"]], r["name"],
                              tuple(np.round(r["geom"].coords[0], 1))))
    for i, r in enumerate(roads, start=1):
        r["road_id"] = i
    return roads, thetas


def build_buildings(rng, roads, district_m):
    """Rectangular footprints beside urban and town streets, rotated with the street."""
    centres, dirs, sizes, tall = [], [], [], []
    for r in roads:
        if r["road_class"] not in ("primary", "residential") or not (
                r["urban"] or r["road_class"] == "residential"):
            continue
        line = r["geom"]
        step = rng.uniform(34, 48)
        d = np.arange(step / 2, line.length, step)
        if len(d) == 0:
            continue
        p = shapely.get_coordinates(shapely.line_interpolate_point(line, d))
        q = shapely.get_coordinates(shapely.line_interpolate_point(line, np.minimum(d + 2, line.length)))
        t = q - p
        t /= np.maximum(np.linalg.norm(t, axis=1), 1e-9)[:, None]
        n = np.column_stack([-t[:, 1], t[:, 0]])
        for side in (-1, 1):
            keep = rng.random(len(d)) < 0.45
            w = rng.uniform(12, 34, len(d))
            dep = rng.uniform(10, 22, len(d))
            off = HALF_WIDTH_M[r["road_class"]] + rng.uniform(3, 9, len(d)) + dep / 2
            c = p + side * n * off[:, None]
            centres.append(c[keep])
            dirs.append(t[keep])
            sizes.append(np.column_stack([w, dep])[keep])
            tall.append(np.full(keep.sum(), r["road_class"] == "primary" and r["urban"]))
    c, t, s = (np.vstack(a) for a in (centres, dirs, sizes))
    tall = np.concatenate(tall)
    n = np.column_stack([-t[:, 1], t[:, 0]])
    corners = np.stack([c + a * t * s[:, :1] / 2 + b * n * s[:, 1:] / 2
                        for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1))], axis=1)
    polys = shapely.polygons(corners)
    road_buf = shapely.buffer(np.array([r["geom"] for r in roads]),
                              [HALF_WIDTH_M[r["road_class"]] + 1 for r in roads])
    hit = np.unique(STRtree(road_buf).query(polys, predicate="intersects")[0])
    ok = np.ones(len(polys), bool)
    ok[hit] = False
    ok &= shapely.contains(district_m, polys)
    idx = np.flatnonzero(ok)
    polys, tall = polys[idx], tall[idx]
    a, b = STRtree(polys).query(polys, predicate="intersects")
    clash = {}
    for i, j in zip(a.tolist(), b.tolist()):
        if j < i:
            clash.setdefault(i, []).append(j)
    kept = np.zeros(len(polys), bool)
    for i in range(len(polys)):
        kept[i] = not any(kept[j] for j in clash.get(i, ()))
    polys, tall = polys[kept], tall[kept]
    floors = np.where(tall, rng.integers(6, 33, len(polys)), rng.integers(2, 10, len(polys)))
    heights = np.round(floors * rng.uniform(2.9, 3.3, len(polys)), 1)
    return polys, heights


