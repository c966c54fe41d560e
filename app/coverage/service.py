"""Coverage analysis over the stored layers (视频覆盖分析): reports per grid / community / street with a
per-area cache, blind spots, placement plans and the cameras that see a spot.

Adapters between the database (``app.layers_db.read_layer``) and the pure functions of
:mod:`gis.coverage` and :mod:`gis.placement`.

The one coverage service: the ``gridwatch coverage`` commands and the planner dashboard
(``app.dashboards.planning``, ``app.dashboards.details``) both call these functions, so they count the
same cameras (:func:`load_cameras`, then ``gis.coverage.working``), weigh the same incidents
(:func:`demand_incidents`) and answer "which cameras see this spot" the same way (:func:`cameras_seeing`).
``docs/coverage.md`` says why these definitions.

Cache: one JSON file per (area kind, options) under ``<var>/cache/coverage/``. Each area's entry is
keyed on a fingerprint of what its figures depend on: the area's geometry, the view polygon of every
working camera whose view's bounding box meets the area, plus, with occlusion, the buildings near those
views. A camera change therefore recomputes only the areas its old or new view touches; the key is the
content, not a version number, so a rolled-back change can never leave a wrong entry behind.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.coverage.demand import PERIOD_START_SQL, TRACKER
from app.layers_db import binary_rows, read_layer
from camera_registry import planned
from gis import coverage, placement, viewshed
from gis.crs import METRIC_CRS, metric_transformer
from gis.errors import InvalidData

AREA_LAYERS = {"grid": "grids", "community": "communities", "street": "streets"}
FIGURES = ["area_m2", "covered_m2", "ratio", "redundant_m2"]
DEMANDS = ("incidents", "area")
AREA_DEMAND_CELL_M = 50.0
#: the incidents a plan weighs and a report counts: those of the last DEMAND_DAYS days up to the newest one
DEMAND_DAYS = 365
#: incident states that are no demand: a voided report is a duplicate or a false one
NOT_DEMAND_STATES = ("voided",)


def _kind(by: str) -> str:
    if by not in AREA_LAYERS:
        raise InvalidData(f"by: {by!r}; use one of {', '.join(AREA_LAYERS)}")
    return AREA_LAYERS[by]


def load_cameras(session: Session, *, view_only: bool = False) -> gpd.GeoDataFrame:
    """The cameras that exist (``lifecycle = 'active'``; the "cameras" layer): which of them see anything is
    ``gis.coverage.working``'s one rule (all but OFF / VLOST / DEFECT, unless ``include_offline``). A planned
    camera is not among them: it counts as coverage only once it is built and set ON.

    ``view_only``: only the columns the coverage functions read (``gis.coverage.VIEW_COLUMNS``), for a
    caller that asks nothing else of the cameras (the planner page: at 47,100 cameras the whole layer took
    half of its time)."""
    return read_layer(session, "cameras", columns=coverage.VIEW_COLUMNS if view_only else None)


def load_buildings(session: Session) -> gpd.GeoDataFrame:
    return read_layer(session, "buildings")


def demand_window(session: Session, days: int | None, alias: str = "i.") -> tuple[str, dict]:
    """The SQL condition of the demand's period and its parameters: reported in the ``days`` days up to the
    newest incident; TRUE for every incident (``days=None``). One definition for the plan, the coverage
    report and the planner's incidents outside view. The start is read first and bound as a value: with
    the newest incident as a subquery the planner could not see how few rows a year is, and at 1.6M
    incidents it walked the whole primary key (1 s) instead of the ``reported_at`` index."""
    if days is None:
        return "TRUE", {}
    if isinstance(days, bool) or int(days) != days or days < 1:
        raise InvalidData(f"days: {days!r}; give a whole number of days ≥ 1")
    since = session.execute(text(PERIOD_START_SQL), {"days": int(days)}).scalar()
    if since is None:  # no incident at all
        return "FALSE", {}
    return f"{alias}reported_at >= :demand_since", {"demand_since": since}


def demand_incidents(session: Session, days: int | None = DEMAND_DAYS, *,
                     metric: bool = False) -> gpd.GeoDataFrame:
    """The incidents coverage is weighed by (事件需求): every incident reported in the ``days`` days up to the
    newest one (all of them with ``days=None``), except voided ones (``NOT_DEMAND_STATES``), each with
    ``weight`` = its category's ``categories.weight`` (1 where unset).

    Returns ``code`` (the incident id, ascending), ``weight`` and point geometry in EPSG:4326, or in
    ``METRIC_CRS`` with ``metric`` (the coordinates projected before the points are made: exactly what
    ``.to_crs(METRIC_CRS)`` gives, without making and copying every point twice).

    Read as one row of four arrays in PostgreSQL's binary format, in no order, then sorted by id here:
    at 160,000 incidents, rows took 0.8 s, text arrays each sorted by id in the database 0.4 s, this 0.15 s.
    The four aggregates read the same rows in the same order, so the arrays stay aligned.
    """
    window, wp = demand_window(session, days)
    _, rows = binary_rows(session.connection(),
                          "SELECT array_agg(i.id), array_agg(coalesce(k.weight, 1.0)::float8), "
                          "array_agg(ST_X(i.geom)), array_agg(ST_Y(i.geom)) "
                          "FROM incidents i LEFT JOIN categories k ON k.code = i.category_code "
                          f"WHERE i.state <> ALL(:not_demand) AND {window}",
                          {"not_demand": list(NOT_DEMAND_STATES), **wp})
    ids, weight, lon, lat = rows[0]
    ids = np.asarray(ids or [], dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    x, y = np.asarray(lon or [], float)[order], np.asarray(lat or [], float)[order]
    if metric and len(x):
        x, y = (np.asarray(v, dtype=float) for v in metric_transformer().transform(x, y))
    return gpd.GeoDataFrame({"code": ids[order], "weight": np.asarray(weight or [], dtype=float)[order]},
                            geometry=gpd.points_from_xy(x, y), crs=METRIC_CRS if metric else 4326)


@dataclass(frozen=True, eq=False)  # compared by identity: pandas compares attrs, and arrays have no truth value
class DemandSeen:
    """The demand incidents' ``ids`` (ascending, as :func:`demand_incidents` reads them) and ``seen``, whether
    the view of a working camera contains each (``gis.coverage.seen_mask``)."""

    ids: np.ndarray
    seen: np.ndarray


# -- the cache ------------------------------------------------------------------------------------
def _fingerprints(targets: np.ndarray, vs: coverage.ViewSet, buildings: gpd.GeoDataFrame | None) -> list[str]:
    """Per area (``targets``: their metric polygons): sha256 of its geometry and of the view polygons of the
    working cameras that reach it (their metric polygons exactly as the coverage is computed from, each hashed
    once per set of cameras: ``vs``, ``gis.coverage.view_set``), and of the buildings those views reach."""
    a_i, v_i = vs.tree().query(targets) if len(vs) else (np.array([], int),) * 2
    digests = vs.digests() if len(vs) else []
    per_area: list[list[bytes]] = [[] for _ in range(len(targets))]
    for a, v in zip(a_i.tolist(), v_i.tolist()):
        per_area[a].append(digests[v])
    bld_keys: list[list[str]] = [[] for _ in range(len(targets))]
    if buildings is not None and len(buildings) and len(a_i):
        views = vs.polygons()
        blds = buildings.geometry.to_crs(METRIC_CRS).to_numpy()
        bwkb = shapely.to_wkb(blds, hex=True)
        reach = shapely.STRtree(blds).query(views[v_i])
        for pair, b in zip(*reach):
            bld_keys[a_i[pair]].append(bwkb[b])
    wkb = shapely.to_wkb(targets, hex=True)
    out = []
    for i in range(len(targets)):
        h = hashlib.sha256(wkb[i].encode())
        h.update(b"".join(sorted(per_area[i])))
        h.update("|".join(sorted(set(bld_keys[i]))).encode())
        out.append(h.hexdigest())
    return out


def _cache_file(cache_dir: Path, by: str, include_offline: bool, occlusion: bool) -> Path:
    return Path(cache_dir) / f"{by}-offline{int(include_offline)}-occlusion{int(occlusion)}.json"


def _read_cache(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing or half-written: recompute
        return {}


def _write_cache(path: Path, entries: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entries), encoding="utf-8")
    tmp.replace(path)  # atomic: a reader sees the old or the new file, never half of one


# -- reports ----------------------------------------------------------------------------------------
def coverage_report(session: Session, by: str = "grid", include_offline: bool = False, occlusion: bool = False,
                    *, cache_dir: Path | None = None, days: int | None = DEMAND_DAYS,
                    cameras: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Coverage figures per area, with the incidents inside camera view.

    Returns the area layer (``code``, ``name``, …, geometry in EPSG:4326) with ``area_m2``,
    ``covered_m2``, ``ratio``, ``redundant_m2`` (m², EPSG:4544), ``incidents`` (the demand incidents of
    :func:`demand_incidents` in the area), ``seen_incidents``, ``unseen_incidents`` and ``seen_share``.
    ``attrs["recomputed"]`` counts the areas computed afresh (the rest came from the cache in
    ``cache_dir``, when given); ``attrs["demand_seen"]`` (:class:`DemandSeen`) says which demand incidents
    a camera sees. ``cameras``: the frame :func:`load_cameras` gives, when the caller has
    read it already in the same transaction (the planner page: one read of the registry, not two).
    """
    areas = read_layer(session, _kind(by))
    cams = load_cameras(session) if cameras is None else cameras
    buildings = load_buildings(session) if occlusion else None
    targets = areas.geometry.to_crs(METRIC_CRS).to_numpy()
    views = coverage.view_set(cams, include_offline=include_offline)  # one set of views for both questions
    prints = _fingerprints(targets, views, buildings)
    path = _cache_file(cache_dir, by, include_offline, occlusion) if cache_dir is not None else None
    cached = _read_cache(path) if path is not None else {}
    codes = areas["code"].astype(str).tolist()
    stale = [i for i, (c, f) in enumerate(zip(codes, prints)) if cached.get(c, {}).get("fp") != f]
    if stale:
        fresh = coverage.coverage_by_area(cams, areas.iloc[stale], include_offline=include_offline,
                                          buildings=buildings)
        for i, row in zip(stale, fresh.itertuples(index=False)):
            cached[codes[i]] = {"fp": prints[i], **{f: float(getattr(row, f)) for f in FIGURES}}
    if path is not None and stale:
        _write_cache(path, {c: cached[c] for c in codes})
    figures = pd.DataFrame([cached[c] for c in codes], columns=["fp", *FIGURES])[FIGURES]  # no areas: no rows
    out = areas.reset_index(drop=True).join(figures)
    ids, demand_seen, area = _demand(session, days, cams, views, targets, include_offline, buildings)
    total, hits, share = coverage.area_counts(area, demand_seen, len(targets))
    out["incidents"] = total
    out["seen_incidents"] = hits
    out["unseen_incidents"] = out["incidents"] - out["seen_incidents"]
    out["seen_share"] = share
    out.attrs["recomputed"] = len(stale)
    out.attrs["days"] = days
    # which demand incidents a camera sees (ids ascending, as demand_incidents reads them): the planner's
    # "outside view" layer asks the same of the open ones among them, and need not ask GEOS again
    out.attrs["demand_seen"] = DemandSeen(ids, demand_seen)
    return out


def _demand(session: Session, days: int | None, cams: gpd.GeoDataFrame, views: coverage.ViewSet, targets: np.ndarray,
            include_offline: bool, buildings: gpd.GeoDataFrame | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The demand incidents' ids (ascending), whether a working camera sees each and the area (of ``targets``)
    each counts in: kept between requests by ``demand.TRACKER`` (a period, no occlusion), else read afresh."""
    if days is not None and buildings is None:
        held = TRACKER.demand(session, days, cams, targets, include_offline=include_offline,
                              not_demand=NOT_DEMAND_STATES, views=views)
        if held is None:
            return np.array([], dtype=np.int64), np.array([], dtype=bool), np.array([], dtype=np.int64)
        return held.ids, held.seen, held.area
    demand = demand_incidents(session, days, metric=True)  # projected once for both questions
    seen = coverage.seen_mask(cams, demand.geometry, include_offline=include_offline, buildings=buildings)
    return demand["code"].to_numpy(), seen, coverage.first_area(targets, demand.geometry.to_numpy())


def least_covered(report: pd.DataFrame, n: int | None = None) -> pd.DataFrame:
    """The areas of a :func:`coverage_report` that need cameras first: lowest ``ratio``; among equal ratios
    (the many rural grids no camera reaches, all 0 %) the most incidents out of view, then the largest
    area, then the code. The CLI's table and the planner page's both read this order."""
    keyed = report.assign(_r=report["ratio"].fillna(-1.0).round(6))
    order = keyed.sort_values(["_r", "unseen_incidents", "area_m2", "code"], ascending=[True, False, False, True],
                              kind="stable")
    order = order.drop(columns="_r")
    return order if n is None else order.head(n)


def blind_spot_report(session: Session, by: str = "grid", include_offline: bool = False, occlusion: bool = False,
                      min_area_m2: float = coverage.MIN_BLIND_SPOT_M2) -> gpd.GeoDataFrame:
    """Blind spots (盲区) of every area of kind ``by``, largest first (``code``, ``area_m2``, geometry)."""
    areas = read_layer(session, _kind(by))
    buildings = load_buildings(session) if occlusion else None
    return coverage.blind_spots(load_cameras(session), areas, include_offline=include_offline,
                                buildings=buildings, min_area_m2=min_area_m2)


def road_report(session: Session, include_offline: bool = False, occlusion: bool = False) -> pd.DataFrame:
    """Share of each road's length within camera view (``code`` is the road id)."""
    roads = read_layer(session, "roads")
    buildings = load_buildings(session) if occlusion else None
    out = coverage.road_coverage(load_cameras(session), roads, include_offline=include_offline, buildings=buildings)
    return roads[["code", "name", "road_class"]].merge(out, on="code")


def cameras_seeing(session: Session, lon: float, lat: float, *, include_offline: bool = False,
                   occlusion: bool = False, grids=None) -> gpd.GeoDataFrame:
    """The cameras that see (lon, lat) (WGS-84), nearest first, then those that would after a PTZ turn:
    ``gis.coverage.cameras_seeing`` over the registry's cameras near the spot.

    Only the cameras within reach are read (the largest ``range_m`` in the registry, so none that could
    see the spot is missed): a click on the map stays fast however large the registry. ``grids`` (None =
    every grid) keeps the cameras of those grids, as every camera list a field role sees.

    Returns ``device_id``, ``distance_m``, ``bearing_deg``, ``sees``, ``after_turn`` with each camera's
    ``name``, ``status``, ``ptz_type``, ``azimuth``, ``fov``, ``range_m`` and point geometry (EPSG:4326).
    """
    reach = session.execute(text("SELECT greatest(coalesce(max(range_m), 0), :d) FROM cameras "
                                 "WHERE lifecycle = 'active'"), {"d": viewshed.DEFAULT_RANGE_M}).scalar_one()
    where = ("geom && ST_Expand(ST_SetSRID(ST_MakePoint(:x, :y), 4326), :deg) AND "
             "ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography, :r)")
    # a degree of latitude is ≥ 110.5 km, of longitude ≥ 110.5 km × cos(lat): the box holds the disc
    params = {"x": float(lon), "y": float(lat), "r": float(reach) + 1.0,
              "deg": (float(reach) + 1.0) / (110_000.0 * max(np.cos(np.radians(min(abs(lat), 89.0))), 1e-3))}
    if grids is not None:
        where += " AND grid_code = ANY(:grids)"
        params["grids"] = sorted(grids)
    cams = read_layer(session, "cameras", where=where, params=params)
    buildings = load_buildings(session) if occlusion else None
    seen = coverage.cameras_seeing(cams, lon, lat, include_offline=include_offline, buildings=buildings)
    keep = ["device_id", "name", "status", "ptz_type", "azimuth", "fov", "range_m", cams.geometry.name]
    out = seen.merge(cams[keep], on="device_id", how="left")
    return gpd.GeoDataFrame(out, geometry=cams.geometry.name, crs=4326)


# -- placement --------------------------------------------------------------------------------------
_CANDIDATES: dict[str, gpd.GeoDataFrame] = {}
_ROADS_DIGEST = "(SELECT md5(string_agg(id || ':' || ST_AsText(geom), ';' ORDER BY id)) FROM roads)"


def candidate_sites(session: Session) -> gpd.GeoDataFrame:
    """Road intersections (``gis.placement.road_intersections``), the candidate sites of a plan.

    Kept per process under a digest of the roads' ids and geometries (computed by PostGIS): the roads
    change once a survey, and finding the crossings of the demo's 870 roads was most of a plan's time.
    """
    digest = session.execute(text(f"SELECT {_ROADS_DIGEST}")).scalar_one()
    if digest not in _CANDIDATES:
        _CANDIDATES.clear()
        _CANDIDATES[digest] = placement.road_intersections(read_layer(session, "roads"))
    return _CANDIDATES[digest].copy()


def _plan_inputs(session: Session, demand: str, include_offline: bool, days: int | None):
    if demand not in DEMANDS:
        raise InvalidData(f"demand: {demand!r}; use one of {', '.join(DEMANDS)}")
    cams = load_cameras(session)
    existing = coverage.view_sectors(cams, include_offline=include_offline)
    candidates = candidate_sites(session)
    if not len(candidates):
        raise InvalidData("no road intersections to use as candidate sites; import the roads layer first")
    # a crossing adopted already (a planned camera on it, camera_registry.planned.SAME_SITE_M) is not proposed
    # again: the planned camera is no coverage, but adopting the site twice is a conflict
    taken = planned.adopted(session, candidates.geometry.x, candidates.geometry.y)
    candidates = candidates[~np.asarray(taken, dtype=bool)].reset_index(drop=True)
    if not len(candidates):
        raise InvalidData("every road intersection is adopted already as a planned camera: no site left to propose")
    grids = read_layer(session, "grids")
    if demand == "incidents":
        dem = demand_incidents(session, days)
        if not len(dem):
            raise InvalidData("no incidents to weigh; import incidents or use --demand area")
    else:  # every cell of the district; those in view count as already covered
        dem = placement.area_demand(grids, cell_m=AREA_DEMAND_CELL_M)
    return candidates, dem, existing, grids


def plan(session: Session, k: int, *, demand: str = "incidents", range_m: float = placement.DEFAULT_SITE_RANGE_M,
         include_offline: bool = False, days: int | None = DEMAND_DAYS) -> placement.PlanResult:
    """K new sites at road intersections covering the most demand not yet in view (MCLP, CBC)."""
    candidates, dem, existing, grids = _plan_inputs(session, demand, include_offline, days)
    return placement.plan_sites(candidates, dem, k, range_m=range_m, existing=existing, areas=grids)


def min_sites(session: Session, target: float, *, demand: str = "incidents",
              range_m: float = placement.DEFAULT_SITE_RANGE_M, include_offline: bool = False,
              days: int | None = DEMAND_DAYS) -> placement.PlanResult:
    """The fewest new sites that bring covered demand to ``target`` (0–1)."""
    candidates, dem, existing, grids = _plan_inputs(session, demand, include_offline, days)
    return placement.min_sites_for(target, candidates, dem, range_m=range_m, existing=existing, areas=grids)


def plan_basis(session: Session, days: int | None = DEMAND_DAYS) -> str:
    """A digest of the content a plan reads: the cameras' views and status, the demand incidents (number,
    category, place, time, voided or not), the category weights, the grids and the roads.

    The planner page gets it with a plan and sends it back with an export: when it still matches, the
    plan recomputed is the one the page showed (the model is deterministic); when not, the answer is a
    conflict, not a file of sites the page never showed. Only what changes a plan is in it: dispatching
    or resolving an incident does not make a shown plan stale, a new report or a camera's status does, and
    so does an adopted (planned) camera: its site is no longer proposed.
    """
    window, wp = demand_window(session, days, alias="")
    row = session.execute(text(
        "SELECT (SELECT md5(string_agg(concat_ws(',', device_id, status, ptz_type, azimuth, fov, range_m, "
        "               ST_AsText(geom)), ';' ORDER BY device_id)) FROM cameras WHERE lifecycle = 'active'), "
        "       (SELECT md5(string_agg(ST_AsText(geom), ';' ORDER BY device_id)) FROM cameras "
        "               WHERE lifecycle = 'planned'), "
        f"      (SELECT md5(string_agg(concat_ws(',', id, category_code, state = 'voided', reported_at, "
        f"               ST_AsText(geom)), ';' ORDER BY id)) FROM incidents WHERE {window}), "
        "       (SELECT string_agg(code || '=' || coalesce(weight::text, ''), ',' ORDER BY code) FROM categories), "
        "       (SELECT md5(string_agg(code || ST_AsText(geom), ';' ORDER BY code)) FROM grids), "
        f"      {_ROADS_DIGEST}"), wp).one()
    return hashlib.sha256("|".join(map(str, row)).encode()).hexdigest()[:16]
