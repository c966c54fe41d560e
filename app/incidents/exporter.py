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

from pathlib import Path

import geopandas as gpd
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.incidents.importer import ALIASES, COLUMNS
from gis.io import write_frame

#: the database column behind each export column named differently (the inverse of the importer's aliases)
_SOURCE = {new: old for old, new in ALIASES.items()}
DERIVED = ("code", "grid_code", "community_code", "street_code")


def incidents_frame(session: Session) -> gpd.GeoDataFrame:
    """Every stored incident with the export columns, oldest id first (EPSG:4326)."""
    cols = ", ".join(f"i.{_SOURCE.get(c, c)} AS {c}" for c in COLUMNS)
    sql = (f"SELECT {cols}, i.id AS code, i.grid_code, i.community_code, c.street_code, i.geom FROM incidents i "
           "LEFT JOIN communities c ON c.code = i.community_code ORDER BY i.id")
    return gpd.read_postgis(text(sql), session.connection(), geom_col="geom", crs=4326)


def export_incidents(session: Session, path: str | Path, *, timezone: str) -> int:
    """Write every incident to ``path`` (.csv, .xlsx, .geojson, .gpkg by suffix); returns the row count.

    Parameters
    ----------
    timezone : str
        IANA zone (the district's) in which CSV and Excel show the times, offset included.
    """
    from app.layers_db import layer_style

    frame = incidents_frame(session).rename_geometry("geometry")
    style = layer_style("incidents") if Path(path).suffix.lower() == ".gpkg" else None
    write_frame(frame, path, layer="incidents", timezone=timezone, style=style)
    return len(frame)
