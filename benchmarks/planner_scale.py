"""The planner page at 10× and 100× the cameras and 100× the incidents (issue 16): today's code beside a commit's,
in turns, on the same grown databases (``benchmarks/grow.py``), in one run.

    .venv/bin/python benchmarks/planner_scale.py --before-ref COMMIT [--dir /tmp/gw-scale] [--repeat 3]
                                                 [--databases gw_c10 gw_c100 gw_i100] [--rounds 2]

Each measurement is a process of its own with the code of one tree on its ``PYTHONPATH`` (``git archive`` of the
commit, or this checkout): it logs in as the demo's planner, asks for ``/dashboard/planner`` once ("first") and
then ``--repeat`` times (the best is "warm"). Each tree keeps its own per-grid coverage cache under
``--dir``/planner-var, so only the first run on a database pays for computing every grid's coverage (minutes at
47,100 cameras); the printed figures are warm pages, which is what a planner waits for.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from scratch import checkout  # noqa: E402  (benchmarks/scratch.py, beside this file)

#: runs inside the tree under test: only what both versions of the code have (app factory, demo accounts)
CHILD = r"""
import json, re, sys, time
from pathlib import Path
url, var, repeat = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
from app import create_app
from app.config import Settings
from app.demo import DEMO_ACCOUNTS, create_demo_accounts
var.mkdir(parents=True, exist_ok=True)
app = create_app(Settings({"var_dir": str(var), "secret_key": "bench", "data_dir": sys.argv[4], "database_url": url},
                          environ={}, config_file=var / "none.toml"))
with app.extensions["gridwatch.db"].session() as s:
    create_demo_accounts(s)
c = app.test_client()
token = re.search(r'name="csrf-token" content="([^"]+)"', c.get("/login").get_data(as_text=True)).group(1)
assert c.post("/login", data={"username": "planner", "password": DEMO_ACCOUNTS["planner"][1],
                              "csrf_token": token}).status_code == 302
times = []
for _ in range(repeat + 1):
    t = time.perf_counter()
    r = c.get("/dashboard/planner")
    times.append(time.perf_counter() - t)
    assert r.status_code == 200, r.status_code
print(json.dumps({"first": times[0], "warm": min(times[1:]), "bytes": len(r.data)}))
"""


def measure(tree: Path, url: str, var: Path, repeat: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    r = subprocess.run([sys.executable, "-c", CHILD, url, str(var), str(repeat), str(ROOT / "data")], cwd=tree,
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"planner page failed in {tree}:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    from sqlalchemy import text

    from app.db import make_engine
    from app.pgcluster import Cluster
    from benchmarks.grow import grown_database

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before-ref", required=True, metavar="COMMIT", help="the code to compare with")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/gw-scale"), help="the cluster of grow.py (kept)")
    ap.add_argument("--databases", nargs="*", default=["gw_c10", "gw_c100", "gw_i100"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2, help="before/now turns per database (the best counts)")
    a = ap.parse_args(argv)
    cluster = Cluster(a.dir, fast=True)
    cluster.start()
    grow = {"gw_c10": {"cameras": 10}, "gw_c100": {"cameras": 100}, "gw_i10": {"incidents": 10},
            "gw_i100": {"incidents": 100}, "gw_i1": {}}
    with tempfile.TemporaryDirectory(prefix="gw-planner-before-") as tmp:
        old = checkout(a.before_ref, Path(tmp))
        trees = {f"before ({a.before_ref})": old, "now": ROOT}
        print(f"planner page, {os.cpu_count()} cores, best of {a.repeat} warm requests × {a.rounds} rounds in turns")
        print(f"  {'database':10} {'cameras':>8} {'incidents':>10}   " + "   ".join(f"{k:>22}" for k in trees)
              + "   ratio")
        for name in a.databases:
            url = grown_database(cluster, name, **grow.get(name, {}))
            eng = make_engine(url)
            with eng.connect() as conn:
                cams, incs = conn.execute(text("SELECT (SELECT count(*) FROM cameras WHERE lifecycle = 'active'), "
                                               "(SELECT count(*) FROM incidents)")).one()
            eng.dispose()
            best = {k: float("inf") for k in trees}
            for _ in range(a.rounds):
                for label, tree in trees.items():
                    var = a.dir / "planner-var" / ("before-" + a.before_ref if tree == old else "now") / name
                    best[label] = min(best[label], measure(tree, url, var, a.repeat)["warm"])
            b, n = best.values()
            print(f"  {name:10} {cams:>8,} {incs:>10,}   " + "   ".join(f"{v:>20.2f} s" for v in best.values())
                  + f"   {b / n:4.1f}×", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
