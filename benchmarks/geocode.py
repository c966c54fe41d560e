"""Geocoding throughput: GridIndex vs geopandas.sjoin vs a PostGIS ST_Covers join, on the same data.

    .venv/bin/python benchmarks/geocode.py [--points 1000000] [--postgis-sample 200000]

Two layers: the demo grids (data/demo/grids.geojson) and a synthetic layer of 10,000 grids (a
jittered 100 x 100 lattice over the district). Points are uniform over each layer's extent. Every
method's answers are checked to be identical (smallest code where grids share a boundary). PostGIS
runs in a private throw-away cluster on a sample of the points (said so in the output).

GridIndex and sjoin are both timed warm, as the median of ``--repeats`` runs: GridIndex after one
untimed call, sjoin with its points frame prebuilt and its spatial index already built by the
answer-checking run. GridIndex is timed with its default threads and with one thread.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_engine  # noqa: E402  (benchmarks/scratch.py)

from gis.geocode import GridIndex, default_workers  # noqa: E402


def synthetic_layer(n_side: int = 100, seed: int = 0) -> gpd.GeoDataFrame:
    """n_side² quadrilateral grids tiling the district box, shared jittered vertices, 2 points per edge."""
    rng = np.random.default_rng(seed)
    w, s, e, n = 104.55, 29.20, 105.00, 29.55
    xs = np.linspace(w, e, n_side + 1)
    ys = np.linspace(s, n, n_side + 1)
    vx, vy = np.meshgrid(xs, ys, indexing="ij")
    dx, dy = (e - w) / n_side, (n - s) / n_side
    vx[1:-1, 1:-1] += rng.uniform(-0.3, 0.3, (n_side - 1, n_side - 1)) * dx
    vy[1:-1, 1:-1] += rng.uniform(-0.3, 0.3, (n_side - 1, n_side - 1)) * dy
    i, j = np.meshgrid(np.arange(n_side), np.arange(n_side), indexing="ij")
    i, j = i.ravel(), j.ravel()
    corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1), (i, j)]
    ring = np.stack([np.column_stack([vx[a, b], vy[a, b]]) for a, b in corners], axis=1)
    polys = shapely.polygons(ring)
    codes = [f"510304001{k // 1000:03d}{k % 1000:03d}" for k in range(len(polys))]
    return gpd.GeoDataFrame({"code": codes}, geometry=polys, crs=4326)


def sjoin_codes(points: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> np.ndarray:
    joined = gpd.sjoin(points, grids[["code", "geometry"]], predicate="within", how="left")
    # a point on a shared edge matches several grids: keep the smallest code, like the others
    codes = grids["code"].to_numpy().astype(str)
    rank = np.argsort(np.argsort(codes, kind="stable"), kind="stable")
    hit = joined["index_right"].notna().to_numpy()
    pts = joined.index.to_numpy()[hit]
    best = np.full(len(points), len(codes), dtype=np.int64)
    np.minimum.at(best, pts, rank[joined["index_right"].to_numpy()[hit].astype(np.int64)])
    by_rank = codes[np.argsort(codes, kind="stable")]
    out = np.full(len(points), None, dtype=object)
    out[best < len(codes)] = by_rank[best[best < len(codes)]]
    return out


def postgis_codes(engine, grids: gpd.GeoDataFrame, lon, lat) -> tuple[np.ndarray, float]:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS b_grids, b_pts"))
        conn.execute(text("CREATE TABLE b_grids (code text, geom geometry(Geometry, 4326))"))
        conn.execute(text("INSERT INTO b_grids SELECT c, ST_GeomFromWKB(w, 4326) "
                          "FROM unnest(CAST(:c AS text[]), CAST(:w AS bytea[])) AS v(c, w)"),
                     {"c": list(grids["code"]), "w": [shapely.to_wkb(g) for g in grids.geometry]})
        conn.execute(text("CREATE INDEX ON b_grids USING gist (geom)"))
        conn.execute(text("CREATE TABLE b_pts (id int, geom geometry(Point, 4326))"))
        conn.execute(text("INSERT INTO b_pts SELECT i, ST_SetSRID(ST_MakePoint(x, y), 4326) FROM "
                          "unnest(CAST(:x AS float8[]), CAST(:y AS float8[])) WITH ORDINALITY AS v(x, y, i)"),
                     {"x": lon.tolist(), "y": lat.tolist()})
        conn.execute(text("ANALYZE b_grids; ANALYZE b_pts"))
    with engine.connect() as conn:
        t = time.perf_counter()
        rows = conn.execute(text("SELECT p.id, min(g.code) FROM b_pts p LEFT JOIN b_grids g "
                                 "ON ST_Covers(g.geom, p.geom) GROUP BY p.id ORDER BY p.id")).all()
        elapsed = time.perf_counter() - t
    return np.array([r[1] for r in rows], dtype=object), elapsed


def median_time(fn, repeats: int) -> float:
    """Median wall time of ``repeats`` calls (s)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def run(name: str, grids: gpd.GeoDataFrame, n_points: int, pg_sample: int, engine, repeats: int = 3) -> None:
    rng = np.random.default_rng(42)
    w, s, e, n = grids.total_bounds
    lon, lat = rng.uniform(w, e, n_points), rng.uniform(s, n, n_points)
    print(f"\n== {name}: {len(grids)} grids, {n_points:,} points uniform over the layer's extent")
    t = time.perf_counter()
    index = GridIndex.from_frame(grids)
    build = time.perf_counter() - t
    ours = index.locate(lon, lat)                      # the answers; also warms the caches
    t_ours = median_time(lambda: index.locate(lon, lat), repeats)
    t_one = median_time(lambda: index.locate(lon, lat, workers=1), repeats)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    t = time.perf_counter()
    theirs = sjoin_codes(points, grids)                # builds the sindex: the timed runs below are warm
    t_sjoin = time.perf_counter() - t
    t_sjoin_only = median_time(lambda: gpd.sjoin(points, grids[["code", "geometry"]], predicate="within",
                                                 how="left"), repeats)
    same = bool((ours == theirs).all()) and bool((index.locate(lon, lat, workers=1) == ours).all())
    print(f"GridIndex build             {build:8.2f} s")
    print(f"GridIndex.locate            {n_points / t_ours:14,.0f} points/s  ({t_ours:.3f} s; "
          f"{default_workers()} threads)")
    print(f"GridIndex.locate, 1 thread  {n_points / t_one:14,.0f} points/s  ({t_one:.3f} s)")
    print(f"geopandas.sjoin (within)    {n_points / t_sjoin_only:14,.0f} points/s  ({t_sjoin_only:.3f} s; "
          f"points frame prebuilt, sindex warm)")
    print(f"  sjoin + min code on ties  {n_points / t_sjoin:14,.0f} points/s  ({t_sjoin:.3f} s, first run)")
    print(f"ratio GridIndex / sjoin     {t_sjoin_only / t_ours:8.1f}x   (1 thread: {t_sjoin_only / t_one:.1f}x; "
          f"identical answers: {same}, {sum(c is not None for c in ours):,} points in a grid)")
    if engine is not None:
        k = min(pg_sample, n_points)
        pg, t_pg = postgis_codes(engine, grids, lon[:k], lat[:k])
        same_pg = bool((pg == ours[:k]).all())
        print(f"PostGIS ST_Covers join      {k / t_pg:14,.0f} points/s  ({t_pg:.3f} s on a SAMPLE of {k:,} "
              f"points; query only, points already in a table)")
        print(f"ratio GridIndex / PostGIS   {(k / t_pg) and (n_points / t_ours) / (k / t_pg):8.1f}x   "
              f"(identical answers on the sample: {same_pg})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--postgis-sample", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-postgis", action="store_true")
    args = ap.parse_args()
    demo = gpd.read_file(ROOT / "data" / "demo" / "grids.geojson")
    synthetic = synthetic_layer()
    with contextlib.ExitStack() as stack:
        engine = None if args.no_postgis else stack.enter_context(scratch_engine(migrated=False))
        run("demo grids (data/demo/grids.geojson)", demo, args.points, args.postgis_sample, engine, args.repeats)
        run("synthetic 10,000 grids", synthetic, args.points, args.postgis_sample, engine, args.repeats)


if __name__ == "__main__":
    main()
