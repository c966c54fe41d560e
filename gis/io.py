"""Readers and writers of tabular and vector files, registered by file suffix in one dict each.

Every importer and exporter goes through these, so a district's CSV, Excel, GeoJSON, GeoPackage or
Shapefile is read the same way everywhere (pyogrio/GDAL for vector formats). The writers behind
:func:`write_frame` live in :mod:`gis.writers` (typed for GDAL: ``.csvt`` sidecars, typed Excel cells,
Date and Integer fields, QGIS styles in GeoPackages; docs/exports.md).

What a reader returns is what the file holds, or a refusal naming the row: an empty file, a file with
no rows and a geometry that cannot be decoded (a ring that is not closed) are ``InvalidData``; a NUL
that GDAL would cut a GeoJSON string at is handed on, so the importer refuses it by name instead of
storing the text before it. CSV and Excel cells that a spreadsheet would run as a formula (starting
with ``=``, ``+``, ``-``, ``@``, tab or CR) are written with a leading ``'`` (OWASP's advice on CSV
injection) and read back without it, so an export reads back exactly. Non-point geometries travel in
CSV and Excel as a ``wkt`` column (full precision), which the readers turn back into geometries.
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

from gis.errors import InvalidData, RowError

#: the column a non-point geometry travels in through CSV and Excel (written by :func:`_flat`)
WKT_COLUMN = "wkt"
#: Excel's limit on the characters of one cell
XLSX_CELL_CHARS = 32_767
#: the data rows an Excel sheet holds below its header (1,048,576 rows in all)
XLSX_MAX_ROWS = 1_048_575
# a cell a spreadsheet would evaluate: escaped with one more leading apostrophe (see _escape_formula)
_FORMULA = re.compile(r"^'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"^'(?='*[=+\-@\t\r])")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


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
    return _sheet(df, path)


# OOXML's escape of a character in a string (Excel writes a CR as _x000D_: XML itself would turn it into LF)
_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _xlsx(path: Path) -> Table:
    try:
        df = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise InvalidData(f"cannot read the workbook: {exc}", source=str(path)) from exc
    unescape = lambda v: _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), v) if "_x" in v else v  # noqa: E731
    return _sheet(df.apply(lambda col: col.map(unescape) if pd.api.types.is_string_dtype(col.dtype) else col), path)


def _sheet(df: pd.DataFrame, path: Path) -> Table:
    """A CSV's or a worksheet's cells as a Table: formula escapes removed, a ``wkt`` column as geometry."""
    df.columns = [str(c).strip() for c in df.columns]
    df = df.apply(lambda col: col.str.replace(_ESCAPED, "", regex=True)
                  if pd.api.types.is_string_dtype(col.dtype) else col)
    lines = [i + 2 for i in range(len(df))]
    if WKT_COLUMN not in df.columns:
        return Table(df, None, lines)
    geoms, errors = [], []
    for line, text in zip(lines, df[WKT_COLUMN]):
        try:
            geoms.append(shapely.from_wkt(text) if text.strip() else None)
        except shapely.errors.GEOSException as exc:
            errors.append(RowError(line, WKT_COLUMN, f"not a WKT geometry: {exc}"))
            geoms.append(None)
    if errors:
        raise InvalidData(errors, source=str(path))
    return Table(df.drop(columns=[WKT_COLUMN]), gpd.GeoSeries(geoms, name="geometry"), lines)


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


def _geometries(wkb, lines: list[int], path: Path) -> gpd.GeoSeries:
    """Decode the features' WKB; every feature GEOS refuses (a ring not closed, …) is a row error."""
    try:
        return shapely.from_wkb(wkb)
    except shapely.errors.GEOSException:
        pass
    geoms, errors = [], []
    for line, one in zip(lines, wkb):
        try:
            geoms.append(shapely.from_wkb(one))
        except shapely.errors.GEOSException as exc:
            reason = str(exc).split(": ", 1)[-1]
            if "closed" in reason:
                reason = "a ring is not closed (its last point differs from its first); close it in the source file"
            errors.append(RowError(line, "geometry", reason))
    raise InvalidData(errors, source=str(path))


def _geojson_nul(path: Path, frame: pd.DataFrame) -> None:
    """Put back the text GDAL cut at a NUL (``\\u0000``) in GeoJSON properties, so importers refuse it by name."""
    import json

    raw = path.read_bytes()
    if not re.search(rb"\\u0000", raw, re.IGNORECASE):
        return
    try:
        features = json.loads(raw.decode("utf-8-sig")).get("features") or []
    except (ValueError, AttributeError):
        return  # GDAL read it; not plain FeatureCollection JSON
    for i, feature in enumerate(features[:len(frame)]):
        for name, value in ((feature or {}).get("properties") or {}).items():
            if isinstance(value, str) and "\x00" in value and name in frame.columns:
                frame.at[i, name] = value


def _data_layer(path: Path) -> str | int:
    """The layer a GeoPackage's data is in: the first that is not QGIS's ``layer_styles`` (which ours carry)."""
    if path.suffix.lower() != ".gpkg":
        return 0
    try:
        names = [str(n) for n, _ in pyogrio.list_layers(path)]
    except Exception:  # not a GeoPackage after all: the read names the problem
        return 0
    return next((n for n in names if n != "layer_styles"), 0)


def _vector(path: Path) -> Table:
    """Every attribute as GDAL's text: no date parsing, so an empty date is ``""`` and a date ``YYYY-MM-DD``."""
    try:
        with warnings.catch_warnings():
            # GDAL notes zoned GeoPackage times that are not in UTC (as its spec asks) but reads them right
            warnings.filterwarnings("ignore", "Non-conformant content", RuntimeWarning)
            # an unclosed ring is refused by name when its geometry is decoded (_geometries)
            warnings.filterwarnings("ignore", "Non closed ring", RuntimeWarning)
            meta, _, wkb, fields = pyogrio.raw.read(path, datetime_as_string=True, layer=_data_layer(path))
    except Exception as exc:  # pyogrio.errors.DataSourceError and friends
        raise InvalidData(f"cannot read the layer: {exc}", source=str(path)) from exc
    shapefile = path.suffix.lower() in (".shp", ".zip")
    n = len(wkb) if wkb is not None else (len(fields[0]) if len(fields) else 0)
    frame = pd.DataFrame({
        str(name): _field_text(values, ogr_type, subtype, shapefile=shapefile)
        for name, values, ogr_type, subtype in zip(meta["fields"], fields, meta["ogr_types"], meta["ogr_subtypes"])
    }, index=pd.RangeIndex(n), dtype=object)
    lines = [i + 1 for i in range(n)]
    if path.suffix.lower() in (".geojson", ".json"):
        _geojson_nul(path, frame)
    geometry = None if wkb is None else gpd.GeoSeries(_geometries(wkb, lines, path), crs=meta["crs"],
                                                      name="geometry")
    crs = geometry.crs.to_string() if geometry is not None and geometry.crs is not None else None
    return Table(frame, geometry, lines, crs)


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
    """Read ``path`` with the reader registered for its suffix.

    Raises :class:`~gis.errors.InvalidData` for an unknown suffix, a missing or empty file, a file
    with no rows (a header alone) and for rows the reader cannot decode (each named by its line).
    """
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise InvalidData(f"unsupported file type {path.suffix!r}; use one of {', '.join(sorted(READERS))}",
                          source=str(path))
    if not path.is_file():
        raise InvalidData("file not found", source=str(path))
    if path.stat().st_size == 0:
        raise InvalidData("file is empty (0 bytes)", source=str(path))
    try:
        table = reader(path)
    except pd.errors.EmptyDataError:  # only blank lines: no header either
        raise InvalidData("file is empty (no header, no rows)", source=str(path)) from None
    if not len(table.lines):
        raise InvalidData("no rows: the file has a header (or a layer) but no data", source=str(path))
    return table


def wkb_frame(frame: pd.DataFrame, geom_col: str = "geom", crs=None) -> gpd.GeoDataFrame:
    """``frame`` (rows read from PostGIS) as a GeoDataFrame whose ``geom_col`` of (E)WKB, as bytes or hex text,
    is decoded in one vectorised call. What ``geopandas.read_postgis`` gives, with the geometries parsed by
    GEOS in one loop instead of one Python call per row (47,100 cameras: 0.77 s → a few ms). ``crs`` None:
    the SRID of the first geometry, as ``read_postgis`` does (none: no CRS)."""
    if geom_col not in frame.columns:
        raise ValueError(f"the rows have no geometry column {geom_col!r}")
    values = frame[geom_col].to_numpy(dtype=object, copy=True)
    values[pd.isna(values)] = None  # a NULL geometry may arrive as NaN: GEOS wants None
    geoms = shapely.from_wkb(values) if len(values) else np.array([], dtype=object)
    if crs is None:
        first = next((g for g in geoms if g is not None), None)
        srid = int(shapely.get_srid(first)) if first is not None else 0
        crs = srid if srid > 0 else None
    out = frame.copy(deep=False)  # the caller's frame keeps its column
    out[geom_col] = gpd.GeoSeries(geoms, index=frame.index, crs=crs)
    return gpd.GeoDataFrame(out, geometry=geom_col, crs=crs)


def escape_formula(value):
    """``value`` as a spreadsheet cell that cannot run: text starting with ``=``, ``+``, ``-``, ``@``, tab or CR
    (after any apostrophes) gets one more leading ``'``; other values, and plain numbers such as ``-3.5``
    kept as text, are returned as they are. The CSV and Excel readers remove exactly that apostrophe.

    >>> escape_formula("=SUM(A1)"), escape_formula("-3.5"), escape_formula("'=1"), escape_formula(-3.5)
    ("'=SUM(A1)", '-3.5', "''=1", -3.5)
    """
    if isinstance(value, str) and _FORMULA.match(value) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def escape_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text column through :func:`escape_formula`: for any table written as CSV or Excel."""
    return df.apply(lambda col: col.map(escape_formula) if pd.api.types.is_string_dtype(col.dtype) else col)


#: how every CSV is written: RFC 4180 line ends, so a value holding a lone CR is quoted too (with "\n" line
#: ends pandas leaves it bare and the file splits there); a BOM so Excel reads UTF-8
CSV_WRITE = {"index": False, "encoding": "utf-8-sig", "lineterminator": "\r\n"}
#: the suffixes write_frame writes (gis.writers.WRITERS; listed here so a caller can check without importing it)
WRITE_SUFFIXES = (".csv", ".geojson", ".gpkg", ".json", ".shp", ".xlsx")


def write_frame(frame: pd.DataFrame, path: str | Path, *, layer: str | None = None, timezone: str | None = None,
                style: str | None = None, rename: dict[str, str] | None = None) -> Path:
    """Write ``frame`` (a GeoDataFrame in EPSG:4326, or a plain table for CSV and Excel) to ``path`` with the
    writer registered for its suffix (:data:`gis.writers.WRITERS`), typed so GDAL reads it back right.

    Parameters
    ----------
    layer : str, optional
        The GeoPackage layer and the Excel sheet (default: the file's stem).
    timezone : str, optional
        IANA zone (e.g. ``"Asia/Shanghai"``) in which CSV and Excel show zoned timestamps, offset included.
    style : str, optional
        A QGIS style (QML) a GeoPackage carries as its layer's default (``layer_styles``).
    rename : dict, optional
        Column names for CSV and Excel, applied after the geometry became ``lon``/``lat`` or ``wkt``.

    A CSV gets a ``.csvt`` beside it (and a ``.prj`` when it has a geometry): see :mod:`gis.writers`.
    """
    return write_frames([frame], path, layer=layer, timezone=timezone, style=style, rename=rename)


def write_frames(frames, path: str | Path, *, layer: str | None = None, timezone: str | None = None,
                 style: str | None = None, rename: dict[str, str] | None = None,
                 geometry_type: str | None = None) -> Path:
    """:func:`write_frame` of a table that comes in batches (an iterable of frames with the same columns and
    dtypes, at least one): each batch is written as it comes and let go, so memory is a batch's, whatever
    the table's size. ``geometry_type`` (GDAL's name, e.g. ``"Point"``) is the layer's for GeoJSON and
    GeoPackage, which then stream through Arrow; None: one frame, written as :func:`write_frame` does.
    A file that fails half-way is removed."""
    from gis.writers import WRITERS  # XlsxWriter, pyarrow and sqlite3 only on the paths that write

    path = Path(path)
    writer = WRITERS.get(path.suffix.lower())
    if writer is None:
        raise InvalidData(f"cannot write {path.suffix!r}; use one of {', '.join(WRITE_SUFFIXES)}", source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    writer(iter(frames), path, layer=layer, timezone=timezone, style=style, rename=rename,
           geometry_type=geometry_type)
    return path


def frame_bytes(frame: pd.DataFrame, suffix: str, *, layer: str, timezone: str | None = None,
                style: str | None = None) -> bytes:
    """What :func:`write_frame` writes for ``suffix``, as bytes (an HTTP download: the CSV alone, no sidecar)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return write_frame(frame, Path(tmp) / f"{layer}{suffix}", layer=layer, timezone=timezone,
                           style=style).read_bytes()
