"""The planner dashboard (覆盖规划): coverage ratio per grid, view cones, blind spots, incidents outside
camera view, the least-covered grids, a what-if of K new sites, and coverage report downloads.

Adapters over ``gis.coverage`` / ``gis.placement`` (issue 5); the per-grid coverage is cached per
process until the camera registry or the grids change (its computation is the expensive part).
"""
from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import folium
import geopandas as gpd
import pandas as pd
from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.dashboards.pages import MapParts, camera_legend, light as _light, render_parts, say_in
from app.dashboards.service import iso_minute
from app.incidents.models import OPEN_STATES, Category
from app.layers_db import district_bounds, read_layer
from gis.errors import InvalidData
from layers import cameras as camera_layer, coverage as coverage_layer, incidents as incident_layer
from layers.base import base_map, finish, to_display

LEAST_COVERED = 15
OUTSIDE_MARKERS = 1000  # most 'outside camera view' markers a planner page embeds
FORMATS = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "gpkg": "application/geopackage+sqlite3"}


def _version(s: Session) -> tuple:
    return tuple(s.execute(text(
        "SELECT (SELECT count(*) FROM cameras), (SELECT max(updated_at) FROM cameras), "
        "(SELECT count(*) FROM grids), (SELECT max(updated_at) FROM grids)")).one())


def grid_coverage(s: Session) -> gpd.GeoDataFrame:
    """Grids with ``area_m2``, ``covered_m2``, ``ratio``, ``redundant_m2`` (ON cameras only: an
    offline camera covers nothing)."""
    cache = current_app.extensions.setdefault("gridwatch.dashboards.coverage", {})
    key = (id(current_app.extensions["gridwatch.db"]), _version(s))
    if key in cache:
        return cache[key].copy()
    from gis.coverage import coverage_by_area

    grids = read_layer(s, "grids")
    cams = read_layer(s, "cameras", where="status = 'ON'")
    table = pd.DataFrame(coverage_by_area(cams, grids, code="code"))
    out = grids.merge(table[["code", "area_m2", "covered_m2", "ratio", "redundant_m2"]], on="code", how="left")
    cache.clear()
    cache[key] = out
    return out.copy()


def _blind(cams: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    from gis.coverage import blind_spots

    return blind_spots(cams, grids, code="code")


def outside_view(s: Session, cams: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Open incidents no ON camera's view sector contains (in EPSG:4326)."""
    from gis.coverage import seen_mask

    inc = read_layer(s, "incidents", where="state = ANY(:open)", params={"open": list(OPEN_STATES)})
    if not len(inc):
        return inc
    return inc[~seen_mask(cams, inc.geometry)]


def planner_map(s: Session, settings, *, lang: str = "zh") -> tuple[MapParts, pd.DataFrame]:
    basemap, say = settings.basemap, say_in(lang)
    m = base_map(district_bounds(s), basemap=basemap, tianditu_key=settings.tianditu_key)
    cov = grid_coverage(s)
    coverage_layer.coverage_choropleth(_light(cov, basemap), say=say).add_to(m)
    coverage_layer.ratio_legend(say("coverage")).add_to(m)
    cams = read_layer(s, "cameras", where="status = 'ON'")
    camera_layer.cameras(to_display(read_layer(s, "cameras"), basemap), cones=False, show=True, say=say).add_to(m)
    camera_legend(lang).add_to(m)
    from gis.coverage import view_sector_frame

    camera_layer.view_cones(_light(view_sector_frame(cams), basemap)).add_to(m)
    # off until asked for: over the choropleth they would hide it (most of a rural grid is blind)
    coverage_layer.blind_spots(_light(_blind(cams, cov), basemap), show=False, say=say).add_to(m)
    out = outside_view(s, cams).assign(overdue=False)
    n_outside = len(out)
    out = out.sort_values("reported_at", ascending=False).head(OUTSIDE_MARKERS)  # the newest; count stays exact
    out = out.rename(columns={"code": "id"})
    names = dict(s.execute(select(Category.code, Category.name_en if lang == "en" else Category.name_zh)).all())
    out["category"] = out["category_code"].map(names).fillna(out["category_code"])
    for col in ("reported_at", "deadline"):
        out[col] = out[col].map(lambda v: iso_minute(v, settings.timezone))
    incident_layer.incidents(to_display(out, basemap), name="视野外事件 outside view", show=False, say=say).add_to(m)
    sites = folium.FeatureGroup(name="建议点位 proposed sites", show=True).add_to(m)
    finish(m)
    table = cov.drop(columns=cov.geometry.name).sort_values(["ratio", "code"]).head(LEAST_COVERED)
    parts = render_parts(m, {"sites": sites.get_name()}, {"outside_view": n_outside})
    return parts, table[["code", "name", "area_m2", "covered_m2", "ratio"]]


def what_if(s: Session, k: int, *, basemap: str, days: int = 365) -> dict:
    """K proposed new sites at road intersections (``gis.placement.plan_sites``, MCLP) that cover the most
    incidents of the last ``days`` not yet seen by an ON camera; their coverage discs and the gain, as
    map GeoJSON (display coordinates)."""
    from gis.coverage import view_sectors
    from gis.crs import from_metric, to_metric
    from gis.placement import DEFAULT_SITE_RANGE_M, plan_sites, road_intersections

    cams = read_layer(s, "cameras", where="status = 'ON'")
    demand = read_layer(s, "incidents", where="reported_at >= (SELECT max(reported_at) FROM incidents) - "
                                              "make_interval(days => :d)", params={"d": days}).assign(weight=1.0)
    plan = plan_sites(road_intersections(read_layer(s, "roads")), demand, k, existing=view_sectors(cams),
                      areas=read_layer(s, "grids"), code="code")
    sites = plan.sites
    discs = gpd.GeoDataFrame(geometry=from_metric(to_metric(sites.geometry).buffer(DEFAULT_SITE_RANGE_M)),
                             crs=4326) if len(sites) else gpd.GeoDataFrame(geometry=[], crs=4326)
    shown = to_display(sites[[c for c in ("rank", "gain", "share", "code") if c in sites.columns]
                             + [sites.geometry.name]], basemap)
    return {"k": plan.k, "sites": json.loads(shown.to_json(drop_id=True)),
            "cones": json.loads(to_display(discs, basemap).to_json(drop_id=True)),
            "new_incidents": plan.new_demand, "total_incidents": plan.total_demand,
            "share_before": plan.share_before, "share_after": plan.share_after, "notes": plan.notes}


def coverage_file(s: Session, fmt: str) -> tuple[bytes, str]:
    """The per-grid coverage report as CSV, XLSX or GeoPackage bytes."""
    if fmt not in FORMATS:
        raise InvalidData(f"format: {fmt!r}; use one of {', '.join(FORMATS)}")
    cov = grid_coverage(s)
    cols = ["code", "name", "community_code", "street_code", "area_m2", "covered_m2", "ratio", "redundant_m2"]
    if fmt in ("csv", "xlsx"):  # spreadsheets: grid names escaped against formulas (gis.io.escape_frame)
        from gis.io import escape_frame

        table = escape_frame(pd.DataFrame(cov[cols]))
    if fmt == "csv":
        return ("\ufeff" + table.to_csv(index=False)).encode("utf-8"), FORMATS[fmt]
    if fmt == "xlsx":
        buf = io.BytesIO()
        table.to_excel(buf, index=False, sheet_name="coverage")
        return buf.getvalue(), FORMATS[fmt]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "coverage.gpkg"
        cov[cols + [cov.geometry.name]].to_file(path, driver="GPKG", layer="coverage_by_grid", engine="pyogrio")
        return path.read_bytes(), FORMATS[fmt]
