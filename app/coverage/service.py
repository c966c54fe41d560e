"""Coverage analysis over the stored layers (视频覆盖分析): reports per grid / community / street with a
per-area cache, blind spots, placement plans and the cameras that see a spot.

Adapters between the database (``app.layers_db.read_layer``) and the pure functions of
:mod:`gis.coverage` and :mod:`gis.placement`.

Cache: one JSON file per (area kind, options) under ``<var>/cache/coverage/``. Each area's entry is
keyed on a fingerprint of what its figures depend on: the area's geometry, and the ``device_id`` and
``version`` (the registry bumps it on every change, status included) of every camera whose view's
bounding box meets the area, plus, with occlusion, the buildings near those views. A camera change
therefore recomputes only the areas its old or new view touches.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.layers_db import read_layer
from gis import coverage, placement
from gis.crs import METRIC_CRS
from gis.errors import InvalidData

AREA_LAYERS = {"grid": "grids", "community": "communities", "street": "streets"}
FIGURES = ["area_m2", "covered_m2", "ratio", "redundant_m2"]
DEMANDS = ("incidents", "area")
AREA_DEMAND_CELL_M = 50.0


def _kind(by: str) -> str:
    if by not in AREA_LAYERS:
        raise InvalidData(f"by: {by!r}; use one of {', '.join(AREA_LAYERS)}")
    return AREA_LAYERS[by]


def load_cameras(session: Session) -> gpd.GeoDataFrame:
    """Every camera of the registry (status filtering is ``gis.coverage``'s job)."""
    return read_layer(session, "cameras")


def load_buildings(session: Session) -> gpd.GeoDataFrame:
    return read_layer(session, "buildings")


def weighted_incidents(session: Session) -> gpd.GeoDataFrame:
    """Incidents with ``weight`` = their category's ``categories.weight`` (1 where unset)."""
    inc = read_layer(session, "incidents")
    weights = dict(session.execute(text("SELECT code, weight FROM categories")).all())
    inc["weight"] = inc["category_code"].map(weights).astype(float).fillna(1.0)
    return inc


# -- the cache ------------------------------------------------------------------------------------
def _fingerprints(areas: gpd.GeoDataFrame, cams: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame | None,
                  include_offline: bool) -> list[str]:
    """Per area: sha256 of its geometry and of (device_id, version) of the cameras whose views reach it."""
    working = coverage.working(cams, include_offline)
    views = coverage.view_sectors(working).to_crs(METRIC_CRS).to_numpy()
    targets = areas.geometry.to_crs(METRIC_CRS).to_numpy()
    keys = (working["device_id"].astype(str) + "@" + working["version"].astype(str)).to_numpy()
    a_i, v_i = shapely.STRtree(views).query(targets) if len(views) else (np.array([], int),) * 2
    per_area: list[list[str]] = [[] for _ in range(len(targets))]
    for a, v in zip(a_i, v_i):
        per_area[a].append(keys[v])
    bld_keys: list[list[str]] = [[] for _ in range(len(targets))]
    if buildings is not None and len(buildings) and len(a_i):
        blds = buildings.geometry.to_crs(METRIC_CRS).to_numpy()
        bwkb = shapely.to_wkb(blds, hex=True)
        reach = shapely.STRtree(blds).query(views[v_i])
        for pair, b in zip(*reach):
            bld_keys[a_i[pair]].append(bwkb[b])
    wkb = shapely.to_wkb(targets, hex=True)
    out = []
    for i in range(len(targets)):
        h = hashlib.sha256(wkb[i].encode())
        h.update("|".join(sorted(per_area[i])).encode())
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
                    *, cache_dir: Path | None = None) -> gpd.GeoDataFrame:
    """Coverage figures per area, with the incidents inside camera view.

    Returns the area layer (``code``, ``name``, …, geometry in EPSG:4326) with ``area_m2``,
    ``covered_m2``, ``ratio``, ``redundant_m2`` (m², EPSG:4544), ``incidents``, ``seen_incidents``
    and ``seen_share``. ``attrs["recomputed"]`` counts the areas computed afresh (the rest came from
    the cache in ``cache_dir``, when given).
    """
    areas = read_layer(session, _kind(by))
    cams = load_cameras(session)
    buildings = load_buildings(session) if occlusion else None
    prints = _fingerprints(areas, cams, buildings, include_offline)
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
    figures = pd.DataFrame([cached[c] for c in codes])[FIGURES]
    out = areas.reset_index(drop=True).join(figures)
    inc = read_layer(session, "incidents")
    seen = coverage.incident_coverage(cams, inc, areas, include_offline=include_offline, buildings=buildings)
    out["incidents"] = seen["incidents"].to_numpy()
    out["seen_incidents"] = seen["seen"].to_numpy()
    out["seen_share"] = seen["share"].to_numpy()
    out.attrs["recomputed"] = len(stale)
    return out


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
                   occlusion: bool = False) -> pd.DataFrame:
    """``gis.coverage.cameras_seeing`` over the registry, with each camera's name and status."""
    cams = load_cameras(session)
    buildings = load_buildings(session) if occlusion else None
    seen = coverage.cameras_seeing(cams, lon, lat, include_offline=include_offline, buildings=buildings)
    return seen.merge(cams[["device_id", "name", "status", "ptz_type"]], on="device_id", how="left")


# -- placement --------------------------------------------------------------------------------------
def _plan_inputs(session: Session, demand: str, include_offline: bool):
    if demand not in DEMANDS:
        raise InvalidData(f"demand: {demand!r}; use one of {', '.join(DEMANDS)}")
    cams = load_cameras(session)
    existing = coverage.view_sectors(cams, include_offline=include_offline)
    candidates = placement.road_intersections(read_layer(session, "roads"))
    if not len(candidates):
        raise InvalidData("no road intersections to use as candidate sites; import the roads layer first")
    grids = read_layer(session, "grids")
    if demand == "incidents":
        dem = weighted_incidents(session)
        if not len(dem):
            raise InvalidData("no incidents to weigh; import incidents or use --demand area")
    else:  # every cell of the district; those in view count as already covered
        dem = placement.area_demand(grids, cell_m=AREA_DEMAND_CELL_M)
    return candidates, dem, existing, grids


def plan(session: Session, k: int, *, demand: str = "incidents", range_m: float = placement.DEFAULT_SITE_RANGE_M,
         include_offline: bool = False) -> placement.PlanResult:
    """K new sites at road intersections covering the most demand not yet in view (spopt MCLP)."""
    candidates, dem, existing, grids = _plan_inputs(session, demand, include_offline)
    return placement.plan_sites(candidates, dem, k, range_m=range_m, existing=existing, areas=grids)


def min_sites(session: Session, target: float, *, demand: str = "incidents",
              range_m: float = placement.DEFAULT_SITE_RANGE_M, include_offline: bool = False
              ) -> placement.PlanResult:
    """The fewest new sites that bring covered demand to ``target`` (0–1)."""
    candidates, dem, existing, grids = _plan_inputs(session, demand, include_offline)
    return placement.min_sites_for(target, candidates, dem, range_m=range_m, existing=existing, areas=grids)
