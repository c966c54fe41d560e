"""Incident loading for ``load-demo`` (to be replaced by the incident importer)."""
from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session


def load_incidents(session: Session, path: Path) -> int:
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["lon"], r["lat"] = float(r["lon"]), float(r["lat"])
        r["closed_at"] = r.get("closed_at") or None
    session.execute(text(
        "INSERT INTO incidents (external_id, category_code, source, description, address, priority, reporter_name, "
        "reporter_phone, state, reported_at, closed_at, geom) VALUES (:external_id, :category, :source, "
        ":description, :address, :priority, :reporter_name, :reporter_phone, :state, :reported_at, :closed_at, "
        "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) ON CONFLICT (external_id) DO NOTHING"), rows)
    session.execute(text(
        "UPDATE incidents i SET grid_code = g.code, community_code = g.community_code "
        "FROM (SELECT DISTINCT ON (i2.id) i2.id, g2.code, g2.community_code FROM incidents i2 "
        "JOIN grids g2 ON ST_Covers(g2.geom, i2.geom) WHERE i2.grid_code IS NULL ORDER BY i2.id, g2.code) g "
        "WHERE g.id = i.id"))
    return len(rows)
