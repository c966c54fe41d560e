"""Constants, coordinate transforms (EPSG:4326 <-> EPSG:4544), deterministic writers and small
geometric helpers (metres) shared by every part of the demo-district generator.
"""
from __future__ import annotations

import csv
import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, mapping
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
HERE = Path(__file__).resolve().parents[1]  # data/
REFERENCE_DIR = HERE / "reference"
DEFAULT_OUT = HERE / "demo"
TOWN_COMMUNITY_SUFFIX = "200"  # the single community of a town/township: street code + '200'


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
