"""Patrol figures (巡查统计): time each member spends in their grids and how much of its roads they pass.

Per member, assigned grid and district-local day:

* ``minutes_in_grid``: the time between consecutive track points that both lie inside the grid,
  each gap capped at ``gap_cap_min`` (a phone that stops logging for an hour is not an hour of patrol).
* ``road_share``: the share of the grid's road length (roads clipped to the grid) within
  ``buffer_m`` of the day's track, computed in metres in EPSG:4544. The track is broken where a gap
  exceeds the cap, so two sightings an afternoon apart do not "pass" every road between them.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.grids.models import LEAD
from gis.crs import to_metric

GAP_CAP_MIN = 10.0
BUFFER_M = 30.0
REPORT_COLUMNS = ["member_id", "member_name", "grid_code", "day", "points", "minutes_in_grid", "road_length_m",
                  "road_covered_m", "road_share"]


def district_zone(settings) -> ZoneInfo:
    """The district's time zone, from the deployment's settings (its district context)."""
    return settings.district.tz


def _day_bounds(day_from: date, day_to: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return (datetime.combine(day_from, time(), tz), datetime.combine(day_to + timedelta(days=1), time(), tz))


def _grid_roads_m(session: Session, codes: list[str]) -> dict[str, shapely.Geometry]:
    """Each grid's roads clipped to the grid, in EPSG:4544 metres."""
    if not codes:
        return {}
    rows = session.execute(text(
        "SELECT g.code, ST_AsBinary(ST_CollectionExtract(ST_Intersection(ST_Collect(r.geom), g.geom), 2)) "
        "FROM grids g JOIN roads r ON ST_Intersects(r.geom, g.geom) WHERE g.code = ANY(:codes) "
        "GROUP BY g.code, g.geom"), {"codes": codes}).all()
    geoms = gpd.GeoSeries(shapely.from_wkb([bytes(r[1]) for r in rows]), crs="EPSG:4326")
    return dict(zip([r[0] for r in rows], to_metric(geoms)))


def _track_m(xy: np.ndarray, at: np.ndarray, cap_s: float) -> shapely.Geometry:
    """The day's track in metres, broken where the gap between points exceeds the cap."""
    breaks = np.flatnonzero(np.diff(at) > cap_s) + 1
    parts = []
    for seg in np.split(np.arange(len(xy)), breaks):
        parts.append(shapely.Point(xy[seg[0]]) if len(seg) == 1 else shapely.LineString(xy[seg]))
    # a collection, not a union: noding a back-and-forth walk costs ~0.5 s a member-day, and the buffer
    # taken of it is the same area (the buffer dissolves the overlaps itself)
    return shapely.GeometryCollection(parts)


def patrol_report(session: Session, day_from: date, day_to: date, grid_codes=None, *, settings,
                  gap_cap_min: float = GAP_CAP_MIN, buffer_m: float = BUFFER_M) -> pd.DataFrame:
    """Per member, assigned grid and day in [day_from, day_to] (district time): see the module docstring.

    Returns a DataFrame with ``REPORT_COLUMNS``, one row per member × assigned grid × day on which the
    member logged any point; ``road_share`` is NaN for a grid without roads.
    """
    tz = district_zone(settings)
    t0, t1 = _day_bounds(day_from, day_to, tz)
    # rows as plain tuples: pandas probes each SQLAlchemy Row for namedtuple attributes, and every miss
    # raises inside SQLAlchemy (two thirds of a grid lead's page went there)
    assigned = pd.DataFrame([tuple(r) for r in session.execute(text(
        "SELECT DISTINCT r.member_id, r.grid_code, m.name FROM member_roles r JOIN members m ON m.id = r.member_id "
        "WHERE CAST(:codes AS text[]) IS NULL OR r.grid_code = ANY(:codes)"),
        {"codes": list(grid_codes) if grid_codes is not None else None})],
        columns=["member_id", "grid_code", "member_name"])
    # only the points of those members (not the district's), so every member read has a grid here
    pts = pd.DataFrame([tuple(r) for r in session.execute(text(
        "SELECT p.member_id, p.at, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat, p.grid_code FROM patrol_points p "
        "WHERE p.at >= :t0 AND p.at < :t1 AND p.member_id = ANY(:members) ORDER BY p.member_id, p.at"),
        {"t0": t0, "t1": t1, "members": sorted({int(m) for m in assigned["member_id"]})})],
        columns=["member_id", "at", "lon", "lat", "grid_code"])
    if pts.empty:
        return pd.DataFrame(columns=REPORT_COLUMNS)
    at = pd.to_datetime(pts["at"], utc=True)
    pts = pts.assign(day=at.dt.tz_convert(tz).dt.date, t=(at - pd.Timestamp(0, tz="UTC")).dt.total_seconds())
    xy = shapely.get_coordinates(to_metric(gpd.GeoSeries(gpd.points_from_xy(pts["lon"], pts["lat"]),
                                                         crs="EPSG:4326")))
    pts["x"], pts["y"] = xy[:, 0], xy[:, 1]
    roads = _grid_roads_m(session, sorted(assigned["grid_code"].unique()))
    cap_s = gap_cap_min * 60.0
    grids_of = assigned.groupby("member_id")
    rows = []
    for (member, day), g in pts.groupby(["member_id", "day"], sort=True):
        t = g["t"].to_numpy()
        dt = np.minimum(np.diff(t), cap_s)
        codes = g["grid_code"].to_numpy(dtype=object)
        buffer = _track_m(g[["x", "y"]].to_numpy(), t, cap_s).buffer(buffer_m)
        for _, a in grids_of.get_group(member).iterrows():
            inside = codes == a["grid_code"]
            minutes = float(dt[inside[:-1] & inside[1:]].sum() / 60.0) if len(t) > 1 else 0.0
            road = roads.get(a["grid_code"])
            length = float(road.length) if road is not None else 0.0
            covered = float(road.intersection(buffer).length) if length else 0.0
            rows.append({"member_id": int(member), "member_name": a["member_name"], "grid_code": a["grid_code"],
                         "day": day, "points": int(inside.sum()), "minutes_in_grid": round(minutes, 3),
                         "road_length_m": round(length, 1), "road_covered_m": round(covered, 1),
                         "road_share": covered / length if length else np.nan})
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def unpatrolled_grids(session: Session, days: int, grid_codes=None, *, now: datetime | None = None) -> pd.DataFrame:
    """Grids with no patrol point inside them in the last ``days`` days, with their last patrol time."""
    now = now or datetime.now(timezone.utc)
    rows = session.execute(text(
        "SELECT g.code AS grid_code, g.name, lead.member_id AS lead_member_id, last.at AS last_patrol_at "
        "FROM grids g LEFT JOIN member_roles lead ON lead.grid_code = g.code AND lead.role = :lead "
        "LEFT JOIN LATERAL (SELECT max(p.at) AS at FROM patrol_points p WHERE p.grid_code = g.code "
        "AND p.at <= :now) last ON true "
        "WHERE (CAST(:codes AS text[]) IS NULL OR g.code = ANY(:codes)) "
        "AND (last.at IS NULL OR last.at < :since) ORDER BY g.code"),
        {"now": now, "since": now - timedelta(days=days), "lead": LEAD,
         "codes": list(grid_codes) if grid_codes is not None else None}).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=["grid_code", "name", "lead_member_id", "last_patrol_at"])
