"""Benchmark: storing one incident (report_incident, geocoded by the in-memory GridIndex) versus the
same insert geocoded by a PostGIS ST_Covers lookup per insert; and the demo's bulk import.

    .venv/bin/python benchmarks/incidents.py [--n 300]

Uses DATABASE_URL when set, else a throw-away private cluster. Prints ms per report and the ratio.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_engine  # noqa: E402  (benchmarks/scratch.py)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    from app.config import Settings
    from app.db import Database
    from app.demo import load_demo
    from app.incidents.service import report_incident

    settings = Settings()  # a benchmark is a composition root of its own

    with scratch_engine() as engine:
        db = Database(engine)
        t = time.perf_counter()
        with db.session() as s:
            counts = load_demo(s, ROOT / "data", settings=settings)
        print(f"load-demo (incl. {counts['incidents']} incidents through the importer): "
              f"{time.perf_counter() - t:.2f} s")
        with db.session() as s:
            s.execute(text("DELETE FROM incidents WHERE external_id LIKE 'DA%'"))
            t = time.perf_counter()
            from app.incidents.importer import import_incidents

            rep = import_incidents(s, ROOT / "data" / "demo" / "incidents.csv", actor="bench",
                                   settings=settings)
            print(f"incidents import of data/demo/incidents.csv: {rep.inserted} rows in "
                  f"{time.perf_counter() - t:.2f} s")
            pts = s.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids) g")).all()
        rng = np.random.default_rng(1)
        picks = [pts[i] for i in rng.integers(0, len(pts), args.n)]
        with db.session() as s:   # warm the grid index once, as a running server has it
            report_incident(s, category="other", source="patrol", description="warm", lon=picks[0][0],
                            lat=picks[0][1], actor="bench", settings=settings)
            s.rollback()
        with db.Session() as s:
            t = time.perf_counter()
            for x, y in picks:
                report_incident(s, category="other", source="patrol", description="bench", lon=x, lat=y,
                                actor="bench", settings=settings)
                s.commit()
            ours = (time.perf_counter() - t) / args.n * 1000
        with db.Session() as s:
            t = time.perf_counter()
            for x, y in picks:
                s.execute(text(
                    "WITH g AS (SELECT code, community_code FROM grids WHERE ST_Covers(geom, "
                    "ST_SetSRID(ST_MakePoint(:x, :y), 4326)) ORDER BY code LIMIT 1) "
                    "INSERT INTO incidents (category_code, source, description, state, priority, reported_at, "
                    "geom, grid_code, community_code) SELECT 'other', 'patrol', 'bench-sql', 'reported', 'normal', "
                    ":at, ST_SetSRID(ST_MakePoint(:x, :y), 4326), g.code, g.community_code FROM g"),
                    {"x": x, "y": y, "at": datetime.now(timezone.utc)})
                s.commit()
            sql = (time.perf_counter() - t) / args.n * 1000
        from app.geocoding import locate_codes

        with db.Session() as s:
            t = time.perf_counter()
            for x, y in picks:
                locate_codes(s, [x], [y])
            geo = (time.perf_counter() - t) / args.n * 1000
            t = time.perf_counter()
            for x, y in picks:
                s.execute(text("SELECT code, community_code FROM grids WHERE ST_Covers(geom, "
                               "ST_SetSRID(ST_MakePoint(:x, :y), 4326)) ORDER BY code LIMIT 1"), {"x": x, "y": y}).all()
            geo_sql = (time.perf_counter() - t) / args.n * 1000
            t = time.perf_counter()
            xs, ys = np.array([p[0] for p in picks]), np.array([p[1] for p in picks])
            locate_codes(s, xs, ys)
            geo_bulk = (time.perf_counter() - t) / args.n * 1000
        print(f"geocode one point: locate_codes {geo:.2f} ms vs ST_Covers query {geo_sql:.2f} ms "
              f"(ratio {geo / geo_sql:.2f}); locate_codes on all {args.n} at once: {geo_bulk:.4f} ms per point")
        print(f"report_incident (GridIndex geocode + duplicate check + event), {args.n} reports: {ours:.2f} ms each")
        print(f"bare INSERT with PostGIS ST_Covers lookup (no duplicate check, no event):      {sql:.2f} ms each")
        print(f"ratio report_incident / ST_Covers insert: {ours / sql:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
