"""Stored layers read as GeoDataFrames (EPSG:4326): the one place that knows each layer's SQL.

Used by ``gridwatch export``, the map pages and the analyses. Coded layers carry ``code`` and their
parents' codes (``street_code``, ``community_code``, ``grid_code``).
"""
from __future__ import annotations

import geopandas as gpd
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import NotFound

LAYER_SQL: dict[str, str] = {
    "streets": "SELECT code, name, kind, geom FROM streets ORDER BY code",
    "communities": "SELECT code, name, street_code, urban, households, population, geom FROM communities ORDER BY code",
    "grids": ("SELECT g.code, g.name, g.community_code, c.street_code, g.households, g.population, g.geom "
              "FROM grids g JOIN communities c ON c.code = g.community_code ORDER BY g.code"),
    "cameras": ("SELECT device_id AS code, device_id, name, point_name, programme, point_class, ptz_type, "
                "function_types, height_m, azimuth, fov, vfov, range_m, install_date, management_unit, contact, "
                "record_days, address, status, source_crs, grid_code, community_code, street_code, version, geom "
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


def read_layer(session: Session, name: str, *, where: str | None = None, params: dict | None = None
               ) -> gpd.GeoDataFrame:
    """Layer ``name`` as a GeoDataFrame in EPSG:4326, optionally filtered by a SQL ``where`` on its rows."""
    if name not in LAYER_SQL:
        raise NotFound(f"no layer {name!r}; layers: {', '.join(LAYER_SQL)}")
    sql = LAYER_SQL[name]
    if where:
        sql = f"SELECT * FROM ({sql}) AS layer WHERE {where}"
    conn = session.connection()
    return gpd.read_postgis(text(sql), conn, geom_col="geom", crs=4326, params=params or {})


def district_bounds(session: Session) -> tuple[float, float, float, float] | None:
    row = session.execute(text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                               "FROM (SELECT ST_Extent(geom) AS e FROM streets) s")).one()
    return None if row[0] is None else tuple(float(v) for v in row)
