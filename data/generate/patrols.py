"""Patrol tracks (巡查轨迹) of the grid members over the last days before the snapshot: patrols.csv.

A member patrols on a day with a probability that depends on the role (the lead most days, the others
now and then), halved at weekends, and lower for a few lax members, so that most grids show patrols in
any week and a few do not. A patrol is one walk of 20–45 minutes in one of the member's grids, along
the roads inside it (a random walk across the grid when it has none), one GPS fix every 100–200 s with
a few metres of noise. Everything is in metres in EPSG:4544 and written as lon/lat.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import shapely
from shapely import STRtree

from data.generate.common import DECIMALS, YEAR, _random_points_in, _transformer
from data.generate.incidents import SNAPSHOT_S, _stamp

PATROL_COLUMNS = ["member_id", "time", "lon", "lat"]
PATROL_DAYS = 14  # the tracks cover the last 14 days before the snapshot
P_PATROL = {"lead": 0.6, "other": 0.12}  # chance of a patrol on a weekday
WEEKEND = 0.5
LAX = (0.1, 0.15)  # a tenth of the members patrol at 15 % of their role's rate
START_HOURS = np.array([8, 9, 10, 14, 15, 16])
START_WEIGHTS = np.array([1.0, 2.0, 1.5, 1.5, 2.0, 1.0])
SPEED_M_S = (0.9, 1.4)
INSET_M = 5.0  # walk this far inside the grid edge, so noise never carries a fix into the neighbour


def _grid_paths(grids_m, roads) -> list[list[shapely.LineString]]:
    """For each grid, the road pieces inside it (metres), longest first; [] for a grid without roads."""
    road_geoms = np.array([r["geom"] for r in roads], dtype=object)
    tree = STRtree(road_geoms)
    out = []
    for g in grids_m:
        inner = g.buffer(-INSET_M)
        parts = []
        for i in tree.query(inner, predicate="intersects"):
            for p in shapely.get_parts(road_geoms[i].intersection(inner)):
                if p.geom_type == "LineString" and p.length > 30:
                    parts.append(p)
        out.append(sorted(parts, key=lambda p: -p.length))
    return out


def _along_roads(rng, parts, steps) -> np.ndarray:
    """Positions after each step (metres) walking the pieces; at a piece's end, go on along a piece
    that starts within 60 m (roads of one grid meet), else turn back."""
    i = int(rng.integers(len(parts)))
    s = float(rng.uniform(0, parts[i].length))
    sign = 1.0 if rng.random() < 0.5 else -1.0
    ends = np.array([[p.coords[0], p.coords[-1]] for p in parts])  # (n, 2 ends, xy)
    out = []
    for step in steps:
        out.append(shapely.get_coordinates(parts[i].interpolate(s))[0])
        s += sign * step
        if 0 <= s <= parts[i].length:
            continue
        here = np.asarray(parts[i].coords[-1 if s > 0 else 0])
        d = np.linalg.norm(ends - here, axis=2)
        d[i] = np.inf
        near = np.argwhere(d < 60)
        if len(near):
            i, end = (int(v) for v in near[int(rng.integers(len(near)))])
            sign, s = (1.0, 0.0) if end == 0 else (-1.0, parts[i].length)
        else:
            sign, s = -sign, min(max(s, 0.0), parts[i].length)
    return np.array(out)


def _across(rng, grid_m, steps) -> np.ndarray:
    """A random walk inside a grid without roads: heading drifts, and turns back at the edge."""
    inner = grid_m.buffer(-INSET_M)
    inner = inner if not inner.is_empty else grid_m
    xy = _random_points_in(rng, inner, 1)[0]
    heading = rng.uniform(0, 2 * np.pi)
    out = []
    for step in steps:
        out.append(xy.copy())
        for _ in range(8):
            nxt = xy + step * np.array([np.sin(heading), np.cos(heading)])
            if shapely.contains_xy(inner, nxt[0], nxt[1]):
                xy = nxt
                break
            heading = rng.uniform(0, 2 * np.pi)
        heading += rng.normal(0, 0.5)
    return np.array(out)


def _track(rng, grid_m, parts, day_s) -> tuple[np.ndarray, np.ndarray]:
    """(seconds since 1 January, xy metres) of one patrol on the day starting at ``day_s``."""
    start = day_s + int(rng.choice(START_HOURS, p=START_WEIGHTS / START_WEIGHTS.sum())) * 3600 \
        + int(rng.integers(0, 3600))
    duration = rng.uniform(20 * 60, 45 * 60)
    gaps = rng.uniform(100, 200, int(duration // 100) + 1)
    gaps = gaps[np.cumsum(gaps) <= duration]
    at = start + np.concatenate([[0], np.cumsum(gaps)]).astype(int)
    steps = rng.uniform(*SPEED_M_S) * np.concatenate([gaps, [0.0]])
    xy = _along_roads(rng, parts, steps) if parts else _across(rng, grid_m, steps)
    noisy = xy + rng.normal(0, 3.0, xy.shape)
    inside = shapely.contains_xy(grid_m, noisy[:, 0], noisy[:, 1])
    return at, np.where(inside[:, None], noisy, xy)


def build_patrols(rng, grids, grids_m, roads, members) -> list[dict]:
    """Rows of patrols.csv (member_id, time, lon, lat), by member then time: at most one patrol per
    member and day, in the grid the member leads, else one of the member's grids."""
    index = {p["code"]: k for k, (p, _) in enumerate(grids)}
    paths = _grid_paths(grids_m, roads)
    grids_of: dict[str, list[tuple[str, bool]]] = {}
    for m in members:
        grids_of.setdefault(m["member_id"], []).append((m["grid_code"], "lead" in m["roles"].split(";")))
    first_day = SNAPSHOT_S // 86400 - PATROL_DAYS
    tr = _transformer(False)
    rows = []
    for member in sorted(grids_of):
        mine = sorted(grids_of[member], key=lambda g: (not g[1], g[0]))
        rate = P_PATROL["lead" if mine[0][1] else "other"] * (LAX[1] if rng.random() < LAX[0] else 1.0)
        for day in range(first_day, first_day + PATROL_DAYS):
            weekend = (datetime(YEAR, 1, 1) + timedelta(days=day)).weekday() >= 5
            if rng.random() >= rate * (WEEKEND if weekend else 1.0):
                continue
            k = index[mine[0][0] if mine[0][1] or len(mine) == 1 else mine[int(rng.integers(len(mine)))][0]]
            at, xy = _track(rng, grids_m[k], paths[k], day * 86400)
            ll = np.round(np.column_stack(tr.transform(xy[:, 0], xy[:, 1])), DECIMALS)
            rows += [{"member_id": member, "time": _stamp(t), "lon": repr(float(x)), "lat": repr(float(y))}
                     for t, (x, y) in zip(at, ll)]
    return rows
