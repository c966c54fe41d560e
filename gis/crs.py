"""Coordinate systems (坐标系): WGS-84, CGCS2000, GCJ-02 (火星坐标), BD-09 (百度坐标) and the metric CRS.

The one place that names the storage CRS (EPSG:4326; CGCS2000 differs from it by about 0.1 mm) and
the metric CRS (EPSG:4544, CGCS2000 3-degree Gauss–Krüger CM 105°E). GCJ-02 and BD-09 are not
projections pyproj knows: they are the public obfuscation formulas, implemented here vectorised.
Every importer parses its coordinates with :func:`parse_coordinates` and its ``--crs`` option with
:func:`parse_crs`.
"""
from __future__ import annotations

import functools
import re
from typing import Sequence

import numpy as np
from pyproj import CRS, Geod, Transformer
from pyproj.exceptions import CRSError

from gis.errors import InvalidData, RowError

STORAGE_CRS = "EPSG:4326"
METRIC_CRS = "EPSG:4544"
CRS_CHOICES = ("wgs84", "cgcs2000", "gcj02", "bd09")

# The public GCJ-02 algorithm: Krasovsky 1940 ellipsoid (not WGS-84's 6378137, a common port bug).
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0
_INVERSE_TOL_DEG = 1e-10  # ≈ 0.01 mm; the brief asks < 0.1 m, we go to float noise
_MAX_ITER = 30


def _arrays(lon, lat):
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    return np.broadcast_arrays(lon, lat)


def _out(lon, lat, scalar: bool):
    if scalar:
        return float(lon), float(lat)
    return lon, lat


def out_of_china(lon, lat) -> np.ndarray:
    """True where the public algorithm leaves a point unshifted (its rough bounding box of China)."""
    lon, lat = _arrays(lon, lat)
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta_gcj(lon, lat):
    """The GCJ-02 offset (degrees) at WGS-84 ``lon``, ``lat``."""
    x = lon - 105.0
    y = lat - 35.0
    sx = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx + common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def _gcj_forward(lon, lat):
    dlon, dlat = _delta_gcj(lon, lat)
    return lon + dlon, lat + dlat


def _bd_forward(lon, lat):
    """GCJ-02 → BD-09 (Baidu's extra rotation and shift)."""
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd_one_step(lon, lat):
    x = lon - 0.0065
    y = lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _invert(forward, lon, lat, start):
    """Solve ``forward(w) = (lon, lat)`` by fixed-point iteration from ``start`` (the offsets are smooth)."""
    wlon, wlat = start
    wlon, wlat = wlon.copy(), wlat.copy()
    for _ in range(_MAX_ITER):
        flon, flat = forward(wlon, wlat)
        elon, elat = flon - lon, flat - lat
        wlon -= elon
        wlat -= elat
        if np.all(np.abs(elon) < _INVERSE_TOL_DEG) & np.all(np.abs(elat) < _INVERSE_TOL_DEG):
            break
    return wlon, wlat


def wgs84_to_gcj02(lon, lat):
    """WGS-84 → GCJ-02 (火星坐标, Amap/Gaode). Degrees in, degrees out; outside China unchanged.

    Parameters
    ----------
    lon, lat : float or array-like
        WGS-84 longitude and latitude in degrees (EPSG:4326).

    Returns
    -------
    (lon, lat) : floats for scalar input, else float arrays.

    Examples
    --------
    >>> wgs84_to_gcj02(121.5272106, 31.1774276)
    (121.531541859215, 31.17530398364597)
    """
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    lon, lat = _arrays(lon, lat)
    return _out(*_gcj_forward(lon, lat), scalar)


def gcj02_to_wgs84(lon, lat):
    """GCJ-02 → WGS-84 by iteration (round trip better than 1e-10°, not the 1–2 m one-step inverse)."""
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    lon, lat = _arrays(lon, lat)
    outside = out_of_china(lon, lat)
    dlon, dlat = _delta_gcj(lon, lat)
    wlon, wlat = _invert(_gcj_forward, lon, lat, (lon - dlon, lat - dlat))
    return _out(np.where(outside, lon, wlon), np.where(outside, lat, wlat), scalar)


def gcj02_to_bd09(lon, lat):
    """GCJ-02 → BD-09 (百度坐标)."""
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    lon, lat = _arrays(lon, lat)
    return _out(*_bd_forward(lon, lat), scalar)


def bd09_to_gcj02(lon, lat):
    """BD-09 → GCJ-02, iterated so that converting back reproduces the input to 1e-10°."""
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    lon, lat = _arrays(lon, lat)
    return _out(*_invert(_bd_forward, lon, lat, _bd_one_step(lon, lat)), scalar)


def wgs84_to_bd09(lon, lat):
    """WGS-84 → BD-09 (through GCJ-02, as Baidu does)."""
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    lon, lat = _arrays(lon, lat)
    return _out(*_bd_forward(*_gcj_forward(lon, lat)), scalar)


def bd09_to_wgs84(lon, lat):
    """BD-09 → WGS-84 (both inverses iterated)."""
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    glon, glat = bd09_to_gcj02(*_arrays(lon, lat))
    return _out(*gcj02_to_wgs84(glon, glat), scalar)


# -- named CRS values -----------------------------------------------------------------------
def parse_crs(text: str | None) -> str:
    """Normalise a ``--crs`` value: one of :data:`CRS_CHOICES` or ``EPSG:nnnn`` (checked with pyproj).

    Raises :class:`~gis.errors.InvalidData` naming the valid choices.
    """
    raw = "" if text is None else str(text).strip()
    name = re.sub(r"[\s_\-]", "", raw.lower())
    aliases = {"wgs84": "wgs84", "gps": "wgs84", "cgcs2000": "cgcs2000", "gcj02": "gcj02", "amap": "gcj02",
               "gaode": "gcj02", "bd09": "bd09", "baidu": "bd09"}
    if name in aliases:
        return aliases[name]
    match = re.fullmatch(r"(?:epsg:)?([0-9]{4,6})", name)  # ASCII digits: \d would take ４ or ٤
    if match:
        code = f"EPSG:{match.group(1)}"
        try:
            CRS.from_user_input(code)
        except CRSError as exc:
            raise InvalidData(f"unknown coordinate system {raw!r}: {exc}") from None
        return code
    raise InvalidData(f"unknown coordinate system {raw!r}; use one of {', '.join(CRS_CHOICES)} or EPSG:nnnn "
                      "(for example EPSG:4544)")


@functools.lru_cache(maxsize=32)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def to_wgs84(lon, lat, crs: str = "wgs84"):
    """Convert coordinates in ``crs`` (a :func:`parse_crs` value) to WGS-84 lon/lat arrays (EPSG:4326).

    For a projected ``EPSG:nnnn``, ``lon``/``lat`` are its x (easting) and y (northing).
    """
    crs = parse_crs(crs)
    x, y = _arrays(lon, lat)
    if crs == "wgs84":
        return x.astype(float, copy=True), y.astype(float, copy=True)
    if crs == "gcj02":
        return gcj02_to_wgs84(x, y)
    if crs == "bd09":
        return bd09_to_wgs84(x, y)
    src = "EPSG:4490" if crs == "cgcs2000" else crs
    ox, oy = _transformer(src, STORAGE_CRS).transform(x, y)
    return np.asarray(ox, dtype=float), np.asarray(oy, dtype=float)


# -- metric CRS helpers --------------------------------------------------------------------
def metric_transformer(inverse: bool = False) -> Transformer:
    """pyproj Transformer EPSG:4326 → EPSG:4544 (x = lon/easting first), or back with ``inverse``."""
    return _transformer(METRIC_CRS, STORAGE_CRS) if inverse else _transformer(STORAGE_CRS, METRIC_CRS)


def _reproject(obj, dst: str, inverse: bool):
    import geopandas as gpd
    import shapely

    if isinstance(obj, (gpd.GeoDataFrame, gpd.GeoSeries)):
        if obj.crs is None:  # frames built in code without a CRS are lon/lat (or metric, when going back)
            obj = obj.set_crs(METRIC_CRS if inverse else STORAGE_CRS)
        return obj.to_crs(dst)
    if isinstance(obj, shapely.Geometry) or isinstance(obj, np.ndarray):
        tr = metric_transformer(inverse)
        return shapely.transform(obj, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    raise TypeError(f"expected a GeoDataFrame, GeoSeries or shapely geometry, got {type(obj).__name__}")


def to_metric(obj):
    """Project a GeoDataFrame, GeoSeries or shapely geometry (array) from EPSG:4326 to EPSG:4544 (metres)."""
    return _reproject(obj, METRIC_CRS, inverse=False)


def from_metric(obj):
    """Project from EPSG:4544 (metres) back to EPSG:4326 lon/lat."""
    return _reproject(obj, STORAGE_CRS, inverse=True)


# -- parsing and checking input coordinates -------------------------------------------------
_GEOD = Geod(ellps="WGS84")
#: the hint for degrees that cannot be degrees: metres of a projected CRS read without --crs
PROJECTED_HINT = (f"coordinates look projected (e.g. {METRIC_CRS} metres); pass --crs {METRIC_CRS} or set "
                  "the file's CRS")


def is_geographic(crs: str) -> bool:
    """True when ``crs`` (a :func:`parse_crs` value) counts in degrees, so |x| ≤ 180 and |y| ≤ 90."""
    return crs in CRS_CHOICES or CRS.from_user_input(crs).is_geographic


def looks_projected(x, y) -> np.ndarray:
    """Where x/y cannot be longitude/latitude degrees (|x| > 180 or |y| > 90): projected metres, most likely."""
    x, y = _arrays(x, y)
    return (np.abs(x) > 180) | (np.abs(y) > 90)


def _to_float(values) -> np.ndarray:
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if v is None:
            continue
        if isinstance(v, str):
            v = v.strip().replace("，", ".")
            if not v:
                continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        out[i] = f if np.isfinite(f) else np.nan
    return out


def distance_outside_bbox_m(lon, lat, bbox: Sequence[float]) -> np.ndarray:
    """Geodesic distance (m) from WGS-84 points to the lon/lat box ``(W, S, E, N)``; 0 inside."""
    lon, lat = _arrays(lon, lat)
    w, s, e, n = bbox
    clon = np.clip(lon, w, e)
    clat = np.clip(lat, s, n)
    _, _, dist = _GEOD.inv(lon, lat, clon, clat)
    return np.where((clon == lon) & (clat == lat), 0.0, np.asarray(dist))


def parse_coordinates(lon_values, lat_values, lines, *, crs: str = "wgs84", bbox: Sequence[float],
                      margin_m: float, fields: tuple[str, str] = ("lon", "lat")):
    """Parse and check one coordinate pair per row, converting it to WGS-84 (EPSG:4326).

    Parameters
    ----------
    lon_values, lat_values : sequences of str or numbers
        As read from the file (x/y of ``crs``).
    lines : sequence of int
        The line label of each row (what the user sees in their file).
    crs : str
        A :func:`parse_crs` value.
    bbox : (W, S, E, N)
        The district's WGS-84 extent in degrees (``District.bbox``).
    margin_m : float
        How far outside ``bbox`` (metres) a point may lie before it is reported.
    fields : (str, str)
        Column names used in the messages.

    Returns
    -------
    lon, lat : float ndarrays (WGS-84; NaN on bad rows)
    errors : list of RowError, one per bad row: not a number, swapped (lat/lon), or out of extent
    ok : bool ndarray
    """
    crs = parse_crs(crs)
    lon_values, lat_values = list(lon_values), list(lat_values)
    x = _to_float(lon_values)
    y = _to_float(lat_values)
    lines = list(lines)
    n = len(x)
    errors: dict[int, RowError] = {}
    for arr, raw, field in ((x, lon_values, fields[0]), (y, lat_values, fields[1])):
        for i in np.flatnonzero(np.isnan(arr)):
            if i not in errors:
                errors[i] = RowError(lines[i], field, f"{raw[i]!r} is not a number")
    numeric = ~np.isnan(x) & ~np.isnan(y)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if numeric.any():
        with np.errstate(all="ignore"):
            lon[numeric], lat[numeric] = to_wgs84(x[numeric], y[numeric], crs)
            slon, slat = to_wgs84(y[numeric], x[numeric], crs)
        finite = np.isfinite(lon[numeric]) & np.isfinite(lat[numeric])
        dist = np.full(numeric.sum(), np.inf)
        dist[finite] = distance_outside_bbox_m(lon[numeric][finite], lat[numeric][finite], bbox)
        sfinite = np.isfinite(slon) & np.isfinite(slat) & (np.abs(slat) <= 90)
        sdist = np.full(numeric.sum(), np.inf)
        sdist[sfinite] = distance_outside_bbox_m(slon[sfinite], slat[sfinite], bbox)
        both = f"{fields[0]}/{fields[1]}"
        projected = looks_projected(x[numeric], y[numeric]) & is_geographic(crs)
        for k, i in enumerate(np.flatnonzero(numeric)):
            if dist[k] <= margin_m:
                continue
            if sdist[k] <= margin_m:
                reason = (f"coordinates look swapped: ({x[i]}, {y[i]}) lies outside the district but "
                          f"({y[i]}, {x[i]}) is inside; put longitude in {fields[0]!r} and latitude in {fields[1]!r}")
            elif projected[k]:
                reason = f"({x[i]}, {y[i]}) in {crs}: {PROJECTED_HINT}"
            elif np.isfinite(dist[k]):
                reason = (f"({x[i]}, {y[i]}) in {crs} is {dist[k] / 1000:.1f} km outside the district extent "
                          f"(allowed margin {margin_m:.0f} m); check the coordinates and --crs")
            else:
                reason = f"({x[i]}, {y[i]}) is not a valid position in {crs}; check the coordinates and --crs"
            errors[i] = RowError(lines[i], both, reason)
    ok = np.ones(n, dtype=bool)
    bad = sorted(errors)
    ok[bad] = False
    lon[~ok] = np.nan
    lat[~ok] = np.nan
    return lon, lat, [errors[i] for i in bad], ok
