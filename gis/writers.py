"""Writers of tables and layers, registered by file suffix (:data:`WRITERS`), so GDAL reads back the types.

``gis.io.write_frame`` is the one entry point; this module holds what each format needs so that GDAL
(pyogrio, ``ogrinfo``, QGIS) reads the file with the types the data has, not what its heuristics guess:

- CSV: a ``.csvt`` sidecar (GDAL's column-type file: ``"String","Integer","Real","Date",…``) so codes
  (20-digit device IDs, 15-digit grid codes) stay text and numbers are numbers; ``lon``/``lat`` are typed
  ``CoordX``/``CoordY`` (GDAL builds the points from them) and a ``.prj`` names the CRS.
- Excel: written with XlsxWriter (2–3× faster than pandas' openpyxl path), one sheet named after the
  layer, numbers as numbers, dates as date cells, a bold frozen header. GDAL takes the first row as the
  header only when the second row has a cell that is not text; a layer whose first row is all text
  (streets) gets a trailing ``fid`` column (1-based feature number, GDAL's own notion) for that reason.
- Vector files: written through Arrow, so dates are ``Date`` fields (not ``String``) and nullable integers
  ``Integer`` (not ``Real``); a GeoPackage may carry a QGIS style in its ``layer_styles`` table.

Text cells a spreadsheet would evaluate are escaped in CSV and Excel (``gis.io.escape_frame``).
"""
from __future__ import annotations

import datetime as dt
import math
import re
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.errors import InvalidData, RowError
from gis.io import CSV_WRITE, WKT_COLUMN, XLSX_CELL_CHARS, XLSX_MAX_ROWS, escape_frame

#: GDAL field types a column is written as (the words of a ``.csvt``; ``Boolean`` is ``Integer(Boolean)``)
KINDS = ("String", "Integer", "Integer64", "Real", "Date", "DateTime", "Boolean", "WKT", "CoordX", "CoordY")
_CSVT_WORD = {"Boolean": "Integer(Boolean)"}
#: the column that makes an all-text sheet's header detectable by GDAL (see :func:`_write_xlsx`)
FID_COLUMN = "fid"
_INT32 = 2**31 - 1
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def column_kind(values: pd.Series) -> str:
    """The GDAL field type of a column, from its dtype (an object column of ``datetime.date`` is ``Date``)."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "Boolean"
    if pd.api.types.is_integer_dtype(dtype):
        present = values.dropna()
        fits = not len(present) or (int(present.min()) >= -_INT32 and int(present.max()) <= _INT32)
        return "Integer" if fits else "Integer64"
    if pd.api.types.is_float_dtype(dtype):
        return "Real"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "DateTime"
    if isinstance(dtype, pd.ArrowDtype) and "date32" in str(dtype.pyarrow_dtype):
        return "Date"
    if dtype == object:
        present = values.dropna()
        if len(present) and all(isinstance(v, dt.date) and not isinstance(v, dt.datetime) for v in present):
            return "Date"
    return "String"


def _geometry_name(frame) -> str | None:
    """The active geometry column of a GeoDataFrame, None for a plain table."""
    if isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in frame.columns:
        return frame._geometry_column_name
    return None


def _missing(v) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def _flat(frame: pd.DataFrame, timezone: str | None = None, rename: dict | None = None
          ) -> tuple[pd.DataFrame, list[str]]:
    """The cells of a CSV or a sheet and each column's kind: point geometry as ``lon``/``lat``, other
    geometry as full-precision WKT (``wkt``), zoned timestamps as ISO 8601 text with the offset in
    ``timezone`` (Excel has no zoned datetimes), dates as ``datetime.date``, text escaped against formulas.
    ``rename`` renames columns last (the Chinese headers of the camera export, lon/lat included)."""
    geom_name = _geometry_name(frame)
    df = pd.DataFrame(frame.drop(columns=geom_name) if geom_name else frame).copy()
    kinds = [column_kind(df[c]) for c in df.columns]
    for col, kind in zip(list(df.columns), kinds):
        if kind == "DateTime":
            df[col] = pd.Series(iso_texts(df[col], timezone), index=df.index, dtype=object)
        elif kind == "Date":
            df[col] = pd.Series([None if _missing(v) else v for v in df[col].tolist()], index=df.index, dtype=object)
    df = escape_frame(df)  # after the times: text now, but an ISO time never starts with a formula character
    if geom_name:
        geometry = frame.geometry
        if len(geometry) and (geometry.geom_type == "Point").all():
            df["lon"], kinds = geometry.x.round(8).to_numpy(), kinds + ["CoordX"]
            df["lat"], kinds = geometry.y.round(8).to_numpy(), kinds + ["CoordY"]
        else:  # full precision: the file reads back exactly
            df[WKT_COLUMN], kinds = geometry.to_wkt(rounding_precision=-1).to_numpy(), kinds + ["WKT"]
    if rename:
        df = df.rename(columns=rename)
    return df, kinds


def iso_texts(times: pd.Series, timezone: str | None = None) -> np.ndarray:
    """Each timestamp as ``Timestamp.isoformat`` writes it (``2026-01-02T08:09:10.250000+08:00``; no fraction
    when it is 0), zoned ones in ``timezone`` with its offset at that instant; NaT is None. Vectorised: the
    per-value ``isoformat`` was a tenth of an Excel export's time. Microsecond precision (the database's)."""
    offset = None
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        local = times.dt.tz_convert(timezone) if timezone else times
        clock = local.dt.tz_localize(None).to_numpy("datetime64[us]")
        utc = local.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
        delta = clock - utc
        delta[np.isnat(delta)] = np.timedelta64(0, "us")
        offset = (delta // np.timedelta64(1, "m")).astype(np.int64)
    else:
        clock = times.to_numpy("datetime64[us]")
    missing = np.isnat(clock)
    text = np.datetime_as_string(clock, unit="s").astype(object)
    micro = (clock - clock.astype("datetime64[s]")).astype(np.int64)
    frac = np.where(micro != 0, np.char.add(".", np.char.zfill(micro.astype(str), 6)).astype(object), "")
    text = text + frac
    if offset is not None:
        a = np.abs(offset)
        sign = np.where(offset < 0, "-", "+").astype(object)
        text = text + sign + np.char.zfill((a // 60).astype(str), 2).astype(object) + ":" + \
            np.char.zfill((a % 60).astype(str), 2).astype(object)
    text[missing] = None
    return text


def csvt_text(kinds: list[str]) -> str:
    """GDAL's ``.csvt`` line for these column kinds: ``"String","Integer",…``."""
    return ",".join(f'"{_CSVT_WORD.get(k, k)}"' for k in kinds) + "\r\n"


def sidecars(path: Path) -> list[Path]:
    """The files a CSV export writes beside ``path`` (``.csvt``, ``.prj``)."""
    return [path.with_suffix(".csvt"), path.with_suffix(".prj")]


def _write_csv(frames, path: Path, *, timezone: str | None = None, rename: dict | None = None, **_):
    kinds, crs = None, None
    with open(path, "w", encoding=CSV_WRITE["encoding"], newline="") as out:
        for frame in frames:  # batch by batch: the header and the types are the first batch's
            df, batch_kinds = _flat(frame, timezone, rename)
            df.to_csv(out, header=kinds is None, **{**CSV_WRITE, "encoding": None})
            if kinds is None:
                kinds = batch_kinds
                crs = getattr(frame, "crs", None) if any(k in ("WKT", "CoordX") for k in kinds) else None
    csvt, prj = sidecars(path)
    csvt.write_text(csvt_text(kinds or []), encoding="ascii")
    if crs is not None:
        prj.write_text(crs.to_wkt("WKT1_ESRI"), encoding="ascii")
    else:
        prj.unlink(missing_ok=True)


def sheet_name(name: str) -> str:
    """``name`` as an Excel sheet name: at most 31 characters, none of ``[]:*?/\\``, not quoted."""
    return (_SHEET_FORBIDDEN.sub("_", name).strip("'") or "layer")[:31]


def _check_cell_lengths(df: pd.DataFrame, path: Path, first_line: int = 2) -> None:
    errors = []
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col].dtype):
            for i, v in enumerate(df[col].tolist()):
                if isinstance(v, str) and len(v) > XLSX_CELL_CHARS:
                    errors.append(RowError(i + first_line, str(col), f"{len(v)} characters: more than an Excel "
                                                                     f"cell holds ({XLSX_CELL_CHARS}); export to "
                                                                     ".gpkg or .csv"))
    if errors:
        raise InvalidData(errors, source=str(path))


def check_sheet_rows(n: int, path: Path | str) -> None:
    """Refuse, before any work, a sheet of ``n`` data rows that Excel cannot open (``XLSX_MAX_ROWS``, the
    header row apart): the message says which formats hold it."""
    if n > XLSX_MAX_ROWS:
        raise InvalidData(f"{n:,} rows are more than an Excel sheet holds ({XLSX_MAX_ROWS:,} below its header): "
                          "export to .gpkg or .csv, which have no such limit", source=str(path))


def _header_detectable(df: pd.DataFrame, kinds: list[str]) -> bool:
    """GDAL's test (``OGRXLSXDataSource::DetectHeaderLine``): the first data row has a cell that is not text."""
    if not len(df):
        return False
    first = df.iloc[0].tolist()
    return any(k not in ("String", "WKT", "DateTime") and not _missing(v) for v, k in zip(first, kinds))


def _write_xlsx(frames, path: Path, *, layer: str | None = None, timezone: str | None = None,
                rename: dict | None = None, **_):
    import xlsxwriter

    # strings are written as strings: never a formula, a number or a link (XlsxWriter's write() would guess);
    # inline strings (constant_memory): openpyxl, which our importers read with, takes a shared string's
    # _x005F_ escape off itself, so a literal "_x000D_" would come back as a CR; an inline one reads exactly.
    # XlsxWriter escapes a CR and other control characters as _xHHHH_ and a literal _xHHHH_ as Excel does.
    # constant_memory also writes each row once and keeps none: batch after batch, the memory stays flat.
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                           "strings_to_formulas": False, "strings_to_urls": False})
    try:
        sheet = book.add_worksheet(sheet_name(layer or path.stem))
        bold, day = book.add_format({"bold": True}), book.add_format({"num_format": "yyyy-mm-dd"})
        r, header, fid = 0, None, False
        for frame in frames:
            df, kinds = _flat(frame, timezone, rename)
            _check_cell_lengths(df, path, first_line=r + 2)
            if r + len(df) > XLSX_MAX_ROWS:
                check_sheet_rows(r + len(df), path)
            if header is None:
                fid = bool(len(df)) and not _header_detectable(df, kinds) and FID_COLUMN not in df.columns
                header = [*df.columns, *([FID_COLUMN] if fid else [])]
                for c, name in enumerate(header):
                    sheet.write_string(0, c, str(name), bold)
                sheet.freeze_panes(1, 0)
            if fid:
                df, kinds = df.assign(**{FID_COLUMN: np.arange(r + 1, r + len(df) + 1)}), kinds + ["Integer"]
            writers = [_cell_writer(sheet, kind, day) for kind in kinds]
            columns = [_cells(df[col].tolist(), kind) for col, kind in zip(df.columns, kinds)]
            for row in zip(*columns):  # row by row: constant_memory writes each row once
                r += 1
                for c, v in enumerate(row):
                    if v is not None:
                        writers[c](r, c, v)
    except BaseException:
        book.close()
        path.unlink(missing_ok=True)  # no half-written sheet left behind
        raise
    book.close()


_NUMBER_KINDS = ("Integer", "Integer64", "Real", "CoordX", "CoordY")


def _cells(values: list, kind: str) -> list:
    """A column's cell values, every missing one (None, NA, NaN, NaT, an empty text) as None."""
    if kind in _NUMBER_KINDS or kind in ("Boolean", "Date"):
        return [None if _missing(v) else v for v in values]
    return [v if v.__class__ is str and v else (None if _missing(v) or v == "" else str(v)) for v in values]


def _cell_writer(sheet, kind: str, day):
    if kind in _NUMBER_KINDS:
        return sheet.write_number
    if kind == "Boolean":
        return lambda r, c, v: sheet.write_boolean(r, c, bool(v))
    if kind == "Date":
        return lambda r, c, v: sheet.write_datetime(r, c, v, day)
    return sheet.write_string


def _for_vector(frame):
    """Column types GDAL writes as the right field types through Arrow: ``datetime.date`` → Date,
    integers (nullable ones too) → Integer when they fit 32 bits, Integer64 otherwise."""
    import pyarrow as pa

    out = frame.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        kind = column_kind(out[col])
        if kind == "Date" and out[col].dtype == object:
            out[col] = pd.array([None if _missing(v) else v for v in out[col].tolist()],
                                dtype=pd.ArrowDtype(pa.date32()))
        elif kind == "Integer" and not pd.api.types.is_bool_dtype(out[col].dtype):
            out[col] = out[col].astype("Int32")
    return out


def _arrow_batches(frames, first):
    """The record batches of ``frames`` (GeoDataFrames, ``first`` already taken off) in one schema: the first
    batch's, a column with no value in it (Arrow's null type) as text."""
    import pyarrow as pa

    def table(frame):
        return pa.table(_for_vector(frame).to_arrow(index=False, geometry_encoding="WKB"))

    head = table(first)
    schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in head.schema])

    def batches():
        yield from head.cast(schema).to_batches()
        for frame in frames:
            yield from table(frame).cast(schema).to_batches()
    return pa.RecordBatchReader.from_batches(schema, batches())


def _write_vector(driver: str):
    # GeoPackage stores timestamps in UTC by its specification, so vector files keep them as they are.
    def write(frames, path: Path, *, layer: str | None = None, style: str | None = None,
              geometry_type: str | None = None, **_):
        import pyogrio

        frames = iter(frames)
        frame = next(frames)
        if _geometry_name(frame) is None:
            raise InvalidData(f"a {driver} file needs a geometry; this table has none: export to .csv or .xlsx",
                              source=str(path))
        kw = {"layer": layer} if layer and driver == "GPKG" else {}
        if path.exists():
            path.unlink()
        if driver == "ESRI Shapefile" or geometry_type is None:  # in one piece
            rest = list(frames)
            frame = pd.concat([frame, *rest]) if rest else frame
        try:
            if driver == "ESRI Shapefile":  # no time type in a DBF: GDAL's own text for timestamps, as before Arrow
                pyogrio.write_dataframe(frame, path, driver=driver, **kw)
            elif geometry_type is None:  # pyogrio tells GDAL the geometry type it finds
                pyogrio.write_dataframe(_for_vector(frame), path, driver=driver, use_arrow=True, **kw)
            else:  # a stream of batches through one open dataset: memory is a batch's
                name = frame.geometry.name
                pyogrio.write_arrow(_arrow_batches(frames, frame), path, driver=driver, geometry_name=name,
                                    geometry_type=geometry_type, crs=frame.crs.to_string(), **kw)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if driver == "GPKG" and style:
            write_layer_style(path, layer or path.stem, style)
    return write


#: QGIS's own table of layer styles in a GeoPackage (as QGIS creates it when a style is saved there)
LAYER_STYLES_DDL = (
    "CREATE TABLE IF NOT EXISTS layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT(256), "
    "f_table_schema TEXT(256), f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), "
    "styleQML TEXT, styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30), "
    "update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))")


def write_layer_style(path: Path, layer: str, qml: str, *, name: str | None = None, sld: str = "") -> None:
    """Store ``qml`` as the default QGIS style of ``layer`` in the GeoPackage at ``path``.

    The ``layer_styles`` table is registered in ``gpkg_contents`` as an attributes table (as QGIS does);
    QGIS applies the row whose ``useAsDefault`` is true when it opens the layer.
    """
    con = sqlite3.connect(path)
    try:
        with con:
            row = con.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer,)).fetchone()
            if row is None:
                raise InvalidData(f"no layer {layer!r} in the GeoPackage to style", source=str(path))
            con.execute(LAYER_STYLES_DDL)
            con.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, "
                        "last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', '', "
                        "strftime('%Y-%m-%dT%H:%M:%fZ','now'))")
            con.execute("UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = ?", (layer,))
            con.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                        "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui) "
                        "VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, '', '')",
                        (layer, row[0], name or layer, qml, sld, "gridwatch: the dashboards' colours"))
    finally:
        con.close()


WRITERS = {
    ".csv": _write_csv,
    ".xlsx": _write_xlsx,
    ".geojson": _write_vector("GeoJSON"),
    ".json": _write_vector("GeoJSON"),
    ".gpkg": _write_vector("GPKG"),
    ".shp": _write_vector("ESRI Shapefile"),
}
