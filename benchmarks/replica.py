"""The replica step of docs/scaling.md, measured: a durable primary and a hot standby made from it
(``Cluster.standby_of``: ``pg_basebackup -R``), both on this machine, the demo district loaded.

- **Lag**: reports committed on the primary (``report_incident``, as Open311 writes them), each looked for
  on the standby until it is there; idle, then while four writers report as fast as they can.
- **What the replica buys**: ``/dashboard/stats`` read from the primary, then from the standby
  (``database_read_url``), in turns, on an idle primary (before the writers start, so the primary's CPU is
  the page's): the page's time, and the primary's CPU per page (its postmaster and backends, from /proc),
  which is what moving the reads away frees.

    .venv/bin/python benchmarks/replica.py [--reports 200] [--pages 20]

On one machine the standby's replay competes with the primary for the same cores, so the page is not faster
here; on a second server the primary's share is what a city's command centre gets back.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from benchmarks.scale import logged_in  # noqa: E402
from benchmarks.web_paths import postmaster_pid, server_cpu  # noqa: E402


def _reporter(db, settings, spots, cats):
    """A function reporting incident ``i`` on the primary (the service Open311 calls); returns its id."""
    from app.incidents.service import report_incident

    def report(i: int) -> int:
        lon, lat = spots[i % len(spots)]
        with db.session() as s:
            inc = report_incident(s, category=cats[i % len(cats)], lon=lon, lat=lat, source="public",
                                  description=f"replica benchmark {i}", actor="benchmark", settings=settings)
            return inc.id
    return report


def lag(report, standby, n: int, start: int) -> np.ndarray:
    """Seconds from each report's commit to its row being visible on the standby."""
    out = []
    with standby.connect() as conn:
        for i in range(n):
            iid = report(start + i)
            t0 = time.perf_counter()
            while not conn.execute(text("SELECT EXISTS (SELECT 1 FROM incidents WHERE id = :i)"), {"i": iid}).scalar():
                conn.rollback()
                if time.perf_counter() - t0 > 60:
                    raise SystemExit(f"report {iid} did not reach the standby in 60 s: is it streaming?")
                time.sleep(0.0005)
            out.append(time.perf_counter() - t0)
            conn.rollback()
    return np.asarray(out)


def _pct(a: np.ndarray) -> str:
    return (f"p50 {np.percentile(a, 50) * 1000:6.1f}  p95 {np.percentile(a, 95) * 1000:6.1f}  "
            f"max {a.max() * 1000:6.1f} ms")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=200, help="reports timed per lag phase")
    ap.add_argument("--pages", type=int, default=20, help="statistics pages per side")
    args = ap.parse_args()

    from app import create_app, migrate
    from app.config import Settings
    from app.db import Database, make_engine
    from app.demo import create_demo_accounts, load_demo
    from app.pgcluster import Cluster

    primary = Cluster(tempfile.mkdtemp(prefix="gridwatch-bench-primary-"))  # durable, as `gridwatch db start`
    standby = Cluster(tempfile.mkdtemp(prefix="gridwatch-bench-standby-"))
    var = Path(tempfile.mkdtemp(prefix="gridwatch-bench-var-"))
    try:
        primary.start()
        primary.ensure_database("gridwatch")
        p_engine = make_engine(primary.url())
        migrate.upgrade(p_engine, district_code="510304")
        settings = Settings({"var_dir": str(var), "secret_key": "bench", "database_url": primary.url(),
                             "database_read_url": standby.url()}, environ={}, config_file=os.devnull)
        db = Database(p_engine)
        print("loading the demo district on the primary …", flush=True)
        with db.session() as s:
            load_demo(s, ROOT / "data", settings=settings)
            create_demo_accounts(s)
        t0 = time.perf_counter()
        standby.standby_of(primary)
        s_engine = make_engine(standby.url(), read_only=True)
        print(f"standby made by pg_basebackup -R and started in {time.perf_counter() - t0:.1f} s "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        with p_engine.connect() as conn:
            spots = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM incidents ORDER BY id LIMIT 500")).all()
            cats = conn.execute(text("SELECT code FROM categories ORDER BY code")).scalars().all()
        report = _reporter(db, settings, [tuple(p) for p in spots], cats)

        idle = lag(report, s_engine, args.reports, 0)
        print(f"lag, idle primary          {_pct(idle)}   ({len(idle)} reports)")

        on_primary = create_app(settings, database=Database(p_engine))
        on_standby = create_app(settings, database=Database(p_engine, s_engine))
        clients = {}
        for name, app in (("primary", on_primary), ("standby", on_standby)):
            c = logged_in(app, "operator")
            for _ in range(3):  # warm: per-process caches, the pools' connections
                assert c.get("/dashboard/stats").status_code == 200
            clients[name] = c
        pm = postmaster_pid(p_engine)
        times = {"primary": [], "standby": []}
        cpu = {"primary": 0.0, "standby": 0.0}
        for _ in range(args.pages):  # in turns: both sides see the same machine
            for name, c in clients.items():
                c0, t0 = server_cpu(pm), time.perf_counter()
                assert c.get("/dashboard/stats").status_code == 200
                times[name].append(time.perf_counter() - t0)
                cpu[name] += server_cpu(pm) - c0
        for name in ("primary", "standby"):
            print(f"/dashboard/stats read on the {name:<8} {np.median(times[name]) * 1000:6.1f} ms median · the "
                  f"primary's CPU {cpu[name] * 1000 / args.pages:5.1f} ms a page")
        print(f"  the primary's CPU per statistics page: {cpu['primary'] * 1000 / args.pages:.1f} ms read there, "
              f"{cpu['standby'] * 1000 / args.pages:.1f} ms read on the standby (the request's log-in check stays there)")

        stop, lock, written, failed = threading.Event(), threading.Lock(), [0], []

        def writer(k: int):
            i = 10**6 * (k + 1)
            try:
                while not stop.is_set():
                    report(i)
                    i += 1
                    with lock:
                        written[0] += 1
            except Exception as e:  # noqa: BLE001  said below, not lost in a thread
                failed.append(repr(e))

        writers = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        for w in writers:
            w.start()
        try:
            t_w = time.perf_counter()
            busy = lag(report, s_engine, args.reports, 5 * 10**6)
            rate = written[0] / (time.perf_counter() - t_w)
        finally:
            stop.set()
            for w in writers:
                w.join()
        if failed:
            raise SystemExit(f"a writer failed: {failed[0]}")
        print(f"lag, 4 writers reporting   {_pct(busy)}   ({rate:.0f} reports/s from the writers meanwhile)")
        s_engine.dispose()
        p_engine.dispose()
    finally:
        standby.destroy()
        primary.destroy()
        import shutil

        shutil.rmtree(var, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
