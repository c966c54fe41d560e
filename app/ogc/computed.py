"""Computed collections: frames the coverage service computes (grid coverage, view cones, blind spots,
proposed sites), memoised and handed to SQL as arrays so every collection is filtered and paged by the
same query (``app.ogc.service``).

Each frame is memoised per database and per *fingerprint*: one cheap query over its inputs (a hash of every
camera's and grid's key and ``updated_at``; the count and latest ``updated_at`` of the incidents, where they
count). A camera moved, set OFF or
added changes the fingerprint, so the next request recomputes; otherwise a request pays only for binding
the arrays (see docs/ogc.md for the figures). The coverage figures themselves come from
``app.dashboards.planning.grid_coverage`` (the planner page's, with its per-grid disk cache).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session



def _content_fp(table: str, key: str) -> str:
    """A fingerprint of every row's key and ``updated_at``: a sum of their hashes, so any insert, delete or
    update changes it whichever order the transactions commit in. ``max(updated_at)`` alone missed a
    transaction that wrote first (an older time) and committed after another one's change was fingerprinted."""
    return (f"SELECT count(*) || '/' || coalesce(sum(hashtextextended({key}::text || '|' || "
            f"coalesce(updated_at::text, ''), 0)), 0) FROM public.{table}")


#: the cameras and the grids: hashed row by row (a few thousand rows, a few milliseconds)
CAMERAS_FP = _content_fp("cameras", "device_id")
GRIDS_FP = _content_fp("grids", "code")
#: the incidents: count and newest change only (hashing 1.6M rows would cost every request a scan). An
#: incident committed late with an older time is counted once anything else about the incidents changes.
_INCIDENTS_FP = "SELECT count(*) || '/' || coalesce(max(updated_at)::text, '') FROM public.incidents"
_PG_ARRAY = {"string": "text[]", "integer": "bigint[]", "number": "float8[]", "boolean": "boolean[]"}


@dataclass(frozen=True)
class Source:
    """``columns``: ``[(name, queryable type)]`` of the frame (no geometry); ``geometry``: whether the
    frame has one (a joined frame does not); ``compute(session, settings)`` → DataFrame."""

    columns: tuple[tuple[str, str], ...]
    fingerprints: tuple[str, ...]
    compute: Callable
    geometry: bool = True


def _grid_coverage(s: Session, settings) -> pd.DataFrame:
    from app.dashboards.planning import grid_coverage

    cov = grid_coverage(s, settings)
    return pd.DataFrame({"code": cov["code"].astype(str),
                         "coverage_pct": (cov["ratio"].astype(float) * 100).round(2),
                         "cameras": cov["cameras"].astype(int)})


def _cameras(s: Session):
    from app.coverage.service import load_cameras

    return load_cameras(s)


def _camera_views(s: Session, settings):
    from gis.coverage import view_sector_frame

    cols = ("device_id", "name", "programme", "status", "azimuth", "fov", "range_m", "grid_code")
    return view_sector_frame(_cameras(s), cols)


def _blind_spots(s: Session, settings):
    from app.dashboards.planning import grid_coverage
    from gis.coverage import blind_spots

    spots = blind_spots(_cameras(s), grid_coverage(s, settings), code="code")
    spots = spots.rename(columns={"code": "grid_code"})
    spots.insert(0, "id", [f"{g}-{n}" for g, n in zip(spots["grid_code"], spots.groupby("grid_code").cumcount() + 1)])
    spots["area_m2"] = spots["area_m2"].astype(float).round(1)
    return spots


def _proposed_sites(s: Session, settings):
    from app.coverage import service
    from app.dashboards.planning import PLAN_K_DEFAULT

    sites = service.plan(s, PLAN_K_DEFAULT).sites.reset_index(drop=True)
    code = sites["code"].astype(object) if "code" in sites.columns else pd.Series([None] * len(sites), dtype=object)
    out = pd.DataFrame({"rank": sites["rank"].astype(int), "gain": sites["gain"].astype(float).round(2),
                        "cumulative": sites["cumulative"].astype(float).round(2),
                        "share": sites["share"].astype(float).round(6), "grid_code": code.to_numpy()})
    import geopandas as gpd

    return gpd.GeoDataFrame(out, geometry=sites.geometry.to_numpy(), crs=4326)


SOURCES: dict[str, Source] = {
    "grid_coverage": Source((("code", "string"), ("coverage_pct", "number"), ("cameras", "integer")),
                            (CAMERAS_FP, GRIDS_FP, _INCIDENTS_FP), _grid_coverage, geometry=False),
    "camera_views": Source((("device_id", "string"), ("name", "string"), ("programme", "string"),
                            ("status", "string"), ("azimuth", "number"), ("fov", "number"), ("range_m", "number"),
                            ("grid_code", "string")), (CAMERAS_FP,), _camera_views),
    "blind_spots": Source((("id", "string"), ("grid_code", "string"), ("area_m2", "number")),
                          (CAMERAS_FP, GRIDS_FP), _blind_spots),
    "proposed_sites": Source((("rank", "integer"), ("gain", "number"), ("cumulative", "number"),
                              ("share", "number"), ("grid_code", "string")),
                             (CAMERAS_FP, GRIDS_FP, _INCIDENTS_FP), _proposed_sites),
}

_MEMO: OrderedDict = OrderedDict()
_MEMO_SIZE = 16
_LOCK = threading.Lock()


def _fingerprint(s: Session, src: Source) -> tuple:
    return tuple(s.execute(text(sql)).scalar_one() for sql in src.fingerprints)


def _database_key(s: Session) -> str:
    """Which database (one process may serve several: the tests do): its name and the server's address."""
    # (data_directory would name the cluster exactly but is readable by superusers only: a deployment's
    # owner is not one; the server's start time tells two clusters on one host apart as well)
    return s.execute(text("SELECT current_database() || '@' || coalesce(inet_server_addr()::text, 'socket') "
                          "|| ':' || coalesce(inet_server_port()::text, '') || ':' "
                          "|| pg_postmaster_start_time()::text")).scalar_one()


def memoised(s: Session, name, fingerprints: tuple[str, ...], compute: Callable):
    """``compute()``, remembered per database, ``name`` and the values of the ``fingerprints`` queries (a
    change to their tables computes afresh): the one memo of the computed collections and of the map
    layers built from them (``app.dashboards.map_api``)."""
    key = (_database_key(s), name, tuple(s.execute(text(sql)).scalar_one() for sql in fingerprints))
    with _LOCK:
        if key in _MEMO:
            _MEMO.move_to_end(key)
            return _MEMO[key]
    out = compute()
    with _LOCK:
        _MEMO[key] = out
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.popitem(last=False)
    return out


def arrays(s: Session, settings, name: str) -> dict[str, list]:
    """The frame of source ``name`` as ``{column: list}`` (and ``wkb`` for the geometry), memoised."""
    src = SOURCES[name]
    return memoised(s, name, src.fingerprints, lambda: _arrays(src, src.compute(s, settings)))


def _arrays(src: Source, frame) -> dict[str, list]:
    out = {}
    for col, kind in src.columns:
        values = frame[col].astype(object).where(frame[col].notna(), None).tolist()
        if kind == "integer":
            values = [None if v is None else int(v) for v in values]
        elif kind == "number":
            values = [None if v is None else float(v) for v in values]
        elif kind == "string":
            values = [None if v is None else str(v) for v in values]
        out[col] = values
    if src.geometry:
        out["wkb"] = [bytes(b) for b in shapely.to_wkb(np.asarray(frame.geometry.to_numpy()))]
    return out


def source_sql(name: str, data: dict[str, list], prefix: str = "ogc_c") -> tuple[str, dict]:
    """A FROM item (no alias) that reads ``data`` (from :func:`arrays`) as rows, and its parameters."""
    src = SOURCES[name]
    params, casts, names = {}, [], []
    for i, (col, kind) in enumerate(src.columns):
        params[f"{prefix}{i}"] = data[col]
        casts.append(f"CAST(:{prefix}{i} AS {_PG_ARRAY[kind]})")
        names.append(f'"{col}"')
    select = ", ".join(names)
    if src.geometry:
        params[f"{prefix}_wkb"] = data["wkb"]
        casts.append(f"CAST(:{prefix}_wkb AS bytea[])")
        names.append("wkb")
        select += ", ST_SetSRID(ST_GeomFromWKB(wkb), 4326) AS geom"
    return f"(SELECT {select} FROM unnest({', '.join(casts)}) AS u({', '.join(names)}))", params
