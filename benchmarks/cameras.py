"""Benchmark: the camera import of the demo (471 rows: first load, idempotent re-load, dry run) and the
spacing check (cKDTree in EPSG:4544, as the importer does) versus a PostGIS ST_DWithin self-join, on
the demo cameras and on N synthetic cameras.

    .venv/bin/python benchmarks/cameras.py [--n 20000]

Uses DATABASE_URL when set, else a throw-away private cluster. Prints seconds and ratios side by side.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_engine  # noqa: E402  (benchmarks/scratch.py)


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _kdtree_pairs(lon, lat, d):
    from scipy.spatial import cKDTree

    from gis.crs import metric_transformer

    x, y = metric_transformer().transform(lon, lat)
    return len(cKDTree(np.column_stack([x, y])).query_pairs(d))


def _postgis_pairs(session, lon, lat, d):
    """The alternative done fairly: a temporary table in EPSG:4544 with a GiST index, then the self-join."""
    session.execute(text("DROP TABLE IF EXISTS bench_pts"))
    session.execute(text(
        "CREATE TEMP TABLE bench_pts AS SELECT i, ST_Transform(ST_SetSRID(ST_MakePoint(x, y), 4326), 4544) AS g "
        "FROM unnest(CAST(:x AS float8[]), CAST(:y AS float8[])) WITH ORDINALITY AS v(x, y, i)"),
        {"x": list(map(float, lon)), "y": list(map(float, lat))})
    session.execute(text("CREATE INDEX ON bench_pts USING gist (g)"))
    session.execute(text("ANALYZE bench_pts"))
    return session.execute(text("SELECT count(*) FROM bench_pts a JOIN bench_pts b ON a.i < b.i "
                                "AND ST_DWithin(a.g, b.g, :d)"), {"d": d}).scalar()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    args = parser.parse_args()
    from app.config import Settings
    from app.db import Database
    from app.demo import load_boundaries
    from app.loaders import registry_options
    from camera_registry.importer import import_cameras

    settings = Settings()  # a benchmark is a composition root of its own
    with scratch_engine() as engine:
        db = Database(engine)
        path = ROOT / "data" / "demo" / "cameras.csv"
        with db.session() as s:
            load_boundaries(s, ROOT / "data" / "demo")
        with db.session() as s:
            first, rep = _timed(lambda: import_cameras(s, path, **registry_options(s, settings)))
        with db.session() as s:
            again, rep2 = _timed(lambda: import_cameras(s, path, **registry_options(s, settings)))
        with db.session() as s:
            dry, _ = _timed(lambda: import_cameras(s, path, dry_run=True, **registry_options(s, settings)))
        print(f"demo import ({rep.rows} rows): first {first:.2f} s (added {rep.added}), "
              f"re-import {again:.2f} s (unchanged {rep2.unchanged}), dry run {dry:.2f} s")
        rng = np.random.default_rng(510304)
        with db.session() as s:
            lon, lat = map(np.array, zip(*s.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM cameras")).all()))
            for label, x, y in (("demo", lon, lat),
                                (f"synthetic {args.n}", rng.uniform(104.70, 104.85, args.n),
                                 rng.uniform(29.30, 29.42, args.n))):
                tk, nk = _timed(lambda: _kdtree_pairs(x, y, 2.0))
                tp, npg = _timed(lambda: _postgis_pairs(s, x, y, 2.0))
                assert nk == npg, (nk, npg)
                print(f"spacing check, {label} ({len(x)} points, 2 m): cKDTree {tk * 1000:.1f} ms, "
                      f"PostGIS (temp table + GiST + ST_DWithin) {tp * 1000:.1f} ms, ratio {tp / tk:.1f}x, pairs {nk}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
