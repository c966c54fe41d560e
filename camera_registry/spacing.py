"""Minimum spacing of cameras (摄像机最小间距): two cameras closer than ``min_spacing_m`` (the setting
``camera_min_spacing_m``) are a probable duplicate, the same pole entered twice.

One check for every way a position enters the registry: the importer's rows (each against the file's
earlier rows and the stored cameras), a camera added one by one and a camera moved
(``camera_registry.history``). Distances are planar in EPSG:4544 (CGCS2000 / 3-degree Gauss-Kruger CM
105E, metres), the district's metric CRS. Active and planned cameras count (a planned camera is a site the
district means to build: a second camera on it is a duplicate too); retired ones do not (their pole may
carry the replacement), nor those whose IDs are being written (an import's updates, the camera being moved). The refusal names
``lon/lat``, the distance and the other camera (its line in the file, or its ID).
"""
from __future__ import annotations

import math

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.crs import metric_transformer
from gis.errors import RowError

FIELD = "lon/lat"
#: metres per degree of latitude (and of longitude at the equator), for the index's search window only
_M_PER_DEG = 111_320.0


def _duplicate(min_spacing_m: float) -> str:
    return f"probable duplicate (minimum spacing {min_spacing_m:g} m)"


def _stored_near(session: Session, lon: np.ndarray, lat: np.ndarray, within_m: float, skip: set) -> list:
    """``(device_id, lon, lat)`` of the stored cameras that are not retired, in the points' box widened by
    well over ``within_m`` (the exact distance is the caller's), leaving out the IDs in ``skip``."""
    lat_edge = min(float(np.max(np.abs(lat))) + 1.0, 89.0)
    pad = 2.0 * within_m / (_M_PER_DEG * math.cos(math.radians(lat_edge)))
    rows = session.execute(text(
        "SELECT device_id, ST_X(geom), ST_Y(geom) FROM cameras "
        "WHERE lifecycle <> 'retired' AND geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"),
        {"w": float(lon.min()) - pad, "s": float(lat.min()) - pad,
         "e": float(lon.max()) + pad, "n": float(lat.max()) + pad}).all()
    return [r for r in rows if r[0] not in skip]


def spacing_errors(session: Session, ids, lon, lat, ok, lines, min_spacing_m: float) -> list[RowError]:
    """Rows closer than ``min_spacing_m`` to an earlier row or to a stored camera.

    Parameters
    ----------
    ids : sequence of str
        The rows' device IDs (stored cameras with these IDs are the rows themselves, not neighbours).
    lon, lat : array-like of float
        WGS-84 (EPSG:4326) positions of the rows.
    ok : array-like of bool
        The rows whose position is valid (the others are not checked).
    lines : sequence
        What each row's error names as its line (the file's line; None for a single camera).
    min_spacing_m : float
        The minimum spacing (m); 0 or less checks nothing.

    Returns
    -------
    list of RowError naming ``lon/lat``: "only 1.23 m from line 4 (<ID>)" for two rows,
    "only 1.23 m from stored camera <ID>" for a row and a stored camera.
    """
    out: list[RowError] = []
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    idx = np.flatnonzero(np.asarray(ok, dtype=bool))
    if min_spacing_m <= 0 or not len(idx):
        return out
    from scipy.spatial import cKDTree  # here, not at import: SciPy costs a third of a second to load

    tr = metric_transformer()
    x, y = tr.transform(lon[idx], lat[idx])
    xy = np.column_stack([x, y])
    for a, b in sorted(cKDTree(xy).query_pairs(min_spacing_m)):
        i, j = idx[a], idx[b]
        d = float(np.hypot(*(xy[a] - xy[b])))
        out.append(RowError(lines[j], FIELD, f"only {d:.2f} m from line {lines[i]} ({ids[i]}): "
                            f"{_duplicate(min_spacing_m)}"))
    stored = _stored_near(session, lon[idx], lat[idx], min_spacing_m, {d for d in ids if isinstance(d, str)})
    if stored:
        sx, sy = tr.transform(np.array([r[1] for r in stored]), np.array([r[2] for r in stored]))
        sxy = np.column_stack([sx, sy])
        for a, hits in enumerate(cKDTree(sxy).query_ball_point(xy, min_spacing_m)):
            for h in sorted(hits, key=lambda h: float(np.hypot(*(xy[a] - sxy[h])))):
                d = float(np.hypot(*(xy[a] - sxy[h])))
                out.append(RowError(lines[idx[a]], FIELD, f"only {d:.2f} m from stored camera {stored[h][0]}: "
                                    f"{_duplicate(min_spacing_m)}"))
    return out


def check_spacing(session: Session, device_id: str | None, lon: float, lat: float,
                  min_spacing_m: float) -> list[RowError]:
    """The stored cameras (other than ``device_id`` itself) closer than ``min_spacing_m`` to the WGS-84
    position (``lon``, ``lat``), nearest first, each as a RowError naming ``lon/lat`` (no line)."""
    return spacing_errors(session, [device_id], [lon], [lat], [True], [None], min_spacing_m)
