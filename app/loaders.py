"""Camera loading for ``load-demo`` (to be replaced by the camera_registry importer)."""
from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session


def load_cameras(session: Session, path: Path) -> int:
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        for key in ("point_class", "ptz_type", "record_days"):
            r[key] = int(r[key]) if r.get(key) else None
        for key in ("height_m", "azimuth", "fov", "vfov", "range_m", "lon", "lat"):
            r[key] = float(r[key]) if r.get(key) else None
        r["install_date"] = r.get("install_date") or None
    session.execute(text(
        "INSERT INTO cameras (device_id, name, point_name, programme, point_class, ptz_type, function_types, "
        "height_m, azimuth, fov, vfov, range_m, install_date, management_unit, contact, record_days, address, "
        "status, source_crs, version, geom) VALUES (:device_id, :name, :point_name, :programme, :point_class, "
        ":ptz_type, :function_types, :height_m, :azimuth, :fov, :vfov, :range_m, :install_date, :management_unit, "
        ":contact, :record_days, :address, :status, 'wgs84', 1, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
        "ON CONFLICT (device_id) DO NOTHING"), rows)
    session.execute(text(
        "UPDATE cameras c SET grid_code = g.code, community_code = g.community_code, street_code = left(g.code, 9) "
        "FROM (SELECT DISTINCT ON (c2.device_id) c2.device_id, g2.code, g2.community_code FROM cameras c2 "
        "JOIN grids g2 ON ST_Covers(g2.geom, c2.geom) ORDER BY c2.device_id, g2.code) g "
        "WHERE g.device_id = c.device_id"))
    return len(rows)
