"""The planner dashboard (覆盖规划): coverage ratio per grid, view cones, blind spots, incidents outside
camera view, the least-covered grids, a what-if of K new sites (listed, exported, adopted as planned
cameras) and coverage report downloads.

Every figure comes from the coverage service the ``gridwatch coverage`` commands use
(``app.coverage.service``): the same cameras, the same incident demand, the same per-area cache
(``<var>/cache/coverage``), so the page and the command line give the same plan.
"""
from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.coverage import service
from app.dashboards.pages import (MapParts, camera_layers, camera_legend, descendant, light as _light, map_frames,
                                  render_parts, say_in)
from app.dashboards.service import iso_minute
from app.incidents.models import OPEN_STATES, Category
from app.layers_db import district_bounds, read_layer
from gis.errors import Conflict, InvalidData
from layers import cameras as camera_layer, coverage as coverage_layer, incidents as incident_layer
from layers.base import GeoJsonLayer, base_map, finish, to_display

LEAST_COVERED = 15
OUTSIDE_MARKERS = 1000  # most 'outside camera view' markers a planner page embeds
#: the what-if's K: a plan of more sites than this is a programme for the command line (``coverage plan``)
PLAN_K_MAX = 50
PLAN_K_DEFAULT = 5
FORMATS = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "gpkg": "application/geopackage+sqlite3"}
#: the formats of a plan's export (its sites): a table, or a layer for QGIS
PLAN_FORMATS = {k: FORMATS[k] for k in ("csv", "gpkg")}
#: the columns of a proposed site, in the list, the export and the JSON (WGS-84 and display coordinates)
SITE_COLUMNS = ["rank", "lon", "lat", "display_lon", "display_lat", "gain", "cumulative", "share", "code", "grid_name"]


def cache_dir(settings) -> Path:
    """The per-area coverage cache the CLI's ``coverage report`` keeps too (one cache, one answer)."""
    return settings.var_path / "cache" / "coverage"


def grid_coverage(s: Session, settings, cams: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Grids with the coverage report's figures (``service.coverage_report``: ``area_m2``, ``covered_m2``,
    ``ratio``, ``redundant_m2``, ``incidents``, ``unseen_incidents``) and ``cameras``, how many cameras
    (built, any status) stand in each grid; ``cams``: ``service.load_cameras`` when already read."""
    cov = service.coverage_report(s, by="grid", cache_dir=cache_dir(settings), cameras=cams)
    counts = dict(s.execute(text("SELECT grid_code, count(*) FROM cameras WHERE lifecycle = 'active' "
                                 "AND grid_code IS NOT NULL GROUP BY grid_code")).all())
    cov["cameras"] = cov["code"].map(counts).fillna(0).astype(int)
    return cov


def outside_view(s: Session, cams: gpd.GeoDataFrame, days: int | None = service.DEMAND_DAYS,
                 known: service.DemandSeen | None = None) -> gpd.GeoDataFrame:
    """Open incidents no working camera's view contains (in EPSG:4326), of the demand's period (reported in the
    ``days`` days up to the newest incident, ``service.demand_window``: the period the plan weighs; an
    incident left open for years is the work-order list's business, not where the next camera goes).

    ``known``: incidents already asked about with the same cameras (the coverage report's
    ``attrs["demand_seen"]``: every open incident of the period is a demand incident); only the incidents
    not among them (one reported in between) are tested against the views."""
    from gis.coverage import seen_mask

    window, wp = service.demand_window(s, days, alias="")
    inc = read_layer(s, "incidents", where="state = ANY(:open) AND " + window,
                     params={"open": list(OPEN_STATES), **wp})
    if not len(inc):
        return inc
    seen = np.zeros(len(inc), dtype=bool)
    ask = np.ones(len(inc), dtype=bool)
    if known is not None and len(known.ids):
        ids, known_seen = known.ids, known.seen
        codes = inc["code"].to_numpy()
        at = np.minimum(np.searchsorted(ids, codes), len(ids) - 1)
        found = ids[at] == codes
        seen[found], ask = known_seen[at[found]], ~found
    if ask.any():
        seen[ask] = seen_mask(cams, inc.geometry[ask])
    return inc[~seen]


def least_covered_table(cov: pd.DataFrame, n: int = LEAST_COVERED) -> pd.DataFrame:
    """The page's table: ``service.least_covered`` (ties broken by incidents out of view, then area)."""
    return pd.DataFrame(service.least_covered(cov, n)[["code", "name", "area_m2", "covered_m2", "ratio", "cameras",
                                                       "unseen_incidents"]])


def planner_map(s: Session, settings, *, lang: str = "zh") -> tuple[MapParts, pd.DataFrame]:
    basemap, say = settings.basemap, say_in(lang)
    m = base_map(district_bounds(s), basemap=basemap, tianditu_key=settings.tianditu_key)
    cams = service.load_cameras(s, view_only=True)  # coverage, cones (device_id, status), outside view
    cov = grid_coverage(s, settings, cams)
    coverage_layer.coverage_choropleth(_light(cov, basemap), say=say).add_to(m)
    coverage_layer.ratio_legend(say("coverage")).add_to(m)
    frames = map_frames(s, basemap, None)  # the district's cameras as the operator's map draws them
    cam_names = camera_layers(m, frames, say)
    camera_legend(lang).add_to(m)
    from gis.coverage import view_sector_frame

    # the cones of the cameras drawn: every one, or (by bounding box) those map.js loads into this layer
    by_bbox = "camera_counts" in cam_names
    cone_group = camera_layer.view_cones(_light(view_sector_frame(cams), basemap) if not by_bbox else None)
    cone_group.add_to(m)
    if by_bbox:
        cam_names["camera_cones"] = descendant(cone_group, GeoJsonLayer)
    # off until asked for: over the choropleth they would hide it (most of a rural grid is blind)
    # filled from /api/map/blind-spots when turned on (map.js): computed once per state of cameras and grids
    spots = coverage_layer.blind_spots(None, show=False, say=say)
    spots.add_to(m)
    cam_names["blind_spots"] = descendant(spots, GeoJsonLayer)
    cam_names["blind_spots_group"] = spots.get_name()
    out = outside_view(s, cams, known=cov.attrs.get("demand_seen")).assign(overdue=False)
    n_outside = len(out)
    out = out.sort_values("reported_at", ascending=False).head(OUTSIDE_MARKERS)  # the newest; count stays exact
    out = out.rename(columns={"code": "id"})
    names = dict(s.execute(select(Category.code, Category.name_en if lang == "en" else Category.name_zh)).all())
    out["category"] = out["category_code"].map(names).fillna(out["category_code"])
    for col in ("reported_at", "deadline"):
        out[col] = out[col].map(lambda v: iso_minute(v, settings.timezone))
    incident_layer.incidents(to_display(out, basemap), name="视野外事件 outside view", show=False, say=say).add_to(m)
    planned = read_layer(s, "planned-cameras")
    coverage_layer.planned_cameras(to_display(planned, basemap), name=say("plan_layer_planned"), say=say).add_to(m)
    import folium

    sites = folium.FeatureGroup(name=say("plan_layer_sites"), show=True).add_to(m)
    finish(m)
    parts = render_parts(m, {"sites": sites.get_name(), **cam_names},
                         {"outside_view": n_outside, "outside_days": service.DEMAND_DAYS,
                          "planned": len(planned)})
    return parts, least_covered_table(cov)


# -- the what-if ------------------------------------------------------------------------------------
def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= PLAN_K_MAX:
        raise InvalidData(f"k: {k!r}; give a whole number of new sites from 1 to {PLAN_K_MAX}")
    return k


def plan_sites(s: Session, k: int, *, basemap: str) -> tuple[gpd.GeoDataFrame, object]:
    """The K sites of ``service.plan`` (the CLI's ``coverage plan --add K``) as the page lists them:
    ``SITE_COLUMNS`` (WGS-84 ``lon``/``lat`` and the map's ``display_lon``/``display_lat``, which differ on
    a GCJ-02 basemap) and point geometry in WGS-84; and the plan itself."""
    plan = service.plan(s, _check_k(k))
    sites = plan.sites.reset_index(drop=True)
    shown = to_display(sites, basemap)
    names = dict(s.execute(text("SELECT code, name FROM grids")).all())
    code = sites["code"] if "code" in sites.columns else pd.Series([None] * len(sites), dtype=object)
    out = gpd.GeoDataFrame({
        "rank": sites["rank"].astype(int), "lon": sites.geometry.x.round(7), "lat": sites.geometry.y.round(7),
        "display_lon": shown.geometry.x.round(7).to_numpy(), "display_lat": shown.geometry.y.round(7).to_numpy(),
        "gain": sites["gain"].astype(float).round(2), "cumulative": sites["cumulative"].astype(float).round(2),
        "share": sites["share"].astype(float).round(6), "code": code.to_numpy(),
        "grid_name": code.map(names).to_numpy()}, geometry=sites.geometry.to_numpy(), crs=4326)
    return out[SITE_COLUMNS + [out.geometry.name]], plan


def what_if(s: Session, k: int, *, basemap: str) -> dict:
    """K proposed new sites at road intersections (``service.plan``: MCLP over the demand incidents not yet
    seen by a working camera), their coverage discs (display coordinates), each site's gain, the totals and
    the plan's ``basis`` (``service.plan_basis``: an export sends it back)."""
    from gis.crs import from_metric, to_metric
    from gis.placement import DEFAULT_SITE_RANGE_M

    basis = service.plan_basis(s)  # before the plan: data changing meanwhile makes an export a conflict
    sites, plan = plan_sites(s, k, basemap=basemap)
    discs = gpd.GeoDataFrame({"rank": sites["rank"].to_numpy()},
                             geometry=from_metric(to_metric(sites.geometry).buffer(DEFAULT_SITE_RANGE_M)), crs=4326)
    rows = json.loads(pd.DataFrame(sites.drop(columns=sites.geometry.name)).to_json(orient="records"))
    points = to_display(sites[["rank", "gain", "share", "code", sites.geometry.name]], basemap)
    return {"k": plan.k, "basis": basis, "range_m": DEFAULT_SITE_RANGE_M, "sites": rows,
            "points": json.loads(points.to_json(drop_id=True)),
            "cones": json.loads(to_display(discs, basemap).to_json(drop_id=True)),
            "new_incidents": round(plan.new_demand, 2), "total_incidents": round(plan.total_demand, 2),
            "share_before": plan.share_before, "share_after": plan.share_after, "notes": plan.notes}


def plan_file(s: Session, k: int, fmt: str, basis: str | None, *, basemap: str) -> tuple[bytes, str]:
    """The sites of the plan the page showed, as CSV or GeoPackage bytes.

    ``basis`` is the one the page got with the plan: when the data changed since (another basis), the
    answer is a :class:`~gis.errors.Conflict` naming both, never a file of other sites than those shown.
    """
    if fmt not in PLAN_FORMATS:
        raise InvalidData(f"format: {fmt!r}; use one of {', '.join(PLAN_FORMATS)}")
    now = service.plan_basis(s)
    if basis is not None and basis != now:
        raise Conflict(f"basis: the plan shown was computed on data {basis}; the cameras, incidents, grids or roads "
                       f"have changed since (now {now}): run the plan again and export that one")
    sites, _plan = plan_sites(s, k, basemap=basemap)
    from gis.io import frame_bytes  # the shared writer: grid names escaped against formulas, GDAL's types

    table = pd.DataFrame(sites.drop(columns=sites.geometry.name)) if fmt == "csv" else sites
    return frame_bytes(table, f".{fmt}", layer="proposed_sites"), PLAN_FORMATS[fmt]


def coverage_file(s: Session, fmt: str, settings=None) -> tuple[bytes, str]:
    """The per-grid coverage report as CSV, XLSX or GeoPackage bytes."""
    if fmt not in FORMATS:
        raise InvalidData(f"format: {fmt!r}; use one of {', '.join(FORMATS)}")
    cov = service.coverage_report(s, by="grid", cache_dir=cache_dir(settings) if settings is not None else None)
    cols = ["code", "name", "community_code", "street_code", "area_m2", "covered_m2", "ratio", "redundant_m2",
            "incidents", "unseen_incidents"]
    # the shared writer (gis.io): spreadsheets' grid names escaped against formulas, GDAL's types, and the
    # GeoPackage styled as the planner's choropleth (graduated by ratio, layers.qgis_styles)
    from app.layers_db import layer_style
    from gis.io import frame_bytes

    if fmt in ("csv", "xlsx"):
        return frame_bytes(pd.DataFrame(cov[cols]), f".{fmt}", layer="coverage"), FORMATS[fmt]
    return frame_bytes(cov[cols + [cov.geometry.name]], ".gpkg", layer="coverage_by_grid",
                       style=layer_style("coverage")), FORMATS[fmt]
