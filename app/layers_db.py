"""Stored layers read as GeoDataFrames (EPSG:4326): the one place that knows each layer's SQL.

Used by ``gridwatch export``, the map pages and the analyses. Coded layers carry ``code`` and their
parents' codes (``street_code``, ``community_code``, ``grid_code``).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import geopandas as gpd
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import driver_cursor
from camera_registry.schema import LAYER_COLUMNS as CAMERA_COLUMNS
from gis.errors import NotFound
from gis.io import wkb_frame

LAYER_SQL: dict[str, str] = {
    "streets": "SELECT code, name, kind, geom FROM streets ORDER BY code",
    "communities": "SELECT code, name, street_code, urban, households, population, geom FROM communities ORDER BY code",
    "grids": ("SELECT g.code, g.name, g.community_code, c.street_code, g.households, g.population, g.geom "
              "FROM grids g JOIN communities c ON c.code = g.community_code ORDER BY g.code"),
    # the registry's columns (camera_registry.schema, one definition) without the contact's phone number
    "cameras": (f"SELECT device_id AS code, {', '.join(CAMERA_COLUMNS)}, version, geom "
                "FROM cameras WHERE lifecycle = 'active' ORDER BY device_id"),
    # cameras adopted from the planner's proposals (0009_console): never part of the coverage of what is built
    "planned-cameras": ("SELECT device_id AS code, device_id, name, programme, azimuth, fov, range_m, height_m, "
                        "address, grid_code, community_code, street_code, version, updated_at, updated_by, geom "
                        "FROM cameras WHERE lifecycle = 'planned' ORDER BY device_id"),
    "incidents": ("SELECT i.id AS code, i.external_id, i.category_code, i.source, i.description, i.address, "
                  "i.priority, i.state, i.reported_at, i.deadline, i.closed_at, i.grid_code, i.community_code, "
                  "c.street_code, i.assignee_id, i.geom FROM incidents i "
                  "LEFT JOIN communities c ON c.code = i.community_code ORDER BY i.id"),
    "members": ("SELECT m.id AS code, m.external_id, m.name, m.phone, r.grid_code, g.community_code, "
                "c.street_code, string_agg(r.role, ';' ORDER BY r.role) AS roles, ST_PointOnSurface(g.geom) AS geom "
                "FROM members m JOIN member_roles r ON r.member_id = m.id JOIN grids g ON g.code = r.grid_code "
                "JOIN communities c ON c.code = g.community_code "
                "GROUP BY m.id, r.grid_code, g.community_code, c.street_code, g.geom ORDER BY m.id, r.grid_code"),
    "service-centres": ("SELECT s.id AS code, s.name, s.community_code, c.street_code, s.geom FROM service_centres s "
                        "LEFT JOIN communities c ON c.code = s.community_code ORDER BY s.id"),
    "renovation-sites": ("SELECT r.id AS code, r.name, r.community_code, c.street_code, r.households, r.geom "
                         "FROM renovation_sites r LEFT JOIN communities c ON c.code = r.community_code ORDER BY r.id"),
    "roads": "SELECT id AS code, name, road_class, geom FROM roads ORDER BY id",
    "buildings": "SELECT id AS code, height_m, geom FROM buildings ORDER BY id",
}


def read_layer(session: Session, name: str, *, where: str | None = None, params: dict | None = None,
               typed: bool = False, columns: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """Layer ``name`` as a GeoDataFrame in EPSG:4326, optionally filtered by a SQL ``where`` on its rows.

    ``columns``: only these of the layer's columns (with ``code`` and the geometry): what a caller that
    needs a few of them does not pay for the rest (47,100 cameras: 0.26 s against 0.55 s for all 35).

    ``typed`` (for files): integer columns as nullable integers (``Int64``: a NULL does not turn them into
    floats, which GDAL would write as Real) and dates as ``datetime.date``, read from the result's column types.
    """
    if name not in LAYER_SQL:
        raise NotFound(f"no layer {name!r}; layers: {', '.join(LAYER_SQL)}")
    sql = LAYER_SQL[name]
    if columns is not None or where:
        picked = "*"
        if columns is not None:
            bad = [c for c in columns if not _IDENTIFIER.fullmatch(c) or c in ("code", "geom")]
            if bad:
                raise ValueError(f"columns: {bad!r} are not plain column names (code and geom come anyway)")
            picked = ", ".join(["code", *columns, "geom"])
        sql = f"SELECT {picked} FROM ({sql}) AS layer" + (f" WHERE {where}" if where else "")
    conn = session.connection()
    frame = read_postgis(conn, text(sql), params)
    return _typed(conn, sql, params or {}, frame) if typed else frame


_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


def read_postgis(conn, stmt, params: dict | None = None, *, crs=4326, geom_col: str = "geom") -> gpd.GeoDataFrame:
    """The rows of ``stmt`` (text or a select) on connection ``conn`` as a GeoDataFrame: ``geopandas.read_postgis``
    with the geometries decoded in one vectorised call (``gis.io.wkb_frame``); ``crs`` None takes the SRID."""
    return wkb_frame(pd.read_sql(stmt, conn, params=params or {}), geom_col, crs)


def binary_rows(conn, sql: str, params: dict | None = None) -> tuple[list[str], list[tuple]]:
    """The column names and rows of ``sql`` (text with SQLAlchemy's ``:name`` parameters, compiled to the
    driver's placeholders with any ``%`` escaped), read in binary on ``conn``'s transaction. Geometries come
    as WKB bytes, not the hex text of a text-format read."""
    stmt = text(sql).compile(dialect=conn.dialect)
    cur = driver_cursor(conn, binary=True)
    try:
        cur.execute(stmt.string, stmt.construct_params(params or {}))
        return [d.name for d in cur.description], cur.fetchall()
    finally:
        cur.close()


def binary_frame(conn, sql: str, params: dict | None = None) -> pd.DataFrame:
    """The rows of ``sql`` on connection ``conn`` as ``pandas.read_sql`` makes them (same values, dtypes and
    columns, an empty result included), read by :func:`binary_rows`. At 50,000 incidents with the export's
    columns: 0.28–0.39 s against 0.41–0.49 s, most of the difference in parsing text. Not for geometry
    columns (WKB bytes where ``read_sql`` gives hex text); the export reads coordinates."""
    columns, rows = binary_rows(conn, sql, params)
    return pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)


def copy_table(conn, sql: str, params: dict | None, types: dict):
    """The rows of ``sql`` (text with SQLAlchemy's ``:name`` parameters) as a ``pyarrow.Table`` whose columns are
    ``types`` (name → Arrow type, every column of the query, in its order), read with ``COPY (sql) TO STDOUT`` as
    CSV on ``conn``'s transaction and parsed by Arrow's C reader, without a Python object per value: at 50,000
    incidents with the export's columns 0.22–0.34 s against 0.48–0.62 s for :func:`binary_frame`. Each value
    is typed as given, never guessed (a phone number stays text), and NULL stays apart from the empty text
    (COPY quotes an empty text and leaves a NULL unquoted; only that unquoted nothing is NULL, not Arrow's
    default spellings ``NULL``, ``NaN``, ``N/A``, …, which are text here); text with commas, quotes and line breaks comes back
    as it was. Floats come back exact (PostgreSQL writes the shortest text that reads back to the same double)."""
    import io

    import psycopg
    import pyarrow.csv as pcsv

    stmt = text(sql).compile(dialect=conn.dialect)
    raw = conn.connection.dbapi_connection
    # the parameters merged here, always: psycopg merges them for COPY only when there are some, and the
    # compiled SQL has every % doubled for the merge
    query = psycopg.ClientCursor(raw).mogrify(stmt.string, stmt.construct_params(params or {}))
    cur = driver_cursor(conn)
    buf = bytearray()
    try:
        # doubles as their shortest exact text whatever a role's extra_float_digits (≤ 0 would round them)
        cur.execute("SELECT set_config('extra_float_digits', '3', true)")
        # UTF-8 whatever the connection's client_encoding (PGCLIENTENCODING=GBK would hand Arrow GBK bytes)
        with cur.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')") as copy:
            for chunk in copy:
                buf += chunk
    finally:
        cur.close()
    # one block for the whole batch: a quoted field with line breaks may not straddle two blocks; a line with
    # nothing on it is a row (a one-column NULL), not a blank to skip
    table = pcsv.read_csv(io.BytesIO(buf), read_options=pcsv.ReadOptions(block_size=max(len(buf) + 1, 1 << 20)),
                          parse_options=pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
                          convert_options=pcsv.ConvertOptions(column_types=types, null_values=[""],
                                                              strings_can_be_null=True,
                                                              quoted_strings_can_be_null=False))
    if table.column_names != list(types):
        raise ValueError(f"copy_table: the query's columns {table.column_names} are not those typed {list(types)}")
    return table


#: PostgreSQL type OIDs of the integer types (int8, int2, int4)
_INTEGER_OIDS = {20, 21, 23}


def _typed(conn, sql: str, params: dict, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` with its integer columns (by the query's own result types) as ``Int64``."""
    result = conn.execute(text(f"SELECT * FROM ({sql}) AS layer LIMIT 0"), params)
    oids = {d.name: d.type_code for d in result.cursor.description}
    result.close()
    for col, oid in oids.items():
        if oid in _INTEGER_OIDS and col in frame.columns and not pd.api.types.is_integer_dtype(frame[col].dtype):
            frame[col] = pd.array([None if pd.isna(v) else int(v) for v in frame[col]], dtype="Int64")
    return frame


def layer_style(name: str, lang: str = "zh") -> str | None:
    """The QGIS style (QML) of layer ``name`` as the dashboards draw it, category labels in ``lang``; None for
    a layer the dashboards draw plainly. For every GeoPackage the exports write (``layers.qgis_styles``)."""
    from app.labels import names
    from layers import qgis_styles

    return qgis_styles.style_for(name, names=lambda kind: names(kind, lang))


def district_bounds(session: Session) -> tuple[float, float, float, float] | None:
    row = session.execute(text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                               "FROM (SELECT ST_Extent(geom) AS e FROM streets) s")).one()
    return None if row[0] is None else tuple(float(v) for v in row)
