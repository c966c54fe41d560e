"""Statistics at scale (issue 16): today's all-rows queries against the roll-ups of 0013_stats, per table and
for the whole page, and what keeping the roll-up costs a bulk import (trigger vs. materialised view).

    .venv/bin/python benchmarks/stats.py URL [URL …] [--writes] [--repeat N]

Each URL is a database migrated to 0013_stats (``GW_STATS_URLS`` holds them space-separated when no argument
is given), e.g. a copy of the scaled ``gw_i100`` (``CREATE DATABASE mine TEMPLATE gw_i100``, then
``gridwatch db upgrade``). Reads only, except ``--writes``: it imports the demo's 16,174 incidents (new
external IDs) with ``app.incidents.bulk.load_incidents`` three ways, each in a transaction rolled back: with
the roll-up triggers; without them (the import alone); and without them followed by a ``REFRESH
MATERIALIZED VIEW`` of the same roll-up (the alternative).
"""
from __future__ import annotations

import argparse
import csv
import os
import re
import statistics as st
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

TZ = "Asia/Shanghai"
OPEN = ["reported", "accepted", "dispatched", "in_progress", "resolved"]

# -- frozen copy of today's approach (app/dashboards/stats.py before 0013: every incident ever recorded,
#    the on-time chart one on_time_rate call per month over the last 13 months) -----------------------------
OLD_SQL = {
    "per_month": "SELECT to_char(i.reported_at AT TIME ZONE :tz, 'YYYY-MM') AS m, count(*) FROM incidents i "
                 "WHERE TRUE GROUP BY 1 ORDER BY 1",
    "per_category": "SELECT k.name_zh, count(*), k.code FROM incidents i JOIN categories k ON k.code = i.category_code "
                    "WHERE TRUE GROUP BY k.code, 1 ORDER BY 2 DESC, 3",
    "per_street": "SELECT coalesce(st.name, '—'), count(*), st.code FROM incidents i LEFT JOIN streets st "
                  "ON st.code = left(i.community_code, 9) WHERE TRUE GROUP BY st.code, 1 ORDER BY 2 DESC, 3",
    "per_community": "SELECT coalesce(c.name, '—'), count(*), c.code FROM incidents i LEFT JOIN communities c "
                     "ON c.code = i.community_code WHERE TRUE GROUP BY c.code, 1 ORDER BY 2 DESC, 3",
    "per_grid": "SELECT coalesce(i.grid_code, '—'), count(*) FROM incidents i WHERE TRUE GROUP BY 1 "
                "ORDER BY 2 DESC, 1 LIMIT 30",
    "resolution_time": "SELECT width_bucket(EXTRACT(EPOCH FROM (i.closed_at - i.reported_at)) / 3600.0, "
                       "CAST(:edges AS float8[])), count(*) FROM incidents i WHERE i.state = 'closed' AND "
                       "i.closed_at IS NOT NULL AND TRUE GROUP BY 1",
    "camera_status": "SELECT status, count(*) FROM cameras WHERE lifecycle = 'active' AND TRUE GROUP BY 1",
}
OLD_ON_TIME = ("SELECT count(*) FILTER (WHERE state = 'closed' AND closed_at <= deadline) AS on_time, "
               "count(*) FILTER (WHERE state = 'closed') AS closed, "
               "count(*) FILTER (WHERE state = ANY(:open) AND deadline < :now) AS late_open "
               "FROM incidents WHERE deadline IS NOT NULL AND dispatched_at >= :start AND dispatched_at < :end "
               "AND (CAST(:grids AS text[]) IS NULL OR grid_code = ANY(:grids))")


def old_table(conn, name: str):
    if name == "on_time_rate":
        zone = ZoneInfo(TZ)
        now = datetime.now(zone)
        start = datetime(now.year - 1, now.month, 1, tzinfo=zone)
        out = []
        while start <= now:
            end = (start.replace(tzinfo=None) + timedelta(days=32)).replace(day=1, tzinfo=zone)
            out.append(conn.execute(text(OLD_ON_TIME), {"open": OPEN, "now": datetime.now(timezone.utc),
                                                        "start": start, "end": end, "grids": None}).one())
            start = end
        return out
    return conn.execute(text(OLD_SQL[name]), {"tz": TZ, "edges": [0.0, 2.0, 8.0, 24.0, 48.0, 72.0, 168.0]}).all()


def timed(fn, repeat: int) -> float:
    """Median seconds of ``repeat`` runs after one warm-up."""
    fn()
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return st.median(runs)


def reads(url: str, repeat: int) -> None:
    from sqlalchemy.orm import Session

    from app.dashboards import stats

    eng = create_engine(url)
    with eng.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM incidents")).scalar()
        if conn.execute(text("SELECT to_regclass('stats_incidents_monthly')")).scalar() is None:
            print(f"{url}: not migrated to 0013_stats (copy it and run gridwatch db upgrade)")
            return
        rollup_rows = conn.execute(text("SELECT count(*) FROM stats_incidents_monthly")).scalar()
    print(f"\n{url}: {n:,} incidents, {rollup_rows:,} roll-up rows")
    with Session(eng) as s:
        latest = stats.latest_month(s)
        periods = {"12 months": stats.default_period(TZ, latest=latest), "all time": stats.ALL_TIME}
        grid = s.execute(text("SELECT grid_code FROM incidents WHERE grid_code IS NOT NULL LIMIT 1")).scalar()
        street = grid[:9]
        print(f"{'table':16} {'today (all rows)':>17} {'new, 12 months':>15} {'new, all time':>14} "
              f"{'new, 12 m + street':>19} {'ratio today/new 12 m':>21}")
        tot_old = tot = 0.0
        for name, fn in stats.TABLES.items():
            old = timed(lambda: old_table(s, name), max(1, repeat // 2))
            new = {k: timed(lambda: fn(s, None, tz=TZ, period=p), repeat) for k, p in periods.items()}
            area = stats.Area("street", street, street)
            new_area = timed(lambda: fn(s, None, tz=TZ, period=periods["12 months"], area=area), repeat)
            tot_old, tot = tot_old + old, tot + new["12 months"]
            print(f"{name:16} {old * 1000:15.1f} ms {new['12 months'] * 1000:12.1f} ms {new['all time'] * 1000:11.1f} ms "
                  f"{new_area * 1000:16.1f} ms {old / new['12 months']:20.0f}×")
        page = {k: timed(lambda: stats.all_tables(s, None, tz=TZ, period=p), repeat) for k, p in periods.items()}
        lead = timed(lambda: stats.all_tables(s, {grid}, tz=TZ, period=periods["12 months"]), repeat)
        print(f"{'all tables':16} {tot_old * 1000:15.1f} ms {page['12 months'] * 1000:12.1f} ms "
              f"{page['all time'] * 1000:11.1f} ms {'':>19} {tot_old / page['12 months']:20.0f}×")
        print(f"  a grid lead's page (one grid, 12 months): {lead * 1000:.1f} ms")
    _page(url, repeat)


def _page(url: str, repeat: int) -> None:
    """The whole page through the application (log-in as the operator, waitress not included)."""
    from app import create_app
    from app.config import Settings
    from app.demo import DEMO_ACCOUNTS

    tmp = tempfile.mkdtemp(prefix="gw-stats-bench-")
    settings = Settings({"var_dir": tmp, "secret_key": "bench", "data_dir": str(ROOT / "data"),
                         "database_url": url}, environ={}, config_file=Path(tmp) / "none.toml")
    app = create_app(settings)
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    r = client.post("/login", data={"username": "operator", "password": DEMO_ACCOUNTS["operator"][1],
                                    "csrf_token": token})
    if r.status_code != 302:
        print("  no demo operator account in this database: the page through the app is not timed "
              "(on a scratch copy: app.demo.create_demo_accounts)")
        return
    for path in ("/dashboard/stats", "/dashboard/stats?period=all", "/dashboard/stats/per_month.csv"):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:500])
        print(f"  GET {path}: {timed(lambda: client.get(path), repeat) * 1000:.0f} ms, {len(r.data):,} bytes")


MV_SQL = ("CREATE MATERIALIZED VIEW bench_stats_mv AS SELECT date_trunc('month', reported_at AT TIME ZONE '{tz}')::date "
          "AS month, grid_code, community_code, category_code, count(*) AS n, {bins} FROM incidents GROUP BY 1, 2, 3, 4")


def writes(url: str) -> None:
    """Import 16,174 incidents three ways (rolled back): triggers, no triggers, no triggers + MV refresh."""
    from sqlalchemy.orm import Session

    from app.config import Settings
    from app.incidents.bulk import load_incidents

    tmp = Path(tempfile.mkdtemp(prefix="gw-stats-bench-"))
    src = ROOT / "data" / "demo" / "incidents.csv"
    path = tmp / "incidents.csv"
    with open(src, newline="", encoding="utf-8") as f, open(path, "w", newline="", encoding="utf-8") as out:
        rows = csv.DictReader(f)
        w = csv.DictWriter(out, fieldnames=rows.fieldnames)
        w.writeheader()
        for r in rows:
            r["external_id"] = "BENCH-" + r["external_id"]
            w.writerow(r)
    settings = Settings({"var_dir": str(tmp), "secret_key": "bench", "data_dir": str(ROOT / "data"),
                         "database_url": url}, environ={}, config_file=tmp / "none.toml")
    bins = ", ".join(f"count(*) FILTER (WHERE state = 'closed' AND closed_at IS NOT NULL AND width_bucket("
                     f"EXTRACT(EPOCH FROM (closed_at - reported_at)) / 3600.0, ARRAY[0,2,8,24,48,72,168]::float8[])"
                     f" = {i}) AS b{i}" for i in range(1, 8))
    eng = create_engine(url)
    results = {}
    for way in ("trigger", "import alone", "materialised view"):
        with eng.connect() as conn:
            trans = conn.begin()
            try:
                if way != "trigger":
                    for t in ("insert", "update", "delete"):
                        conn.execute(text(f"ALTER TABLE incidents DISABLE TRIGGER gw_stats_{t}"))
                if way == "materialised view":
                    conn.execute(text(MV_SQL.format(tz=TZ, bins=bins)))
                with Session(bind=conn) as s:
                    t0 = time.perf_counter()
                    n = load_incidents(s, path, settings)
                    s.flush()
                    t1 = time.perf_counter()
                    refresh = 0.0
                    if way == "materialised view":
                        conn.execute(text("REFRESH MATERIALIZED VIEW bench_stats_mv"))
                        refresh = time.perf_counter() - t1
                    results[way] = (t1 - t0, refresh, n)
            finally:
                trans.rollback()
    base = results["import alone"][0]
    print(f"\nbulk import of {results['trigger'][2]:,} incidents into {url}:")
    for way, (imp, refresh, _) in results.items():
        extra = imp + refresh - base
        print(f"  {way:18} import {imp:6.1f} s  refresh {refresh:5.1f} s  cost over the import alone {extra:+6.1f} s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("urls", nargs="*", default=os.environ.get("GW_STATS_URLS", "").split())
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--writes", action="store_true", help="also measure the write cost on the last URL")
    args = ap.parse_args(argv)
    if not args.urls:
        ap.error("give a database URL (or set GW_STATS_URLS)")
    for url in args.urls:
        reads(url, args.repeat)
    if args.writes:
        writes(args.urls[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
