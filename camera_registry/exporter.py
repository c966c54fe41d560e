"""Camera export (摄像机导出) in every format the importer reads, round-trip exact.

Columns are the importable fields (:data:`camera_registry.schema.FIELDS`) plus the derived codes and the
lifecycle (``DERIVED``, ``EXPORT_ONLY``: an import recognises and ignores them, so a planned camera exported
and imported again stays planned); positions are WGS-84 (EPSG:4326): lon/lat columns in CSV and Excel,
point geometries in GeoJSON, GeoPackage and Shapefile. Shapefile field names are limited to 10
bytes, so they use the short names of the schema (``pt_class``, ``mgmt_unit``, …), which the
importer maps back.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import geopandas as gpd
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from camera_registry.schema import COLUMNS, DATE_COLUMNS, DERIVED, EXPORT_ONLY, FIELDS, INT_COLUMNS, POSITION
from gis.errors import InvalidData
from gis.io import wkb_frame, write_frame

#: the columns beside the importable fields, with their (Chinese header, Shapefile name)
NOT_IMPORTED = DERIVED | EXPORT_ONLY


def cameras_frame(session: Session, where: str | None = None, params: dict | None = None, *,
                  device_ids: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """The stored cameras as a GeoDataFrame (EPSG:4326) with the export columns, by ``device_id``.

    ``device_ids`` keeps only those cameras (a page's selection); with ``where`` both must hold.
    """
    conditions, params = ([where] if where else []), dict(params or {})
    if device_ids is not None:
        conditions.append("device_id = ANY(:_device_ids)")
        params["_device_ids"] = list(device_ids)
    sql = (f"SELECT {', '.join(COLUMNS)}, version, geom FROM cameras"
           + (f" WHERE {' AND '.join(f'({c})' for c in conditions)}" if conditions else "") + " ORDER BY device_id")
    return wkb_frame(pd.read_sql(text(sql), session.connection(), params=params), crs=4326)


def _for_file(frame: gpd.GeoDataFrame, suffix: str) -> gpd.GeoDataFrame:
    """Typed columns every writer keeps: integers as nullable integers (Integer in GDAL, ``1`` not ``1.0`` in
    CSV), dates as dates (a Date field, a date cell); a Shapefile keeps ISO text dates as before."""
    out = frame.drop(columns=["version"]).copy()
    for name in DATE_COLUMNS:
        out[name] = pd.Series([None if d is None or pd.isna(d) else (d.isoformat() if suffix == ".shp" else d)
                               for d in out[name]], index=out.index, dtype=object)
    for name in INT_COLUMNS:
        out[name] = out[name].astype("Int32")
    return out.rename_geometry("geometry")


def export_cameras(session: Session, path: str | Path, *, chinese_headers: bool = False,
                   where: str | None = None, params: dict | None = None,
                   device_ids: Sequence[str] | None = None, style: str | None = None) -> int:
    """Write the registry to ``path`` (.csv, .xlsx, .geojson, .gpkg, .shp by suffix); returns the row count.

    Parameters
    ----------
    chinese_headers : bool
        Use the Chinese headers (设备编码, 设备名称, 经度, 纬度, …) of :data:`~camera_registry.schema.FIELDS`.
        Not possible for Shapefiles (10-byte field names): use GeoPackage or Excel instead.
    where, params : str, dict, optional
        An SQL filter on the ``cameras`` table (for the CLI's filtered exports).
    device_ids : sequence of str, optional
        Only these cameras (the selection of the list page, ``/cameras/export.<fmt>``); an empty sequence
        writes the header (or an empty layer) alone.
    style : str, optional
        The QGIS style (QML) a GeoPackage carries (``layers.qgis_styles``: the app passes the dashboards' one).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if chinese_headers and suffix == ".shp":
        raise InvalidData("Shapefile field names are limited to 10 bytes, too short for the Chinese headers; "
                          "export to .gpkg, .xlsx or .csv instead", source=str(path))
    frame = _for_file(cameras_frame(session, where, params, device_ids=device_ids), suffix)
    names: dict[str, str] = {}
    if suffix == ".shp":
        names = {f.name: f.shp_name for f in FIELDS} | {k: v[1] for k, v in NOT_IMPORTED.items()}
    elif chinese_headers:
        names = {f.name: f.zh for f in FIELDS} | {k: v[0] for k, v in NOT_IMPORTED.items()}
    frame = frame.rename(columns=names)
    position = POSITION if chinese_headers and suffix in (".csv", ".xlsx") else None
    write_frame(frame, path, layer="cameras", style=style, rename=position)
    return len(frame)
