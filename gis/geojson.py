"""GeoJSON text as gridwatch writes it everywhere: map pages embed it, JSON endpoints and the OGC API send it.

One writer, so a feature reads the same wherever it comes from: compact (no spaces), UTF-8 characters
(``\\uXXXX`` would double the size of Chinese text), coordinates rounded to ``COORD_DECIMALS``, and safe
inside ``<script>`` (``< > & '`` escaped as in Jinja's ``tojson``).
"""
from __future__ import annotations

import datetime
import decimal
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely


#: decimals of embedded lon/lat: 1e-6° is about 0.1 m at Da'an, far below what a screen shows
COORD_DECIMALS = 6


_SCRIPT_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027"))


def _script_safe(text: str) -> str:
    # as Jinja's tojson: nothing in the JSON can close the <script> or open a comment. ``in`` first: on a
    # 1,000-feature page (700 K characters, not ASCII) each replace that finds nothing still costs ~0.7 ms
    for char, escape in _SCRIPT_ESCAPES:
        if char in text:
            text = text.replace(char, escape)
    return text


def geojson_text(frame: gpd.GeoDataFrame, columns: list[str] | None = None, *,
                 decimals: int = COORD_DECIMALS, extra: dict | None = None) -> str:
    """``frame`` (EPSG:4326) as a compact FeatureCollection string that is safe inside ``<script>``.

    Coordinates are rounded to ``decimals``; only ``columns`` become properties (all when None);
    NaN/None become null, timestamps ISO text. Characters stay UTF-8 (``\\uXXXX`` would double
    the size of Chinese text); ``< > & '`` are escaped as in Jinja's ``tojson``. ``extra`` members
    (e.g. a total) are added to the collection object. Pages embed this text and JSON endpoints send
    it as it is, so a feature reads the same wherever it comes from.
    """
    geoms = shapely.transform(frame.geometry.to_numpy(), lambda c: np.round(c, decimals))
    props = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    if columns is not None:
        props = props[[c for c in columns if c in props.columns]]
    records = props.astype(object).where(props.notna(), None).to_dict("records")
    return collection_text([feature_text(g, _json(p)) for g, p in zip(shapely.to_geojson(geoms), records)], extra)


def feature_text(geometry: str | None, properties: str) -> str:
    """One compact GeoJSON Feature from its geometry and properties JSON texts (null geometry for None)."""
    return f'{{"type":"Feature","geometry":{geometry or "null"},"properties":{properties}}}'


def collection_text(features: list[str], extra: dict | None = None) -> str:
    """The FeatureCollection of ``feature_text`` strings with ``extra`` members, safe inside ``<script>``:
    the one writer behind ``geojson_text`` and features whose properties the database wrote."""
    members = "," + _json(extra)[1:-1] if extra else ""
    return _script_safe('{"type":"FeatureCollection","features":[' + ",".join(features) + "]" + members + "}")


def point_geojson(lon, lat, *, decimals: int = COORD_DECIMALS) -> np.ndarray:
    """GeoJSON geometry texts of points at lon/lat arrays (display coordinates, degrees), rounded to
    ``decimals`` exactly as ``geojson_text`` rounds them."""
    points = shapely.points(np.round(np.asarray(lon, dtype=float), decimals),
                            np.round(np.asarray(lat, dtype=float), decimals))
    return shapely.to_geojson(points)


def _plain(value):
    # what json cannot write: times as ISO text, decimals and NumPy scalars as numbers
    if isinstance(value, (pd.Timestamp, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, pd.Timedelta):
        return value.total_seconds()
    if isinstance(value, (decimal.Decimal, np.number)):
        return float(value) if not isinstance(value, np.integer) else int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return str(value)


def _json(record: dict) -> str:
    clean = {k: None if isinstance(v, float) and not np.isfinite(v) else v for k, v in record.items()}
    return json.dumps(clean, ensure_ascii=False, separators=(",", ":"), default=_plain)
