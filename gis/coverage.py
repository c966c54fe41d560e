"""Camera coverage (视频覆盖): view sectors, coverage per area, blind spots (盲区), roads, incidents,
and which cameras see a spot.

Pure functions over GeoDataFrames. Inputs may be in any CRS (frames without one are taken as
EPSG:4326 lon/lat); all areas and lengths are computed in EPSG:4544 metres, geometries come back in
EPSG:4326. Camera frames carry the registry's columns: point geometry, ``device_id``, ``azimuth``
(degrees clockwise from north), ``fov`` (degrees), ``range_m`` (m), ``ptz_type`` (GB/T 28181 PTZType)
and ``status``. Cameras whose status is in ``EXCLUDED_STATUS`` (OFF, VLOST, DEFECT) see nothing
unless ``include_offline`` is set; missing azimuth / fov / range take the defaults in
:mod:`gis.viewshed`.

Scale: every per-area figure clips only the views whose bounding box meets the area (STRtree) and
unions those pieces per area, instead of unioning every view of the city first. Redundancy (seen
by two or more cameras) is the union of the pairwise intersections of views, which is exactly the
region covered at least twice.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis import viewshed
from gis.crs import METRIC_CRS, STORAGE_CRS, from_metric, metric_transformer

#: camera states (GB/T 28181 catalog events) that produce no picture and so cover nothing
EXCLUDED_STATUS = ("OFF", "VLOST", "DEFECT")
#: PTZType values that can turn to a spot (1 dome, 4 remote bullet, 5 remote hemisphere)
TURNABLE_PTZ = (1, 4, 5)
#: what the coverage functions read of a camera besides its point: its id, its status (``working``) and its
#: view parameters (``viewshed.camera_parameters``); a frame of only these columns gives the same answers
VIEW_COLUMNS = ("device_id", "status", *viewshed.PARAMETER_COLUMNS)
#: blind-spot slivers smaller than this (m²) are dropped: they are arc-approximation noise
MIN_BLIND_SPOT_M2 = 1.0
BLIND_SPOT_GRID_M = 1e-3
#: naive incident times are local district time


# -- views ----------------------------------------------------------------------------------
def working(cameras: gpd.GeoDataFrame, include_offline: bool = False) -> gpd.GeoDataFrame:
    """The cameras that count for coverage: all of them with ``include_offline``, else those whose
    ``status`` is not in ``EXCLUDED_STATUS`` (a camera with no status column or value counts)."""
    if include_offline or "status" not in cameras.columns:
        return cameras
    status = cameras["status"].astype("string").str.upper()
    return cameras[~status.isin(EXCLUDED_STATUS).fillna(False).to_numpy(dtype=bool)]


def _metric(frame):
    if frame.crs is None:
        frame = frame.set_crs(STORAGE_CRS)
    return frame if frame.crs == METRIC_CRS else frame.to_crs(METRIC_CRS)


#: view polygons of the last few camera sets, by their content (positions and view parameters): a page that
#: asks several questions of one registry (the planner: coverage, incidents seen, cones) builds them once
_VIEWS: OrderedDict = OrderedDict()
_VIEWS_MAX = 4
_VIEWS_LOCK = threading.Lock()
#: the same view sets by the cameras as stored (WKB of the points in their CRS and the view parameters), so a
#: frame asked about again is not projected to metres again (47,100 points: 0.15 s each time)
_ALIASES: OrderedDict = OrderedDict()


class ViewSet:
    """The metric view polygons of one set of cameras, with what the questions asked of them need, each built
    once (on first use, under a lock) and shared by every request on the same cameras: an STRtree over them
    and a SHA-256 digest of each polygon's WKB. Treat as read-only; ``polygons`` is never handed out itself."""

    def __init__(self, polygons: np.ndarray, key: bytes | None = None):
        self._polygons = polygons
        #: a digest of what the polygons are built from (the cameras' metric positions and view parameters):
        #: equal keys, equal polygons, so a caller may keep answers about these views under it
        self.key = key
        self._tree = None
        self._digests = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._polygons)

    def polygons(self) -> np.ndarray:
        return self._polygons.copy()  # a new array of the same (immutable) polygons: nobody changes the cache

    def tree(self) -> shapely.STRtree:
        with self._lock:
            if self._tree is None:
                tree = shapely.STRtree(self._polygons)
                tree.query(self._polygons[:1])  # GEOS builds a tree on its first query: build it here, locked
                self._tree = tree
            return self._tree

    def digests(self) -> list[bytes]:
        """SHA-256 of each polygon's WKB, in order: what a fingerprint of "the views reaching an area" hashes."""
        with self._lock:
            if self._digests is None:
                self._digests = [hashlib.sha256(w).digest() for w in shapely.to_wkb(self._polygons)]
            return self._digests


def _digest(*parts: bytes) -> bytes:
    return hashlib.blake2b(b"".join(parts), digest_size=20).digest()


def _view_set(x, y, az, fov, rng, disc, *, alias: bytes | None = None) -> ViewSet:
    """``viewshed.sectors_metric`` as a :class:`ViewSet`, remembered by the exact bytes of its inputs (the same
    answer, not rebuilt: 47,100 cameras' sectors take about a second), and by ``alias`` too when given."""
    key = _digest(*(np.ascontiguousarray(a, dtype=float).tobytes() for a in (x, y, az, fov, rng, disc)))
    with _VIEWS_LOCK:
        hit = _VIEWS.get(key)
        if hit is not None:
            _VIEWS.move_to_end(key)
    views = hit if hit is not None else ViewSet(viewshed.sectors_metric(x, y, az, fov, rng, disc), key)
    with _VIEWS_LOCK:
        views = _VIEWS.setdefault(key, views)  # two threads that built it at once keep the first
        while len(_VIEWS) > _VIEWS_MAX:
            _VIEWS.popitem(last=False)
        if alias is not None:
            _ALIASES[alias] = views
            while len(_ALIASES) > _VIEWS_MAX:
                _ALIASES.popitem(last=False)
    return views


def _sectors(x, y, az, fov, rng, disc) -> np.ndarray:
    return _view_set(x, y, az, fov, rng, disc).polygons()


def _metric_xy(cams: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    pts = _metric(cams.geometry) if len(cams) else gpd.GeoSeries([], crs=METRIC_CRS)
    return pts.x.to_numpy(), pts.y.to_numpy()


def _views(cameras: gpd.GeoDataFrame, *, buildings=None, include_offline: bool = False):
    """(filtered cameras, metric x, y, range, metric view polygons)."""
    cams = working(cameras, include_offline)
    x, y = _metric_xy(cams)
    az, fov, rng, disc = viewshed.camera_parameters(cams)
    views = _sectors(x, y, az, fov, rng, disc)
    if buildings is not None and len(buildings) and len(views):
        views = viewshed.occlude(views, x, y, rng, _metric(gpd.GeoSeries(buildings.geometry)).to_numpy())
    return cams, x, y, rng, views


def view_set(cameras: gpd.GeoDataFrame, *, include_offline: bool = False) -> ViewSet:
    """The :class:`ViewSet` of the working ``cameras`` (no occlusion), in the order of ``working(cameras)``."""
    cams = working(cameras, include_offline)
    params = viewshed.camera_parameters(cams)
    crs = cams.crs.to_string() if cams.crs is not None else ""
    alias = _digest(f"{crs}|{len(cams)}|".encode(), *(bytes(w) for w in shapely.to_wkb(cams.geometry.to_numpy())),
                    *(np.ascontiguousarray(a, dtype=float).tobytes() for a in params))
    with _VIEWS_LOCK:
        hit = _ALIASES.get(alias)
        if hit is not None:
            _ALIASES.move_to_end(alias)
            return hit
    return _view_set(*_metric_xy(cams), *params, alias=alias)


def view_sector(lon: float, lat: float, azimuth_deg: float, fov_deg: float, range_m: float, *,
                ptz_type: int | None = None) -> shapely.Polygon:
    """The area one camera sees: a circular sector (a disc for domes), in EPSG:4326.

    Parameters
    ----------
    lon, lat : float
        Camera position, WGS-84 degrees (EPSG:4326).
    azimuth_deg : float
        View direction, degrees clockwise from (grid) north; the field of view is centred on it.
    fov_deg : float
        Horizontal field of view (水平视场角), degrees; ≥ 360 gives the full disc.
    range_m : float
        Maximum view distance (m).
    ptz_type : int, optional
        GB/T 28181 PTZType; 1 (dome, 球机) gives the full disc.

    Returns
    -------
    shapely.Polygon
        Built in EPSG:4544 with arc vertices every ``viewshed.ARC_STEP_DEG``° (area within 0.02 % of
        π r² fov / 360), returned in EPSG:4326.

    Examples
    --------
    >>> round(to_metric(view_sector(104.77, 29.37, 90, 360, 100)).area)  # ≈ π·100²
    31415
    """
    x, y = metric_transformer().transform(lon, lat)
    disc = fov_deg >= 360 or (ptz_type is not None and ptz_type in viewshed.DOME_PTZ_TYPES)
    poly = viewshed.sectors_metric([x], [y], [azimuth_deg], [min(fov_deg, 360.0)], [range_m], [disc])[0]
    return from_metric(poly)


def view_sectors(cameras: gpd.GeoDataFrame, *, buildings: gpd.GeoDataFrame | None = None,
                 include_offline: bool = False) -> gpd.GeoSeries:
    """View polygons of the working cameras, in EPSG:4326, indexed like the filtered ``cameras``.

    With ``buildings`` (footprints, any CRS) each view stops at the first building along every ray.
    """
    cams, _x, _y, _r, views = _views(cameras, buildings=buildings, include_offline=include_offline)
    return gpd.GeoSeries(views, index=cams.index, crs=METRIC_CRS).to_crs(STORAGE_CRS)


def view_sector_frame(cameras: gpd.GeoDataFrame, columns: Sequence[str] = ("device_id", "status"), *,
                      buildings: gpd.GeoDataFrame | None = None, include_offline: bool = False) -> gpd.GeoDataFrame:
    """The working cameras' view polygons (EPSG:4326) with ``columns`` of each camera (those present),
    one row per camera in order; matched by position, so any index (repeated labels too) is fine."""
    cams, _x, _y, _r, views = _views(cameras, buildings=buildings, include_offline=include_offline)
    keep = [c for c in columns if c in cams.columns]
    return gpd.GeoDataFrame(cams[keep].reset_index(drop=True),
                            geometry=gpd.GeoSeries(views, crs=METRIC_CRS).to_crs(STORAGE_CRS).to_numpy(),
                            crs=STORAGE_CRS)


# -- per-area figures ---------------------------------------------------------------------------
def _grouped(polys: np.ndarray, targets: np.ndarray):
    """Yield (target index, pieces of ``polys`` clipped to that target) for targets met by a bbox."""
    if not len(polys) or not len(targets):
        return
    t_i, p_i = shapely.STRtree(polys).query(targets)
    if not len(t_i):
        return
    pieces = shapely.intersection(polys[p_i], targets[t_i])
    keys, starts = np.unique(t_i, return_index=True)
    for key, part in zip(keys, np.split(pieces, starts[1:])):
        yield key, part


def _union_area(polys: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Area (m²) of the union of ``polys`` inside each target (all metric)."""
    out = np.zeros(len(targets))
    for key, part in _grouped(polys, targets):
        out[key] = shapely.area(part[0]) if len(part) == 1 else shapely.area(shapely.union_all(part))
    return out


def _pairwise_overlaps(views: np.ndarray) -> np.ndarray:
    """The intersections of every two views that meet (their union is the area seen ≥ 2 times)."""
    if len(views) < 2:
        return np.empty(0, dtype=object)
    a, b = shapely.STRtree(views).query(views, predicate="intersects")
    keep = a < b
    inter = shapely.intersection(views[a[keep]], views[b[keep]])
    return inter[shapely.area(inter) > 0]


def coverage_by_area(cameras: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, code: str = "code", *,
                     include_offline: bool = False, buildings: gpd.GeoDataFrame | None = None,
                     redundancy: bool = True) -> pd.DataFrame:
    """Covered and redundantly covered area of each area (grid 网格, community 社区, street 街道).

    Parameters
    ----------
    cameras : GeoDataFrame
        Cameras (registry columns, point geometry, any CRS).
    areas : GeoDataFrame
        Polygons with a ``code`` column.
    code : str
        Name of the areas' code column.
    include_offline : bool
        Count OFF / VLOST / DEFECT cameras too.
    buildings : GeoDataFrame, optional
        Building footprints; views are cut at the first building along each ray.
    redundancy : bool
        Compute ``redundant_m2`` (else it is NaN); it is the costlier half.

    Returns
    -------
    DataFrame
        One row per area, in the areas' order: ``code``, ``area_m2``, ``covered_m2``, ``ratio``
        (covered / area, 0–1), ``redundant_m2`` (seen by ≥ 2 cameras); areas in m² (EPSG:4544).
    """
    targets = _metric(gpd.GeoSeries(areas.geometry)).to_numpy()
    _c, _x, _y, _r, views = _views(cameras, buildings=buildings, include_offline=include_offline)
    area = shapely.area(targets)
    covered = _union_area(views, targets)
    redundant = _union_area(_pairwise_overlaps(views), targets) if redundancy else np.full(len(targets), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(area > 0, covered / area, np.nan)
    return pd.DataFrame({"code": areas[code].astype(str).to_numpy(), "area_m2": area, "covered_m2": covered,
                         "ratio": ratio, "redundant_m2": redundant})


def blind_spots(cameras: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, code: str = "code", *,
                include_offline: bool = False, buildings: gpd.GeoDataFrame | None = None,
                min_area_m2: float = MIN_BLIND_SPOT_M2) -> gpd.GeoDataFrame:
    """The parts of each area no working camera sees (盲区), one row per polygon, largest first.

    Returns
    -------
    GeoDataFrame
        ``code`` (the area's), ``area_m2`` (m²) and polygon geometry in EPSG:4326; pieces smaller than
        ``min_area_m2`` are dropped.
    """
    targets = _metric(gpd.GeoSeries(areas.geometry)).to_numpy()
    _c, _x, _y, _r, views = _views(cameras, buildings=buildings, include_offline=include_offline)
    blind = targets.copy()
    for key, part in _grouped(views, targets):
        blind[key] = shapely.difference(targets[key], shapely.union_all(part))
    # a 1 mm grid removes the zero-width spikes a difference leaves along shared edges
    blind = shapely.set_precision(blind, BLIND_SPOT_GRID_M)
    parts, owner = shapely.get_parts(blind, return_index=True)
    poly = shapely.get_type_id(parts) == 3
    parts, owner = parts[poly], owner[poly]
    size = shapely.area(parts)
    keep = size >= min_area_m2
    out = gpd.GeoDataFrame({"code": areas[code].astype(str).to_numpy()[owner[keep]], "area_m2": size[keep]},
                           geometry=parts[keep], crs=METRIC_CRS).to_crs(STORAGE_CRS)
    return out.sort_values(["area_m2", "code"], ascending=[False, True], kind="stable").reset_index(drop=True)


def road_coverage(cameras: gpd.GeoDataFrame, roads: gpd.GeoDataFrame, id: str = "code", *,
                  include_offline: bool = False, buildings: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Length of each road (道路) within view of a working camera.

    Returns
    -------
    DataFrame
        ``<id>`` (the roads' id column), ``length_m``, ``covered_m`` (m, EPSG:4544) and ``share`` (0–1),
        one row per road in input order.
    """
    lines = _metric(gpd.GeoSeries(roads.geometry)).to_numpy()
    _c, _x, _y, _r, views = _views(cameras, buildings=buildings, include_offline=include_offline)
    length = shapely.length(lines)
    covered = np.zeros(len(lines))
    if len(views) and len(lines):
        r_i, v_i = shapely.STRtree(views).query(lines)
        keys, starts = np.unique(r_i, return_index=True)
        for key, group in zip(keys, np.split(v_i, starts[1:])):
            covered[key] = shapely.length(shapely.intersection(lines[key], shapely.union_all(views[group])))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(length > 0, covered / length, np.nan)
    return pd.DataFrame({id: roads[id].to_numpy(), "length_m": length, "covered_m": covered, "share": share})


# -- incidents --------------------------------------------------------------------------------
def _timestamp(value, tz: str | None) -> pd.Timestamp:
    t = pd.Timestamp(value)
    if t.tzinfo is None:
        if tz is None:
            raise ValueError(f"time {value!r} has no offset: give a zone-aware time or the district's tz")
        return t.tz_localize(tz)
    return t


def _filter_incidents(incidents, categories, start, end, category_column, time_column, tz=None):
    keep = np.ones(len(incidents), dtype=bool)
    if categories is not None:
        keep &= incidents[category_column].isin(list(categories)).to_numpy()
    if start is not None or end is not None:
        when = pd.to_datetime(incidents[time_column], utc=True)
        if start is not None:
            keep &= (when >= _timestamp(start, tz)).to_numpy()
        if end is not None:
            keep &= (when < _timestamp(end, tz)).to_numpy()
    return incidents[keep]


def seen_mask(cameras: gpd.GeoDataFrame, points: gpd.GeoSeries, *, include_offline: bool = False,
              buildings: gpd.GeoDataFrame | None = None) -> np.ndarray:
    """True for each point inside the view of at least one working camera (boundary counts)."""
    pts = _metric(gpd.GeoSeries(points)).to_numpy()
    seen = np.zeros(len(pts), dtype=bool)
    if buildings is not None and len(buildings):
        _c, _x, _y, _r, views = _views(cameras, buildings=buildings, include_offline=include_offline)
    else:  # the views of these cameras, built once for every question asked of them
        views = view_set(cameras, include_offline=include_offline).polygons()
    if len(views) and len(pts):
        # a tree of the points, asked with each view (GEOS prepares the polygon it asks with): 4× faster than
        # each point asked of a tree of views, whose polygons are tested unprepared (16,007 incidents against
        # 44,800 views: 0.15 s against 0.62 s)
        _v, hit = shapely.STRtree(pts).query(views, predicate="intersects")
        seen[hit] = True
    return seen


def incident_coverage(cameras: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, *,
                      code: str = "code", categories: Sequence[str] | None = None, start=None, end=None,
                      category_column: str = "category_code", time_column: str = "reported_at",
                      include_offline: bool = False, buildings: gpd.GeoDataFrame | None = None,
                      tz: str | None = None, seen: np.ndarray | None = None) -> pd.DataFrame:
    """Share of incidents (事件) per area that fell inside the view of at least one working camera.

    ``categories`` keeps those category codes; ``start`` (inclusive) / ``end`` (exclusive) filter on
    ``time_column``; a naive ``start``/``end`` is read in ``tz`` (the district's IANA zone), and refused
    without one. An incident counts in the first area that covers it. ``seen``: the :func:`seen_mask` of
    ``incidents`` with the same cameras and options, when the caller has it (then no filter may be given).

    Returns
    -------
    DataFrame
        ``code``, ``incidents``, ``seen`` (counts) and ``share`` (seen / incidents; NaN with none), one
        row per area in input order.
    """
    if seen is None:
        inc = _filter_incidents(incidents, categories, start, end, category_column, time_column, tz)
        seen = seen_mask(cameras, inc.geometry, include_offline=include_offline, buildings=buildings)
    elif categories is not None or start is not None or end is not None or len(seen) != len(incidents):
        raise ValueError("seen is the mask of the incidents as given: one value per incident, and no filter")
    else:
        inc = incidents
    targets = _metric(gpd.GeoSeries(areas.geometry)).to_numpy()
    pts = _metric(gpd.GeoSeries(inc.geometry)).to_numpy()
    total, hits, share = area_counts(first_area(targets, pts), seen, len(targets))
    return pd.DataFrame({"code": areas[code].astype(str).to_numpy(), "incidents": total, "seen": hits,
                         "share": share})


def first_area(targets: np.ndarray, points: np.ndarray) -> np.ndarray:
    """For each of ``points``, the index of the first of ``targets`` (polygons, same CRS) that covers it
    (boundary counts), -1 for none: the area an incident counts in (:func:`incident_coverage`). A point's
    answer depends on that point and the targets only, so answers for some points equal those for all."""
    out = np.full(len(points), -1, dtype=np.int64)
    if not len(points) or not len(targets):
        return out
    p_i, a_i = shapely.STRtree(targets).query(points, predicate="intersects")
    order = np.lexsort((a_i, p_i))  # by point, then area: the first pair of a point names its first area
    p_i, a_i = p_i[order], a_i[order]
    p_i, first = np.unique(p_i, return_index=True)
    out[p_i] = a_i[first]
    return out


def area_counts(area: np.ndarray, seen: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per area of ``n``: the incidents counted in it (``area``, :func:`first_area`'s answer per incident), how
    many of them a camera sees (``seen``, per incident) and that share (NaN with none)."""
    inside = area >= 0
    total = np.bincount(area[inside], minlength=n)
    hits = np.bincount(area[inside], weights=np.asarray(seen, dtype=float)[inside], minlength=n).astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, hits / np.maximum(total, 1), np.nan)
    return total, hits, share


def unseen_hotspots(cameras: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame, *, cell_m: float = 100.0,
                    min_incidents: int = 5, categories: Sequence[str] | None = None, start=None, end=None,
                    category_column: str = "category_code", time_column: str = "reported_at",
                    include_offline: bool = False, buildings: gpd.GeoDataFrame | None = None,
                    tz: str | None = None) -> gpd.GeoDataFrame:
    """Square cells (``cell_m`` metres, aligned on EPSG:4544) holding ≥ ``min_incidents`` incidents that
    no working camera saw: where an incident hotspot (热点) lies outside every view.

    Returns
    -------
    GeoDataFrame
        ``incidents`` (unseen count), ``lon``, ``lat`` (their mean position) and the cell polygon in
        EPSG:4326, most incidents first.
    """
    inc = _filter_incidents(incidents, categories, start, end, category_column, time_column, tz)
    seen = seen_mask(cameras, inc.geometry, include_offline=include_offline, buildings=buildings)
    pts = _metric(gpd.GeoSeries(inc.geometry[~seen]))
    x, y = pts.x.to_numpy(), pts.y.to_numpy()
    cols = ["incidents", "lon", "lat"]
    if not len(x):
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=[], crs=STORAGE_CRS)
    cx, cy = np.floor(x / cell_m).astype(np.int64), np.floor(y / cell_m).astype(np.int64)
    cells = pd.DataFrame({"cx": cx, "cy": cy, "x": x, "y": y}).groupby(["cx", "cy"], sort=True)
    agg = cells.agg(incidents=("x", "size"), x=("x", "mean"), y=("y", "mean")).reset_index()
    agg = agg[agg["incidents"] >= min_incidents]
    boxes = shapely.box(agg["cx"] * cell_m, agg["cy"] * cell_m, (agg["cx"] + 1) * cell_m, (agg["cy"] + 1) * cell_m)
    lon, lat = metric_transformer(inverse=True).transform(agg["x"].to_numpy(), agg["y"].to_numpy())
    out = gpd.GeoDataFrame({"incidents": agg["incidents"].to_numpy(), "lon": lon, "lat": lat},
                           geometry=np.asarray(boxes), crs=METRIC_CRS).to_crs(STORAGE_CRS)
    return out.sort_values("incidents", ascending=False, kind="stable").reset_index(drop=True)


# -- which cameras see a spot -----------------------------------------------------------------------
def cameras_seeing(cameras: gpd.GeoDataFrame, lon: float, lat: float, *, turnable_ptz: Sequence[int] = TURNABLE_PTZ,
                   include_offline: bool = False, buildings: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """The cameras whose view contains (lon, lat), nearest first; then those that would after a turn.

    A camera sees the spot when it lies within ``range_m`` and within ``fov / 2`` of its azimuth (any
    bearing for a dome), and, with ``buildings``, no building stands in between. A camera whose
    ``ptz_type`` is in ``turnable_ptz`` and that has the spot within range (unblocked) but outside its
    current sector is listed after them with ``after_turn`` True.

    Returns
    -------
    DataFrame
        ``device_id``, ``distance_m`` (m, EPSG:4544), ``bearing_deg`` (from the camera to the spot,
        clockwise from north, 0–360), ``sees`` (bool), ``after_turn`` (bool).
    """
    cams = working(cameras, include_offline)
    cols = ["device_id", "distance_m", "bearing_deg", "sees", "after_turn"]
    if not len(cams):
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(cols, (object, float, float, bool, bool))})
    pts = _metric(cams.geometry)
    x, y = pts.x.to_numpy(), pts.y.to_numpy()
    sx, sy = metric_transformer().transform(lon, lat)
    dx, dy = sx - x, sy - y
    dist = np.hypot(dx, dy)
    bearing = np.degrees(np.arctan2(dx, dy)) % 360.0
    az, fov, rng, disc = viewshed.camera_parameters(cams)
    off = np.abs((bearing - az + 180.0) % 360.0 - 180.0)
    in_range = dist <= rng
    in_sector = in_range & (disc | (off <= fov / 2.0) | (dist == 0))
    ptz = pd.to_numeric(cams["ptz_type"], errors="coerce").to_numpy() if "ptz_type" in cams.columns \
        else np.full(len(cams), np.nan)
    turn = in_range & ~in_sector & np.isin(ptz, list(turnable_ptz))
    if buildings is not None and len(buildings) and (in_sector | turn).any():
        idx = np.flatnonzero(in_sector | turn)
        discs = viewshed.sectors_metric(x[idx], y[idx], az[idx], fov[idx], rng[idx] * 1.01, np.ones(len(idx), bool))
        blds = _metric(gpd.GeoSeries(buildings.geometry)).to_numpy()
        visible = viewshed.occlude(discs, x[idx], y[idx], rng[idx] * 1.01, blds)
        clear = np.ones(len(cams), dtype=bool)
        clear[idx] = shapely.intersects(visible, shapely.Point(sx, sy))
        in_sector &= clear
        turn &= clear
    ids = cams["device_id"].to_numpy() if "device_id" in cams.columns else cams.index.to_numpy()
    out = pd.DataFrame({"device_id": ids, "distance_m": dist, "bearing_deg": bearing, "sees": in_sector,
                        "after_turn": turn})
    out = out[in_sector | turn]
    return out.sort_values(["after_turn", "distance_m"], kind="stable").reset_index(drop=True)
