"""View geometry (视野): camera view sectors and their occlusion by buildings, in EPSG:4544 metres.

The private workhorses of :mod:`gis.coverage`: everything here takes and returns metric coordinates
(EPSG:4544, x = easting, y = northing) as NumPy arrays of shapely geometries, so the coverage figures
never project back and forth. Public callers use :func:`gis.coverage.view_sector` /
:func:`gis.coverage.view_sectors`, which project to and from EPSG:4326.

Camera model: a camera at (x, y) sees the circular sector of radius ``range_m`` centred on
``azimuth_deg`` (clockwise from grid north) and ``fov_deg`` wide; a dome / PTZ camera (GB/T 28181
PTZType 1, 球机) or one whose field of view is 360° or more sees the whole disc.

Occlusion is exact in the plane (2-D; building and camera heights are ignored, so any building blocks
the view): each building edge casts a shadow polygon (the edge, and its two end points pushed out
beyond the range), and the visible polygon is the sector minus the union of the shadows and the
buildings. This is the visibility polygon that ray casting approximates, without the ray spacing error.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

#: arc vertex spacing; a regular polygon of this step inscribed in the circle loses
#: 1 − sin(θ)/θ ≈ θ²/6 ≈ 0.02 % of a sector's area (the contract allows 0.5 %)
ARC_STEP_DEG = 2.0
#: what a camera with no azimuth / fov / range is taken to have (documented in docs/coverage.md)
DEFAULT_AZIMUTH_DEG = 0.0
DEFAULT_FOV_DEG = 60.0
DEFAULT_RANGE_M = 50.0
#: GB/T 28181 PTZType of a dome (球机): it turns all the way round, so it covers the disc
DOME_PTZ_TYPES = (1,)
#: a building closer than this to a camera is the one it is mounted on, and does not block its view
MOUNT_TOLERANCE_M = 0.5
#: the columns of a camera frame that :func:`camera_parameters` reads (a reader may read only these)
PARAMETER_COLUMNS = ("azimuth", "fov", "range_m", "ptz_type")


def camera_parameters(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(azimuth_deg, fov_deg, range_m, disc)`` arrays of a camera frame, with defaults filled in.

    Missing or unusable values (NaN, non-numeric, fov ≤ 0, range ≤ 0) take ``DEFAULT_*``; ``disc`` is
    True for domes (``ptz_type`` in ``DOME_PTZ_TYPES``) and fov ≥ 360°.
    """
    n = len(frame)

    def column(name: str, default: float) -> np.ndarray:
        if name not in frame.columns:
            return np.full(n, default)
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
        return values

    az = column("azimuth", DEFAULT_AZIMUTH_DEG)
    az = np.where(np.isfinite(az), az, DEFAULT_AZIMUTH_DEG) % 360.0
    fov = column("fov", DEFAULT_FOV_DEG)
    fov = np.where(np.isfinite(fov) & (fov > 0), fov, DEFAULT_FOV_DEG)
    rng = column("range_m", DEFAULT_RANGE_M)
    rng = np.where(np.isfinite(rng) & (rng > 0), rng, DEFAULT_RANGE_M)
    ptz = column("ptz_type", np.nan)
    disc = (fov >= 360.0) | np.isin(ptz, DOME_PTZ_TYPES)
    return az, np.minimum(fov, 360.0), rng, disc


def sectors_metric(x, y, azimuth_deg, fov_deg, range_m, disc) -> np.ndarray:
    """View polygons (EPSG:4544) of cameras at metric ``x``, ``y``; vectorised over cameras.

    Cameras are grouped by their number of arc vertices (``ceil(fov / ARC_STEP_DEG)``), so each group
    is built by one ``shapely.polygons`` call over a (cameras × vertices × 2) array.
    """
    x, y, az, fov, rng = (np.asarray(v, dtype=float) for v in (x, y, azimuth_deg, fov_deg, range_m))
    disc = np.asarray(disc, dtype=bool)
    fov = np.where(disc, 360.0, fov)
    steps = np.maximum(np.ceil(fov / ARC_STEP_DEG).astype(int), 2)
    out = np.empty(len(x), dtype=object)
    for n in np.unique(steps):
        for is_disc in (False, True):
            idx = np.flatnonzero((steps == n) & (disc == is_disc))
            if not len(idx):
                continue
            t = np.linspace(0.0, 1.0, n + 1)
            if is_disc:
                t = t[:-1]  # the ring closes itself; no apex
            ang = np.radians(az[idx, None] - fov[idx, None] / 2.0 + fov[idx, None] * t[None, :])
            px = x[idx, None] + rng[idx, None] * np.sin(ang)
            py = y[idx, None] + rng[idx, None] * np.cos(ang)
            if not is_disc:  # the apex closes the sector
                px = np.concatenate([x[idx, None], px], axis=1)
                py = np.concatenate([y[idx, None], py], axis=1)
            out[idx] = shapely.polygons(np.stack([px, py], axis=-1))
    return out


def _edges(buildings: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ring edges of metric building polygons as (building index, start xy, end xy)."""
    rings = shapely.get_rings(buildings, return_index=True)
    coords, ring_idx = shapely.get_coordinates(rings[0], return_index=True)
    same_ring = ring_idx[:-1] == ring_idx[1:]
    start = np.flatnonzero(same_ring)
    return rings[1][ring_idx[start]], coords[start], coords[start + 1]


def occlude(views: np.ndarray, x, y, range_m, buildings: np.ndarray) -> np.ndarray:
    """Cut each metric view polygon at the first building along every ray from its camera.

    Parameters
    ----------
    views : array of Polygon
        View polygons in EPSG:4544, one per camera.
    x, y, range_m : array-like
        The cameras' metric position (m) and view range (m).
    buildings : array of Polygon
        Building footprints (楼栋) in EPSG:4544.

    Returns
    -------
    array of Polygon
        The visible part of each view (a star-shaped polygon around its camera).
    """
    x, y, rng = (np.asarray(v, dtype=float) for v in (x, y, range_m))
    out = np.array(views, dtype=object, copy=True)
    buildings = np.asarray(buildings, dtype=object)
    if not len(out) or not len(buildings):
        return out
    tree = shapely.STRtree(buildings)
    cam_i, bld_i = tree.query(out, predicate="intersects")
    if not len(cam_i):
        return out
    # the building a camera hangs on (or stands in) is its mount, not an obstacle
    mount = shapely.dwithin(buildings[bld_i], shapely.points(x[cam_i], y[cam_i]), MOUNT_TOLERANCE_M)
    cam_i, bld_i = cam_i[~mount], bld_i[~mount]
    if not len(cam_i):
        return out
    edge_bld, p, q = _edges(buildings)
    order = np.argsort(edge_bld, kind="stable")
    first = np.searchsorted(edge_bld[order], np.arange(len(buildings)))
    count = np.bincount(edge_bld, minlength=len(buildings))
    # expand (camera, building) pairs into (camera, edge) pairs
    reps = count[bld_i]
    pair_cam = np.repeat(cam_i, reps)
    offs = np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
    edge = order[np.repeat(first[bld_i], reps) + offs]
    shadows = _edge_shadows(x[pair_cam], y[pair_cam], rng[pair_cam], p[edge], q[edge])
    blocked = np.concatenate([shadows, buildings[bld_i]])
    owner = np.concatenate([pair_cam, cam_i])
    srt = np.argsort(owner, kind="stable")
    owner, blocked = owner[srt], blocked[srt]
    cams, starts = np.unique(owner, return_index=True)
    for cam, part in zip(cams, np.split(blocked, starts[1:])):
        out[cam] = shapely.difference(out[cam], shapely.union_all(part))
    return out


def _edge_shadows(cx, cy, rng, p, q) -> np.ndarray:
    """The region hidden behind each edge ``p``–``q`` as seen from (cx, cy), out to beyond ``rng``.

    The far side is three points at 1.5 × max(range, edge distance) on the rays through p, the bisector and q: the chord
    between two of them stays ≥ 1.5·cos(45°) ≈ 1.06 × range from the camera for any edge angle < 180°.
    """
    ap = np.arctan2(p[:, 0] - cx, p[:, 1] - cy)
    aq = np.arctan2(q[:, 0] - cx, q[:, 1] - cy)
    delta = (aq - ap + np.pi) % (2 * np.pi) - np.pi
    # beyond the range and beyond the edge itself (a long wall may reach past the range)
    far = 1.5 * np.maximum.reduce([rng, np.hypot(p[:, 0] - cx, p[:, 1] - cy), np.hypot(q[:, 0] - cx, q[:, 1] - cy)])
    mid = ap + delta / 2.0
    ring = np.stack([
        p, q,
        np.column_stack([cx + far * np.sin(aq), cy + far * np.cos(aq)]),
        np.column_stack([cx + far * np.sin(mid), cy + far * np.cos(mid)]),
        np.column_stack([cx + far * np.sin(ap), cy + far * np.cos(ap)]),
    ], axis=1)
    shadows = shapely.polygons(ring)
    # an edge seen end-on (camera on its line) hides nothing and would give a bow-tie: drop it
    edge_on = np.abs(np.abs(delta) - np.pi) < 1e-9
    edge_on |= np.abs(delta) < 1e-12
    shadows[edge_on] = shapely.Polygon()
    return shadows
