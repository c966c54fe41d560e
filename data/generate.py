"""Deterministic demo district (演示辖区) for 大安区, 自贡市 (GB/T 2260 code 510304).

Everything here is synthetic: boundaries, roads, buildings, cameras, incidents and people are drawn
from ``numpy.random.default_rng(510304)``; no real person, phone number or boundary is used.

Geometry is built in metres in EPSG:4544 (CGCS2000 3-degree Gauss-Krueger, CM 105E) and written in
EPSG:4326 lon/lat rounded to 7 decimals. The hierarchy is built bottom-up so that it tiles exactly:
grids (网格) are Voronoi cells of seed points clipped to the district and snapped to a 1e-7 degree
precision grid; a community (社区) is the union of its grids and a street (街道/镇/乡) the union of its
communities. Output files are byte-identical on every run (fixed seed, fixed order, no timestamps,
GeoJSON written by :func:`write_geojson`, not by GDAL).

Run ``python -m data.generate [--out DIR]`` (default ``data/demo/``). The module is longer than the
project's usual ~400 lines because it is one linear recipe; splitting it would only scatter the seed.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import time
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from shapely import STRtree
from shapely.geometry import LineString, MultiPoint, Point, mapping
from shapely.ops import substring

SEED = 510304
DISTRICT_CODE = "510304"
DISTRICT_NAME = "大安区"
CENTRE_LONLAT = (104.7713, 29.3665)
METRIC_CRS = "EPSG:4544"
DISTRICT_AREA_M2 = 400e6
PRECISION_DEG = 1e-7
DECIMALS = 7
YEAR = 2025
HERE = Path(__file__).resolve().parent
REFERENCE_DIR = HERE / "reference"
DEFAULT_OUT = HERE / "demo"
TOWN_COMMUNITY_SUFFIX = "200"  # the single community of a town/township: street code + '200'

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

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜"
                "叶程苏魏吕丁任沈姚卢钟谭陆范廖贾夏付方邹熊秦江雷龙")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华玉兰建国红梅春燕文斌志鹏海波晓琴琳"
             "婷宇浩俊凤德福云飞成刚辉丹林蓉慧莉")
ROAD_STEMS = ["汇东", "大安", "龙井", "华大", "东兴", "凉高", "马冲", "燊海", "学苑", "扇子坝", "红旗",
              "光明", "和平", "建设", "人民", "胜利", "团结", "盐马", "东锅", "丹桂", "五星", "檀木林",
              "长征", "解放", "新华", "民主", "跃进", "东风", "兴隆", "太平", "富台", "鸿鹤", "兴元",
              "金鱼", "桂湖", "丰收", "双塘", "石塔", "滨江", "高峰", "盐都", "井神", "新民", "向阳",
              "凤凰", "文化", "体育", "交通", "工农", "育才", "春华", "秋实", "银杏", "梧桐", "玉带"]
ORDINALS = ["", "一", "二", "三", "四", "五"]
CLASS_RANK = {"trunk": 0, "primary": 1, "secondary": 2, "residential": 3}
HALF_WIDTH_M = {"trunk": 15.0, "primary": 12.0, "secondary": 7.0, "residential": 6.0}
DESCRIPTIONS = {
    "city_appearance": ["{r}路段生活垃圾堆放未及时清运", "{r}人行道破损积水", "{r}绿化带杂草丛生",
                        "{r}下水道井盖缺失", "{r}路面油污需清洗", "{r}旁公厕卫生较差"],
    "advertising": ["{r}沿线乱张贴小广告", "{r}店招店牌破损有坠落风险", "{r}电杆上乱贴办证广告",
                    "{r}违规设置落地广告牌"],
    "construction": ["{r}施工工地围挡破损", "{r}渣土车沿途撒漏", "{r}夜间施工噪音扰民",
                     "{r}施工占道未设警示标志"],
    "street_order": ["{r}占道经营", "{r}机动车乱停乱放", "{r}流动摊贩占道", "{r}店外经营影响通行",
                     "{r}共享单车无序停放"],
    "emergency": ["{r}发生交通事故需处置", "{r}附近民房起火", "{r}燃气泄漏气味明显", "{r}路面塌陷",
                  "{r}树木倒伏阻断道路"],
    "dispute": ["{r}附近邻里噪音纠纷", "{r}小区物业费纠纷", "{r}商户与顾客发生争执",
                "{r}附近务工人员讨薪", "{r}家庭矛盾需调解"],
    "safety_hazard": ["{r}路灯损坏夜间照明不足", "{r}附近有可疑人员徘徊", "{r}小区门禁损坏",
                      "{r}沿线护栏缺失", "{r}楼道内电动车违规充电"],
    "work_safety": ["{r}门店消防通道堵塞", "{r}餐馆液化气瓶违规存放", "{r}工地高处作业未系安全带",
                    "{r}小作坊电线私拉乱接"],
    "public_service": ["{r}附近居民反映停水", "{r}老年人申请居家养老服务", "{r}居民咨询医保办理",
                       "{r}附近小区停电", "{r}公交站台损坏"],
    "other": ["{r}附近流浪犬出没", "{r}居民反映其他问题", "{r}附近井盖异响"],
}
CATEGORY_SHARE = {"city_appearance": .28, "advertising": .08, "construction": .07, "street_order": .15,
                  "emergency": .02, "dispute": .10, "safety_hazard": .10, "work_safety": .04,
                  "public_service": .12, "other": .04}
PRIORITY_SHARE = {"emergency": [.45, .35, .15, .05], "safety_hazard": [.10, .30, .50, .10],
                  "work_safety": [.10, .35, .45, .10], "dispute": [.05, .25, .55, .15]}
DEFAULT_PRIORITY_SHARE = [.02, .13, .60, .25]
PRIORITIES = ["urgent", "high", "normal", "low"]
SOURCE_SHARE = {"patrol": .44, "video": .13, "public": .12, "hotline": .16, "wechat": .12,
                "higher_office": .03}
OPEN_STATES = ["reported", "accepted", "dispatched", "in_progress", "resolved"]
HOUR_WEIGHT = [.2, .1, .08, .08, .1, .2, .5, 1.2, 2.5, 4.0, 4.2, 3.5, 1.8, 1.5, 3.2, 3.8, 3.6, 2.8,
               1.8, 1.4, 1.1, .8, .5, .3]
CAMERA_COLUMNS = ["device_id", "name", "point_name", "programme", "point_class", "ptz_type",
                  "function_types", "height_m", "azimuth", "fov", "vfov", "range_m", "install_date",
                  "management_unit", "contact", "record_days", "address", "status", "lon", "lat"]
INCIDENT_COLUMNS = ["external_id", "category", "source", "description", "address", "lon", "lat",
                    "priority", "reported_at", "reporter_name", "reporter_phone", "state", "closed_at"]
POLICE_UNIT = "自贡市公安局大安区分局"


# --------------------------------------------------------------------------------------------
# coordinates and writers

@lru_cache(maxsize=None)
def _transformer(to_metric: bool) -> Transformer:
    src, dst = ("EPSG:4326", METRIC_CRS) if to_metric else (METRIC_CRS, "EPSG:4326")
    return Transformer.from_crs(src, dst, always_xy=True)


def to_metric(geoms):
    """Project shapely geometries from lon/lat (EPSG:4326) to metres (EPSG:4544)."""
    tr = _transformer(True)
    return shapely.transform(geoms, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))


def to_lonlat(geoms):
    """Project shapely geometries from metres (EPSG:4544) to lon/lat (EPSG:4326), rounded."""
    tr = _transformer(False)
    return shapely.transform(
        geoms, lambda c: np.round(np.column_stack(tr.transform(c[:, 0], c[:, 1])), DECIMALS))


def _round(geoms):
    return shapely.transform(geoms, lambda c: np.round(c, DECIMALS))


def _union(geoms):
    """Union on the 1e-7 degree grid, exteriors counter-clockwise (RFC 7946)."""
    return _round(shapely.orient_polygons(shapely.union_all(geoms, grid_size=PRECISION_DEG)))


def write_geojson(path: Path, name: str, features: list[tuple[dict, object]]) -> None:
    """Write a RFC 7946 FeatureCollection, one feature per line, keys in a fixed order.

    Coordinates must already be rounded lon/lat; floats are written with ``repr`` so they read back
    to the same doubles.
    """
    lines = []
    for props, geom in features:
        feat = {"type": "Feature", "properties": props, "geometry": mapping(geom)}
        lines.append(json.dumps(feat, ensure_ascii=False, separators=(",", ":")))
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write('{"type":"FeatureCollection","name":' + json.dumps(name) + ',"features":[\n')
        f.write(",\n".join(lines))
        f.write("\n]}\n")


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([r[c] for c in columns])


def read_reference(name: str) -> list[dict]:
    with open(REFERENCE_DIR / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------------------------
# small geometric helpers (metres)

def _blob(rng, centre, radius_m, amplitude, n=720, harmonics=6):
    """Smooth random-radius polygon: r(t) = R (1 + sum a_k cos(k t + p_k))."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.ones_like(t)
    for k in range(2, harmonics + 1):
        r += amplitude * rng.uniform(0.3, 1.0) / (k - 1) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
    xy = np.column_stack([centre[0] + radius_m * r * np.cos(t), centre[1] + radius_m * r * np.sin(t)])
    return shapely.Polygon(xy)


def _scale_to_area(poly, centre, area_m2):
    f = math.sqrt(area_m2 / poly.area)
    c = np.asarray(centre)
    return shapely.transform(poly, lambda xy: c + (xy - c) * f)


def _hex_seeds(rng, poly, spacing_m, jitter=0.35):
    x0, y0, x1, y1 = poly.bounds
    dy = spacing_m * math.sqrt(3) / 2
    rows = np.arange(y0, y1 + dy, dy)
    pts = [np.column_stack([np.arange(x0 + (i % 2) * spacing_m / 2, x1 + spacing_m, spacing_m),
                            np.full(int(np.ceil((x1 + spacing_m - x0 - (i % 2) * spacing_m / 2)
                                                / spacing_m)), y)])
           for i, y in enumerate(rows)]
    xy = np.vstack(pts)
    xy += rng.uniform(-jitter, jitter, xy.shape) * spacing_m
    return xy[shapely.contains_xy(poly, xy[:, 0], xy[:, 1])]


def _kmeans(rng, xy, k, iters=60):
    centres = [xy[rng.integers(len(xy))]]
    for _ in range(1, k):  # k-means++ initialisation
        d2 = np.min(((xy[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        centres.append(xy[rng.choice(len(xy), p=d2 / d2.sum())])
    c = np.array(centres)
    for _ in range(iters):
        lab = np.argmin(((xy[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
        c = np.array([xy[lab == j].mean(0) if np.any(lab == j) else c[j] for j in range(k)])
    return np.argmin(((xy[:, None, :] - c[None]) ** 2).sum(-1), axis=1), c


def _clockwise_from_north(vectors):
    return np.mod(np.degrees(np.arctan2(vectors[:, 0], vectors[:, 1])), 360)


def _wiggle(points, rng, amp_m, step_m=60.0):
    """Densify a polyline and bend it smoothly sideways (sum of three random sines)."""
    line = LineString(points)
    n = max(int(line.length // step_m), 4)
    d = np.linspace(0, line.length, n + 1)
    pts = shapely.get_coordinates(shapely.line_interpolate_point(line, d))
    tan = np.gradient(pts, axis=0)
    tan /= np.linalg.norm(tan, axis=1)[:, None]
    s = d / line.length
    off = sum(amp_m / k * np.sin(k * np.pi * s * rng.uniform(1, 3) + rng.uniform(0, 2 * np.pi))
              for k in (1, 2, 3))
    return LineString(pts + np.column_stack([-tan[:, 1], tan[:, 0]]) * off[:, None])


def _pieces(line, rng, lo, hi):
    """Cut a line into consecutive pieces of random length in [lo, hi] metres."""
    cuts, pos = [0.0], 0.0
    while pos + hi < line.length:
        pos += rng.uniform(lo, hi)
        cuts.append(pos)
    cuts.append(line.length)
    return [substring(line, a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b - a > 1]


def _bearing_at(line, point):
    d = line.project(point)
    a = line.interpolate(max(d - 5, 0))
    b = line.interpolate(min(d + 5, line.length))
    return float(np.mod(np.degrees(np.arctan2(b.x - a.x, b.y - a.y)), 360))


def _random_points_in(rng, poly, k):
    x0, y0, x1, y1 = poly.bounds
    out = np.empty((0, 2))
    while len(out) < k:
        xy = np.column_stack([rng.uniform(x0, x1, 4 * k + 8), rng.uniform(y0, y1, 4 * k + 8)])
        out = np.vstack([out, xy[shapely.contains_xy(poly, xy[:, 0], xy[:, 1])]])
    return out[:k]


def _person(rng):
    given = "".join(rng.choice(GIVEN, size=int(rng.choice([1, 2], p=[.3, .7]))))
    return str(rng.choice(SURNAMES)) + given


def _mobile(rng, used):
    while True:
        p = f"1{rng.choice(list('3456789'))}{int(rng.integers(0, 10**9)):09d}"
        if p not in used:
            used.add(p)
            return p


def _landline(rng):
    return f"0813-{int(rng.integers(2000000, 8999999))}"


# --------------------------------------------------------------------------------------------
# the hierarchy: district, streets, communities, grids

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


# --------------------------------------------------------------------------------------------
# roads and buildings

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


# --------------------------------------------------------------------------------------------
# cameras

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


# --------------------------------------------------------------------------------------------
# people: grid members (网格员)

def build_members(rng, grids, n_shared=12):
    """Rows of members.csv: one lead per grid, 2-4 members per grid, a few members in two grids."""
    role_order = ["lead", "publicity", "security", "mediator"]
    phones, people, slots = set(), [], []
    for props, _ in grids:
        k = int(rng.integers(2, 5))
        grid_slots = []
        for i in range(k):
            people.append((_person(rng), _mobile(rng, phones)))
            extra = [str(r) for r in rng.choice(role_order[1:], size=int(rng.choice([1, 2], p=[.75, .25])),
                                                replace=False)]
            roles = (["lead"] + extra[:1] if rng.random() < .35 else ["lead"]) if i == 0 else extra
            grid_slots.append([len(people) - 1, roles])
        slots.append((props["code"], grid_slots))
    # A few members also serve the next grid of the same community (never as its lead).
    candidates = [i for i in range(1, len(slots)) if slots[i][0][:12] == slots[i - 1][0][:12]
                  and len(slots[i][1]) >= 3]
    for i in sorted(rng.choice(candidates, size=min(n_shared, len(candidates)), replace=False)):
        donor = slots[i - 1][1][int(rng.integers(len(slots[i - 1][1])))][0]
        slots[i][1][-1][0] = donor
    ids, rows = {}, []
    for code, grid_slots in slots:
        for person, roles in grid_slots:
            mid = ids.setdefault(person, f"M{len(ids) + 1:05d}")
            name, phone = people[person]
            rows.append({"member_id": mid, "name": name, "phone": phone, "grid_code": code,
                         "roles": ";".join(r for r in role_order if r in roles)})
    rows.sort(key=lambda r: (r["member_id"], r["grid_code"]))
    return rows


# --------------------------------------------------------------------------------------------
# incidents (事件)

def _day_weights():
    days = np.arange(365)
    dates = [datetime(YEAR, 1, 1) + timedelta(days=int(d)) for d in days]
    w = 1 + 0.18 * np.sin(2 * np.pi * (days - 100) / 365)  # busier in summer
    w *= np.array([0.65 if d.weekday() >= 5 else 1.0 for d in dates])
    w *= np.array([0.5 if datetime(YEAR, 1, 28) <= d <= datetime(YEAR, 2, 4) else
                   0.7 if datetime(YEAR, 10, 1) <= d <= datetime(YEAR, 10, 7) else 1.0 for d in dates])
    return w / w.sum()


def _stamp(seconds):
    return (datetime(YEAR, 1, 1) + timedelta(seconds=int(seconds))).strftime("%Y-%m-%dT%H:%M:%S+08:00")


def incident_points(rng, n, grids, grids_m, hotspots, towns):
    """Incident locations (metres): hotspots, urban grids by households, town centres, rural grids."""
    urban = np.array([p["code"][6] == "0" for p, _ in grids])
    hh = np.array([p["households"] for p, _ in grids], float)

    def in_grids(idx_pool, weights, k):
        chosen = rng.choice(idx_pool, size=k, p=weights / weights.sum())
        out = []
        for g in np.unique(chosen):
            out.append(_random_points_in(rng, grids_m[g], int(np.sum(chosen == g))))
        return np.vstack(out) if out else np.empty((0, 2))

    counts = rng.multinomial(n, [.30, .42, .13, .15])
    hot_xy, hot_w = np.array([h for h, _ in hotspots]), np.array([w for _, w in hotspots])
    h = rng.choice(len(hot_xy), size=counts[0], p=hot_w / hot_w.sum())
    town_xy = np.array([towns[s] for s in sorted(towns)])
    t = rng.integers(0, len(town_xy), counts[2])
    parts = [hot_xy[h] + rng.normal(0, 120, (counts[0], 2)),
             in_grids(np.flatnonzero(urban), hh[urban], counts[1]),
             town_xy[t] + rng.normal(0, 350, (counts[2], 2)),
             in_grids(np.flatnonzero(~urban), np.ones((~urban).sum()), counts[3])]
    return np.vstack(parts), (lambda k: in_grids(np.flatnonzero(urban), hh[urban], k))


def build_incidents(rng, grids, grids_m, grids_ll, hotspots, towns, roads, names, members, categories):
    """Rows of incidents.csv over calendar year 2025, sorted by reported_at."""
    n = int(round(rng.normal(16000, 150)))
    xy, refill = incident_points(rng, n, grids, grids_m, hotspots, towns)
    tree = STRtree(grids_ll)
    tr = _transformer(False)
    while True:
        ll = np.round(np.column_stack(tr.transform(xy[:, 0], xy[:, 1])), DECIMALS)
        pi, gi = tree.query(shapely.points(ll), predicate="within")
        grid_of = np.full(len(xy), -1)
        grid_of[pi] = gi
        bad = np.flatnonzero(grid_of < 0)
        if len(bad) == 0:
            break
        xy[bad] = refill(len(bad))
    seconds = (rng.choice(365, n, p=_day_weights()) * 86400
               + rng.choice(24, n, p=np.array(HOUR_WEIGHT) / sum(HOUR_WEIGHT)) * 3600
               + rng.integers(0, 3600, n))
    order = np.lexsort((ll[:, 1], ll[:, 0], seconds))
    road_geoms = np.array([r["geom"] for r in roads])
    pi, ri = STRtree(road_geoms).query_nearest(shapely.points(xy))
    nearest = np.full(len(xy), -1)
    nearest[pi[::-1]] = ri[::-1]  # first hit wins on ties
    cats = {c["code"]: c for c in categories}
    cat_codes, cat_p = list(CATEGORY_SHARE), np.array(list(CATEGORY_SHARE.values()))
    sources, src_p = list(SOURCE_SHARE), np.array(list(SOURCE_SHARE.values()))
    by_grid = {}
    for m in members:
        by_grid.setdefault(m["grid_code"], []).append(m)
    phones, rows = set(), []
    operators = [(_person(rng), _landline(rng)) for _ in range(8)]
    offices = ["区综治中心", "区委社治委", "区数字化城管中心", "区应急管理局"]
    dec10 = (datetime(YEAR, 12, 10) - datetime(YEAR, 1, 1)).days * 86400
    for serial, k in enumerate(order, start=1):
        props = grids[grid_of[k]][0]
        cat = str(rng.choice(cat_codes, p=cat_p / cat_p.sum()))
        pri = str(rng.choice(PRIORITIES, p=PRIORITY_SHARE.get(cat, DEFAULT_PRIORITY_SHARE)))
        src = str(rng.choice(sources, p=src_p / src_p.sum()))
        road = roads[nearest[k]]["name"]
        if src == "patrol":
            m = by_grid[props["code"]][int(rng.integers(len(by_grid[props["code"]])))]
            reporter = (m["name"], m["phone"])
        elif src == "video":
            reporter = operators[int(rng.integers(len(operators)))]
        elif src == "higher_office":
            reporter = (offices[int(rng.integers(len(offices)))], _landline(rng))
        else:
            reporter = (_person(rng), _mobile(rng, phones))
        u = rng.random()
        p_open = 0.35 if seconds[k] >= dec10 else 0.005
        closed_at = ""
        if u < 0.01:
            state = "voided"
        elif u < 0.01 + p_open:
            state = OPEN_STATES[int(rng.integers(len(OPEN_STATES)))]
        else:
            state = "closed"
            deadline_h = float(cats[cat][f"{pri}_h"])
            dur = max(600.0, deadline_h * 3600 * rng.lognormal(math.log(0.45), 0.7))
            closed_at = _stamp(seconds[k] + dur)
        rows.append({
            "external_id": f"DA{YEAR}-{serial:06d}", "category": cat, "source": src,
            "description": str(rng.choice(DESCRIPTIONS[cat])).format(r=road),
            "address": f"自贡市大安区{names[props['street_code']]}{names[props['community_code']]}{road}附近",
            "lon": repr(float(ll[k, 0])), "lat": repr(float(ll[k, 1])), "priority": pri,
            "reported_at": _stamp(seconds[k]), "reporter_name": reporter[0],
            "reporter_phone": reporter[1], "state": state, "closed_at": closed_at})
    return rows


# --------------------------------------------------------------------------------------------
# service centres (党群服务中心) and renovation sites (老旧小区改造)

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


# --------------------------------------------------------------------------------------------
# the recipe

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
                              ("members.csv", ["member_id", "name", "phone", "grid_code", "roles"], members)):
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


if __name__ == "__main__":
    raise SystemExit(main())
