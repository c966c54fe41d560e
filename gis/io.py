"""Readers and writers of tabular and vector files, registered by file suffix in one dict each.

Every importer and exporter goes through these, so a district's CSV, Excel, GeoJSON, GeoPackage or
Shapefile is read the same way everywhere (pyogrio/GDAL for vector formats).
"""
from __future__ import annotations

import datetime as dt
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio.raw
import shapely

from gis.errors import InvalidData


@dataclass
class Table:
    """What a reader returns: text columns, an optional geometry column, and each row's line label.

    ``lines`` holds what a user sees in their file: the spreadsheet line number (header = 1) for CSV
    and Excel, the feature number (1-based) for vector files.
    """

    frame: pd.DataFrame
    geometry: gpd.GeoSeries | None
    lines: list[int]
    crs: str | None = None


def _csv(path: Path) -> Table:
    last_error: Exception | None = None
    for encoding in ("utf-8-sig", "gb18030"):  # Chinese spreadsheets are often saved as GBK/GB18030
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding, skipinitialspace=True)
            break
        except UnicodeDecodeError as exc:
            last_error = exc
        except pd.errors.ParserError as exc:
            raise InvalidData(f"cannot parse CSV: {exc}", source=str(path)) from exc
    else:
        raise InvalidData(f"cannot decode the file as UTF-8 or GB18030: {last_error}", source=str(path))
    df.columns = [str(c).strip() for c in df.columns]
    return Table(df, None, [i + 2 for i in range(len(df))])


def _xlsx(path: Path) -> Table:
    try:
        df = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise InvalidData(f"cannot read the workbook: {exc}", source=str(path)) from exc
    df.columns = [str(c).strip() for c in df.columns]
    return Table(df, None, [i + 2 for i in range(len(df))])


# GDAL's own text for a date-time kept in a string field, as Shapefile (which has no date-time type) stores it.
_GDAL_DATETIME = re.compile(r"^(\d{4})/(\d{2})/(\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)(?:([+-]\d{2})(?::?(\d{2}))?)?$")


def _iso_datetime(text: str) -> str:
    """GDAL's ISO 8601 text as ``datetime.isoformat`` writes it: ``+00:00`` for ``Z``, microseconds.

    The CSV writer (:func:`_flat`) writes zoned timestamps with ``isoformat``, so a value exported to
    CSV and to a vector file reads back as the same string.
    """
    try:
        return dt.datetime.fromisoformat(text).isoformat()
    except ValueError:  # not a date-time after all: the user's text, for the importer to reject by name
        return text


def _from_gdal_text(text: str) -> str:
    m = _GDAL_DATETIME.match(text)
    if m is None:
        return text
    year, month, day, clock, hours, minutes = m.groups()
    offset = "" if hours is None else f"{hours}:{minutes or '00'}"
    return _iso_datetime(f"{year}-{month}-{day}T{clock}{offset}")


def _field_text(values: np.ndarray, ogr_type: str, ogr_subtype: str, *, shapefile: bool) -> list[str]:
    """One field's values as text; null (and NaN, GDAL's null for numbers) is ``""`` like an empty CSV cell."""
    if ogr_subtype == "OFSTBoolean":
        convert = lambda v: str(bool(v))  # noqa: E731
    elif ogr_type in ("OFTInteger", "OFTInteger64"):
        convert = lambda v: str(int(v))  # noqa: E731  (a column with nulls arrives as float64)
    elif ogr_type == "OFTDateTime":
        convert = _iso_datetime
    elif ogr_type == "OFTTime":
        convert = lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)  # noqa: E731
    elif ogr_type == "OFTString" and shapefile:
        convert = _from_gdal_text
    else:
        convert = str
    return ["" if v is None or (isinstance(v, (float, np.floating)) and np.isnan(v)) else convert(v)
            for v in values]


def _vector(path: Path) -> Table:
    """Every attribute as GDAL's text: no date parsing, so an empty date is ``""`` and a date ``YYYY-MM-DD``."""
    try:
        with warnings.catch_warnings():
            # GDAL notes zoned GeoPackage times that are not in UTC (as its spec asks) but reads them right
            warnings.filterwarnings("ignore", "Non-conformant content", RuntimeWarning)
            meta, _, wkb, fields = pyogrio.raw.read(path, datetime_as_string=True)
    except Exception as exc:  # pyogrio.errors.DataSourceError and friends
        raise InvalidData(f"cannot read the layer: {exc}", source=str(path)) from exc
    shapefile = path.suffix.lower() in (".shp", ".zip")
    n = len(wkb) if wkb is not None else (len(fields[0]) if len(fields) else 0)
    frame = pd.DataFrame({
        str(name): _field_text(values, ogr_type, subtype, shapefile=shapefile)
        for name, values, ogr_type, subtype in zip(meta["fields"], fields, meta["ogr_types"], meta["ogr_subtypes"])
    }, index=pd.RangeIndex(n), dtype=object)
    geometry = None if wkb is None else gpd.GeoSeries(shapely.from_wkb(wkb), crs=meta["crs"], name="geometry")
    crs = geometry.crs.to_string() if geometry is not None and geometry.crs is not None else None
    return Table(frame, geometry, [i + 1 for i in range(n)], crs)


READERS: dict[str, Callable[[Path], Table]] = {
    ".csv": _csv,
    ".txt": _csv,
    ".xlsx": _xlsx,
    ".geojson": _vector,
    ".json": _vector,
    ".gpkg": _vector,
    ".shp": _vector,
    ".zip": _vector,
    ".gpx": _vector,
}


def read_table(path: str | Path) -> Table:
    """Read ``path`` with the reader registered for its suffix."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise InvalidData(f"unsupported file type {path.suffix!r}; use one of {', '.join(sorted(READERS))}",
                          source=str(path))
    if not path.exists():
        raise InvalidData("file not found", source=str(path))
    return reader(path)


def _flat(gdf: gpd.GeoDataFrame, timezone: str | None = None) -> pd.DataFrame:
    """Geometry as lon/lat for points, WKT otherwise: for CSV and Excel.

    Zoned timestamps become ISO 8601 text with their offset (Excel has no zoned datetimes).
    """
    df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    for col in df.columns:
        if isinstance(df[col].dtype, pd.DatetimeTZDtype):
            zoned = df[col].dt.tz_convert(timezone) if timezone else df[col]
            df[col] = zoned.map(lambda t: "" if pd.isna(t) else t.isoformat())
    geom = gdf.geometry
    if len(geom) and (geom.geom_type == "Point").all():
        df["lon"] = geom.x.round(8)
        df["lat"] = geom.y.round(8)
    else:
        df["wkt"] = geom.to_wkt(rounding_precision=8)
    return df


def _write_csv(gdf, path: Path, timezone: str | None = None, **_):
    _flat(gdf, timezone).to_csv(path, index=False, encoding="utf-8-sig")


def _write_xlsx(gdf, path: Path, timezone: str | None = None, **_):
    _flat(gdf, timezone).to_excel(path, index=False, engine="openpyxl")


def _write_vector(driver: str):
    # GeoPackage stores timestamps in UTC by its specification, so vector files keep them as they are.
    def write(gdf, path: Path, layer: str | None = None, **_):
        kw = {"layer": layer} if layer and driver == "GPKG" else {}
        if path.exists() and driver != "GPKG":
            path.unlink()
        gdf.to_file(path, driver=driver, engine="pyogrio", **kw)
    return write


WRITERS = {
    ".csv": _write_csv,
    ".xlsx": _write_xlsx,
    ".geojson": _write_vector("GeoJSON"),
    ".json": _write_vector("GeoJSON"),
    ".gpkg": _write_vector("GPKG"),
    ".shp": _write_vector("ESRI Shapefile"),
}


def write_frame(gdf: gpd.GeoDataFrame, path: str | Path, *, layer: str | None = None,
                timezone: str | None = None) -> Path:
    """Write ``gdf`` (EPSG:4326) to ``path`` with the writer registered for its suffix.

    ``timezone`` (e.g. ``"Asia/Shanghai"``): CSV and Excel show zoned timestamps in it, with the offset.
    """
    path = Path(path)
    writer = WRITERS.get(path.suffix.lower())
    if writer is None:
        raise InvalidData(f"cannot write {path.suffix!r}; use one of {', '.join(sorted(WRITERS))}", source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    writer(gdf, path, layer=layer, timezone=timezone)
    return path
