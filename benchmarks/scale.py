"""Scale (issue 16): every figure of the issue's table at 1×, 10× and 100× the demo's incidents and 10×/100×
its cameras, side by side with today's approach where one still runs, on databases grown by SQL copies
(``benchmarks/grow.py``: minutes, kept between runs).

    .venv/bin/python benchmarks/scale.py [--dir /tmp/gw-scale] [--incidents 1 10 100] [--cameras 10 100]
                                         [--repeat 3] [--no-exports]

- ``/dashboard/stats`` and ``/dashboard/planner`` through the application (log-in as the demo's operator and
  planner; waitress not included: ``benchmarks/web_paths.py`` measures the server); the statistics beside
  the all-rows SQL they replaced (``benchmarks/stats.py``'s frozen copy).
- Exports of the incidents, each in a process of its own (peak memory = its maximum resident set): ``gridwatch
  export`` (batches), the one-piece write it replaced (the whole table in one frame, one write), and GDAL's
  own ``ogr2ogr`` reading PostGIS; ``.xlsx`` where it fits a sheet, else the time to the refusal.
- The operator's and planner's pages at 10×/100× the cameras: bytes and time, and the same pages with every
  camera embedded (``CAMERA_EMBED_MAX`` lifted: the approach they replaced) beside them.

The first request of a page warms the per-process caches (boundaries, cones, coverage): it is printed as
"first", the best of ``--repeat`` after it as "warm".
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from benchmarks.scratch import best_of  # noqa: E402

#: the issue's figures for today's pages that no longer run as they were (seconds)
ISSUE_PLANNER_S = {1: 1.1, 10: 1.05, 100: 2.25}


def settings_for(url: str):
    from app.config import Settings

    tmp = tempfile.mkdtemp(prefix="gw-scale-")
    return Settings({"var_dir": tmp, "secret_key": "bench", "data_dir": str(ROOT / "data"), "database_url": url},
                    environ={}, config_file=Path(tmp) / "none.toml")


def logged_in(app, account: str):
    from app.demo import DEMO_ACCOUNTS, create_demo_accounts

    db = app.extensions["gridwatch.db"]
    with db.session() as s:
        create_demo_accounts(s)  # idempotent: the scratch copies may have none
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    r = client.post("/login", data={"username": account, "password": DEMO_ACCOUNTS[account][1],
                                    "csrf_token": token})
    assert r.status_code == 302, r.status_code
    return client


def page(client, path: str, repeat: int) -> tuple[int, float, float]:
    """(bytes, first seconds, best warm seconds) of GET ``path``."""
    t = time.perf_counter()
    r = client.get(path)
    first = time.perf_counter() - t
    assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:300])
    return len(r.data), first, best_of(lambda: client.get(path), repeat)


def old_stats(url: str, repeat: int) -> float:
    """Seconds of every table of the statistics page the way it was computed before (all rows, 13 on-time
    queries), one after the other."""
    from benchmarks.stats import OLD_SQL, old_table
    from app.db import make_engine

    eng = make_engine(url)
    with eng.connect() as conn:
        def all_tables():
            for name in (*OLD_SQL, "on_time_rate"):
                old_table(conn, name)
        t = best_of(all_tables, max(1, repeat // 2))
    eng.dispose()
    return t


def run_child(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(seconds, peak resident MB, last line of output) of a command in a process of its own. The peak is GNU
    time's ``%M`` (the command's own maximum resident set: a child forked from this process would count
    this process's pages too)."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        t = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, cwd=ROOT, env={**os.environ, **(env or {})})
        seconds = time.perf_counter() - t
        peak_kb = float((rss.read().strip().splitlines() or ["0"])[-1])
    last = (proc.stdout.strip().splitlines() or [""])[-1][-160:]
    return seconds, peak_kb / 1024, last if proc.returncode == 0 else f"exit {proc.returncode}: {last}"


ONE_PIECE = """
import sys
from app.db import Database, make_engine
from app.incidents.exporter import incidents_frame
from gis.io import write_frame
with Database(make_engine(sys.argv[1])).session() as s:
    frame = incidents_frame(s)
    write_frame(frame, sys.argv[2], layer="incidents", timezone="Asia/Shanghai")
print(len(frame))
"""


def ogr2ogr_cmd(url: str, out: Path) -> list[str]:
    from sqlalchemy.engine import make_url

    from app.incidents.exporter import _select

    u = make_url(url)
    pg = f"PG:dbname={u.database} user={u.username} host={u.query.get('host', 'localhost')}"
    sql = _select().replace("ST_X(i.geom) AS gw_x, ST_Y(i.geom) AS gw_y", "i.geom")
    return ["ogr2ogr", "-q", "-f", "GPKG", str(out), pg, "-sql", sql, "-nln", "incidents", "-overwrite"]


def exports(url: str, n: int, tmp: Path) -> None:
    gw = [str(Path(sys.executable).with_name("gridwatch"))]
    env = {"DATABASE_URL": url}
    print(f"  {'export':32} {'seconds':>8} {'peak MB':>8}  result")
    for suffix in (".gpkg", ".xlsx", ".csv"):
        rows = [("gridwatch export (batches)", gw + ["export", "incidents", str(tmp / f"s{suffix}")], env)]
        if suffix == ".xlsx" and n > 1_048_575:
            rows.append(("one piece (before)", None, None))
        else:
            rows.append(("one piece (before)", [sys.executable, "-c", ONE_PIECE, url, str(tmp / f"o{suffix}")],
                         {"PYTHONPATH": str(ROOT)}))
        if suffix == ".gpkg":
            rows.append(("ogr2ogr from PostGIS", ogr2ogr_cmd(url, tmp / f"g{suffix}"), None))
        for label, cmd, e in rows:
            if cmd is None:
                print(f"  {suffix} {label:26} {'—':>8} {'—':>8}  a traceback after minutes: over Excel's row limit")
                continue
            sec, mb, last = run_child(cmd, e)
            print(f"  {suffix} {label:26} {sec:8.1f} {mb:8.0f}  {last}")


def _upgraded(url: str) -> None:
    """A database grown by an earlier checkout brought to this one's schema (quick when it is)."""
    from app import migrate
    from app.db import make_engine

    eng = make_engine(url)
    migrate.upgrade(eng, district_code="510304")
    eng.dispose()


def incidents_section(cluster, f: int, repeat: int, do_exports: bool) -> None:
    from app import create_app
    from app.db import make_engine
    from benchmarks.grow import grown_database

    url = grown_database(cluster, f"gw_i{f}", incidents=f)
    _upgraded(url)
    eng = make_engine(url)
    with eng.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM incidents")).scalar()
    eng.dispose()
    print(f"\n== {f}× incidents: {n:,} ==")
    app = create_app(settings_for(url))
    stats_client, planner_client = logged_in(app, "operator"), logged_in(app, "planner")
    size, first, warm = page(stats_client, "/dashboard/stats", repeat)
    print(f"  /dashboard/stats      {warm * 1000:8.0f} ms warm ({first * 1000:.0f} first), {size:,} bytes; "
          f"the all-rows SQL it replaced: {old_stats(url, repeat) * 1000:.0f} ms")
    size, first, warm = page(planner_client, "/dashboard/planner", repeat)
    print(f"  /dashboard/planner    {warm * 1000:8.0f} ms warm ({first * 1000:.0f} first), {size:,} bytes; "
          f"the issue's figure before: {ISSUE_PLANNER_S.get(f, float('nan')) * 1000:.0f} ms")
    if do_exports:
        with tempfile.TemporaryDirectory(prefix="gw-scale-exp-") as tmp:
            exports(url, n, Path(tmp))


def cameras_section(cluster, f: int, repeat: int) -> None:
    from app import create_app
    from app.dashboards import map_api, pages
    from benchmarks.grow import grown_database

    url = grown_database(cluster, f"gw_c{f}", cameras=f)
    _upgraded(url)
    app = create_app(settings_for(url))
    op, pl = logged_in(app, "operator"), logged_in(app, "planner")
    with app.extensions["gridwatch.db"].Session() as s:
        n = s.execute(text("SELECT count(*) FROM cameras WHERE lifecycle = 'active'")).scalar()
    print(f"\n== {f}× cameras: {n:,} ==")
    print(f"  {'page':22} {'now':>24}   {'every camera embedded (before)':>30}")
    limit = map_api.CAMERA_EMBED_MAX
    for label, client, path in (("operator", op, "/dashboard/operator"), ("planner", pl, "/dashboard/planner")):
        got = {}
        for mode, cap in (("now", limit), ("embedded", 10**9)):
            map_api.CAMERA_EMBED_MAX = cap
            pages._FRAMES.clear()
            got[mode] = page(client, path, repeat)
        map_api.CAMERA_EMBED_MAX = limit
        (b1, f1, w1), (b0, f0, w0) = got["now"], got["embedded"]
        print(f"  {label:22} {b1 / 1e6:6.2f} MB {w1:5.2f} s ({f1:5.1f} first)   "
              f"{b0 / 1e6:6.2f} MB {w0:5.2f} s ({f0:5.1f} first)")


def main(argv=None) -> int:
    from app.pgcluster import Cluster

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/gw-scale"), help="the cluster of grow.py (kept)")
    ap.add_argument("--incidents", type=int, nargs="*", default=[1, 10, 100])
    ap.add_argument("--cameras", type=int, nargs="*", default=[10, 100])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-exports", action="store_true", help="skip the exports (minutes at 100×)")
    a = ap.parse_args(argv)
    cluster = Cluster(a.dir, fast=True)
    cluster.start()
    print(f"gridwatch scale benchmark, {os.cpu_count()} cores; databases under {a.dir}")
    for f in a.incidents:
        incidents_section(cluster, f, a.repeat, not a.no_exports)
    for f in a.cameras:
        cameras_section(cluster, f, a.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
