"""The planner's what-if (K new sites) on the demo: the page's path now against the old one, in one run.

    .venv/bin/python benchmarks/planner.py [--k 10] [--runs 3] [--base d92f1a7]

Starts a scratch PostGIS cluster (``benchmarks/scratch.py``), loads the demo district and times:

1. **cold**: a new Python process answering its first ``GET /api/coverage/plan?k=K`` (imports included:
   what the first planner of a freshly started worker waits for), new path; and the old path's first
   plan in a new process (its ``gis/placement.py``, which imported spopt, and its ``what_if`` steps);
2. **warm**: best of ``--runs`` in one process, both paths on the same database;
3. the figures of the new path's steps (inputs read, model built and solved).

The old path is the code of commit ``--base`` (the one before the change), read with ``git show`` and
loaded as a module, so both run side by side on the same data; its demand (weight 1.0 over 365 days,
ON cameras) is the old page's. Both answers are printed so the ratio compares like with like.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_engine  # noqa: E402  (benchmarks/scratch.py)

BASE = "d92f1a7"  # the commit before the planner work: its gis/placement.py is the old path


def old_placement(base: str, tmp: Path):
    """The old ``gis.placement`` as module ``old_placement`` (from git)."""
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{base}:gis/placement.py"], check=True,
                         capture_output=True, text=True).stdout
    path = tmp / "old_placement.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("old_placement", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_placement"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def old_what_if(s, k: int, placement) -> float:
    """The old page's what-if steps (``app/dashboards/planning.what_if`` of the base commit): every layer read
    whole, ON cameras, every incident of the last 365 days at weight 1.0, then its plan_sites. Returns
    the new demand it covers."""
    from app.layers_db import read_layer
    from gis.coverage import view_sectors

    cams = read_layer(s, "cameras", where="status = 'ON'")
    demand = read_layer(s, "incidents", where="reported_at >= (SELECT max(reported_at) FROM incidents) - "
                                              "make_interval(days => 365)").assign(weight=1.0)
    plan = placement.plan_sites(placement.road_intersections(read_layer(s, "roads")), demand, k,
                                existing=view_sectors(cams), areas=read_layer(s, "grids"), code="code")
    return plan.new_demand


COLD_NEW = """
import sys, time, re, json
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from pathlib import Path
from app import create_app
from app.config import Settings
from app.db import Database, make_engine
from app.demo import DEMO_ACCOUNTS
settings = Settings({{"var_dir": {var!r}, "secret_key": "bench"}}, environ={{}}, config_file=Path({var!r}) / "none.toml")
app = create_app(settings, database=Database(make_engine({url!r})))
c = app.test_client()
token = re.search(r'name="csrf-token" content="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
c.post("/login", data={{"username": "planner", "password": DEMO_ACCOUNTS["planner"][1], "csrf_token": token}})
t1 = time.perf_counter()
r = c.get("/api/coverage/plan?k={k}")
t2 = time.perf_counter()
assert r.status_code == 200, r.status_code
print(json.dumps({{"start": t1 - t0, "first": t2 - t1, "gain": r.get_json()["new_incidents"]}}))
"""

COLD_OLD = """
import sys, time, json, importlib.util
t0 = time.perf_counter()
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
from app.db import Database, make_engine
from planner import old_what_if
db = Database(make_engine({url!r}))
t1 = time.perf_counter()
# the old page imported gis.placement (and with it spopt) inside what_if: its first plan paid for it
spec = importlib.util.spec_from_file_location("old_placement", {old!r})
placement = importlib.util.module_from_spec(spec); sys.modules["old_placement"] = placement
spec.loader.exec_module(placement)
with db.session() as s:
    gain = old_what_if(s, {k}, placement)
t2 = time.perf_counter()
print(json.dumps({{"start": t1 - t0, "first": t2 - t1, "gain": gain}}))
"""


def _cold(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=str(ROOT))
    return json.loads(out.stdout.strip().splitlines()[-1])


def _best(fn, runs: int) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(runs):
        t = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t)
    return best, value


def steps(s, k: int) -> None:
    """Where the new path's time goes (one warm run)."""
    from app.coverage import service
    from gis import coverage, placement

    def timed(label, fn):
        t = time.perf_counter()
        value = fn()
        print(f"  {label:<34} {1000 * (time.perf_counter() - t):7.0f} ms")
        return value

    cams = timed("cameras (read)", lambda: service.load_cameras(s))
    existing = timed("their view sectors", lambda: coverage.view_sectors(cams))
    cands = timed("candidate sites (cached crossings)", lambda: service.candidate_sites(s))
    dem = timed("demand incidents (read)", lambda: service.demand_incidents(s))
    grids = timed("grids (read)", lambda: service.read_layer(s, "grids"))
    timed(f"MCLP, k={k} (reduce, build, CBC)", lambda: placement.plan_sites(cands, dem, k, existing=existing,
                                                                            areas=grids))
    timed("plan basis (digest of the inputs)", lambda: service.plan_basis(s))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--base", default=BASE)
    args = ap.parse_args()
    from app import create_app
    from app.config import Settings
    from app.dashboards import planning
    from app.db import Database
    from app.demo import DEMO_ACCOUNTS, create_demo_accounts, load_demo

    with scratch_engine() as engine, tempfile.TemporaryDirectory(prefix="gridwatch-bench-") as tmp_name:
        tmp = Path(tmp_name)
        db = Database(engine)
        settings = Settings({"var_dir": str(tmp), "secret_key": "bench"}, environ={}, config_file=tmp / "none.toml")
        with db.session() as s:
            load_demo(s, ROOT / "data", settings=settings)
            create_demo_accounts(s)
        url = engine.url.render_as_string(hide_password=False)
        old = old_placement(args.base, tmp)
        print(f"K = {args.k} on the demo district (old path: commit {args.base}; best of {args.runs} warm runs)\n")
        cold_new = _cold(COLD_NEW.format(root=str(ROOT), var=str(tmp), url=url, k=args.k))
        cold_old = _cold(COLD_OLD.format(root=str(ROOT), bench=str(ROOT / "benchmarks"), old=str(tmp / "old_placement.py"),
                                         url=url, k=args.k))
        app = create_app(settings, database=db)
        client = app.test_client()
        token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
        client.post("/login", data={"username": "planner", "password": DEMO_ACCOUNTS["planner"][1], "csrf_token": token})
        warm_http, _r = _best(lambda: client.get(f"/api/coverage/plan?k={args.k}"), args.runs)
        with db.session() as s:
            warm_new, plan = _best(lambda: planning.what_if(s, args.k, basemap="none"), args.runs)
            warm_old, old_gain = _best(lambda: old_what_if(s, args.k, old), args.runs)
            print(f"{'':<34} {'old':>9} {'new':>9} {'ratio':>7}")
            print(f"{'cold: first plan of a process':<34} {cold_old['first']:>8.2f}s {cold_new['first']:>8.2f}s "
                  f"{cold_old['first'] / cold_new['first']:>6.1f}x")
            print(f"{'warm: what-if (service)':<34} {warm_old:>8.2f}s {warm_new:>8.2f}s {warm_old / warm_new:>6.1f}x")
            print(f"{'warm: GET /api/coverage/plan':<34} {'':>9} {warm_http:>8.2f}s")
            print(f"\nnew demand covered: old {old_gain:,.1f} (weight 1.0 per incident), new {plan['new_incidents']:,.1f} "
                  f"(category weights, voided left out), of {plan['total_incidents']:,.1f}")
            print("\nthe new path's steps:")
            steps(s, args.k)


if __name__ == "__main__":
    main()
