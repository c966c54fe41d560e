"""Incident export (事件导出) with the importer's columns, so ``gridwatch incidents import`` reads it back.

The columns are :data:`app.incidents.importer.COLUMNS` (``category`` is the database's
``category_code``) plus values the import derives again and ignores: ``code`` (the database id),
``grid_code``, ``community_code`` and ``street_code``. Positions are WGS-84 (EPSG:4326): lon/lat in
CSV and Excel, point geometries in GeoJSON and GeoPackage. Times are zoned: CSV and Excel show them in
the district's zone with their offset, GeoPackage keeps UTC (DateTime fields). A GeoPackage carries the
dashboards' style (incidents coloured by state, ``layers.qgis_styles``); a CSV its ``.csvt``.

An incident reported live (web, Open311) has no ``external_id``, the import's key: it is exported with
an empty one, and an import refuses that row by name rather than invent a key that would not match on
the next import.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.incidents.importer import ALIASES, COLUMNS, TIMES
from app.layers_db import copy_table
from gis.io import write_frame, write_frames

#: the database column behind each export column named differently (the inverse of the importer's aliases)
_SOURCE = {new: old for old, new in ALIASES.items()}
DERIVED = ("code", "grid_code", "community_code", "street_code")


#: incidents read and written per batch: the export's memory is about one batch's, whatever the table's size
BATCH_ROWS = 50_000
#: formats written batch by batch (a shapefile is written in one piece: GDAL rewrites its DBF header anyway)
STREAMED = (".csv", ".xlsx", ".geojson", ".json", ".gpkg")


def _select(where: str = "TRUE", limit: str = "") -> str:
    """The export's query: its columns (times as whole microseconds since 1970, UTC: exact, and no text
    format to parse), ``code``, the derived codes and the coordinates ``gw_x``/``gw_y``."""
    cols = ", ".join(f"CAST(extract(epoch FROM i.{c}) * 1000000 AS bigint) AS {c}" if c in TIMES
                     else f"i.{_SOURCE.get(c, c)} AS {c}" for c in COLUMNS)
    return (f"SELECT {cols}, i.id AS code, i.grid_code, i.community_code, c.street_code, ST_X(i.geom) AS gw_x, "
            f"ST_Y(i.geom) AS gw_y FROM incidents i "
            f"LEFT JOIN communities c ON c.code = i.community_code WHERE {where} ORDER BY i.id {limit}")


def _types() -> dict:
    """The Arrow type of each column of :func:`_select`, in its order."""
    import pyarrow as pa

    cols = {c: pa.int64() if c in TIMES else pa.string() for c in COLUMNS}
    return {**cols, "code": pa.int64(), **{c: pa.string() for c in DERIVED[1:]}, "gw_x": pa.float64(),
            "gw_y": pa.float64()}


def _read(session: Session, sql: str, params: dict | None = None) -> gpd.GeoDataFrame:
    """The rows of ``sql`` (:func:`_select`) as a layer of points (EPSG:4326) with the dtypes of every batch the
    same, whatever its values: text as text (a column with no value in this batch too), times as UTC
    timestamps, the code (id) a 64-bit integer. Read by ``COPY`` into Arrow (``app.layers_db.copy_table``:
    the rows parsed in C, not a Python object per value; at 1.6M incidents a third of the export's time went
    to making them), the points built from their coordinates in one vectorised call (the stored doubles,
    exact)."""
    import pyarrow as pa

    table = copy_table(session.connection(), sql, params, _types())
    for col in TIMES:
        at = table.schema.get_field_index(col)
        table = table.set_column(at, col, table.column(at).cast(pa.timestamp("us", tz="UTC")))
    frame = table.to_pandas()
    frame["code"] = frame["code"].astype("Int64")
    points = gpd.points_from_xy(frame.pop("gw_x").to_numpy(), frame.pop("gw_y").to_numpy(), crs=4326)
    return gpd.GeoDataFrame(frame, geometry=points)


def incidents_frame(session: Session) -> gpd.GeoDataFrame:
    """Every stored incident with the export columns, oldest id first (EPSG:4326)."""
    return _read(session, _select())


def incident_batches(session: Session, *, batch_rows: int = BATCH_ROWS, upto: int | None = None,
                     progress: Callable[[int], None] | None = None) -> Iterator[gpd.GeoDataFrame]:
    """The incidents with the export columns in batches of ``batch_rows``, by id (keyset: each batch one
    indexed query, nothing held open between them), up to id ``upto`` (the newest when the export began:
    a report arriving meanwhile is in the next export, not half in this one). At least one batch (an
    empty one when there is nothing), so a file always gets its columns. ``progress(n)`` after each."""
    last, first = 0, True
    while True:
        frame = _read(session, _select("i.id > :last AND i.id <= :upto", "LIMIT :n"),
                      {"last": last, "upto": upto if upto is not None else 2**63 - 1, "n": batch_rows})
        if len(frame) or first:
            yield frame
        if progress:
            progress(len(frame))
        if len(frame) < batch_rows:
            return
        last, first = int(frame["code"].iloc[-1]), False


def export_incidents(session: Session, path: str | Path, *, timezone: str, batch_rows: int = BATCH_ROWS,
                     progress: Callable[[int, int], None] | None = None) -> int:
    """Write every incident to ``path`` (.csv, .xlsx, .geojson, .gpkg by suffix); returns the row count.

    Written batch by batch (:func:`incident_batches`), so memory stays about one batch's at any size. An
    Excel file with more incidents than a sheet holds is refused before anything is read (a clear error,
    no file).

    Parameters
    ----------
    timezone : str
        IANA zone (the district's) in which CSV and Excel show the times, offset included.
    progress : callable, optional
        ``progress(total, done)`` once before the first batch (done 0) and after each one (the CLI's bar).
    """
    from app.layers_db import layer_style
    from gis.writers import check_sheet_rows

    path = Path(path)
    suffix = path.suffix.lower()
    total, upto = session.execute(text("SELECT count(*), max(id) FROM incidents")).one()
    if suffix == ".xlsx":
        check_sheet_rows(total, path)
    style = layer_style("incidents") if suffix == ".gpkg" else None
    done = 0
    if progress:
        progress(total, 0)

    def step(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(total, done)

    if suffix not in STREAMED:
        write_frame(incidents_frame(session), path, layer="incidents", timezone=timezone, style=style)
        step(total)
        return total
    write_frames(incident_batches(session, batch_rows=batch_rows, upto=upto or 0, progress=step), path,
                 layer="incidents", timezone=timezone, style=style, geometry_type="Point")
    return done
