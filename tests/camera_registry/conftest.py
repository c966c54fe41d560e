"""Helpers for the camera registry tests: a valid row, file writers, a PostGIS locator."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

def row(serial: int, **over) -> dict:
    """A valid class-1 Skynet camera near the district centre, ~11 m apart per serial step."""
    base = {"device_id": f"510304000013250{serial:05d}", "name": f"测试点位{serial}球机", "point_name": f"测试点位{serial}",
            "programme": "skynet", "point_class": "1", "ptz_type": "1", "function_types": "02;03", "height_m": "6.5",
            "azimuth": "90", "fov": "60", "vfov": "35", "range_m": "80", "install_date": "2020-05-01",
            "management_unit": "自贡市公安局大安区分局", "contact": "0813-1234567", "record_days": "90",
            "address": f"大安区测试路{serial}号", "status": "ON", "lon": f"{104.7713 + serial * 1e-4:.7f}",
            "lat": "29.3665"}
    base.update(over)
    return base


def write_csv(path: Path, rows: list[dict], *, encoding: str = "utf-8") -> Path:
    """Rows (dicts with the same keys, in order) as a CSV with those keys as the header."""
    header = list(rows[0])
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow([r[k] for k in header])
    return path


@pytest.fixture
def csv_file(tmp_path):
    """``csv_file(rows, name="cams.csv")`` writes rows (dicts with the same keys) to a CSV."""
    def make(rows, name="cams.csv", encoding="utf-8"):
        return write_csv(tmp_path / name, rows, encoding=encoding)
    return make


def postgis_locate(session):
    """An independent locator: PostGIS ST_Covers of the stored grids and communities."""
    def locate(lon, lat):
        rows = session.execute(text(
            "SELECT v.i, (SELECT g.code FROM grids g WHERE ST_Covers(g.geom, p) ORDER BY g.code LIMIT 1), "
            "(SELECT c.code FROM communities c WHERE ST_Covers(c.geom, p) ORDER BY c.code LIMIT 1) "
            "FROM unnest(CAST(:lon AS float8[]), CAST(:lat AS float8[])) WITH ORDINALITY AS v(x, y, i), "
            "LATERAL ST_SetSRID(ST_MakePoint(v.x, v.y), 4326) AS p ORDER BY v.i"),
            {"lon": [float(v) for v in lon], "lat": [float(v) for v in lat]}).all()
        return (np.array([r[1] for r in rows], dtype=object), np.array([r[2] for r in rows], dtype=object))
    return locate


def count(session, table: str, where: str = "true", **params) -> int:
    return session.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params).scalar()
