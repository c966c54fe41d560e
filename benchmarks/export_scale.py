"""The incident export at 100× the incidents (issue 16): today's code beside a commit's, in turns, on the same grown
database (``benchmarks/grow.py``), in one run.

    .venv/bin/python benchmarks/export_scale.py --before-ref COMMIT [--dir /tmp/gw-scale] [--database gw_i100]
                                                [--formats gpkg csv] [--rounds 2]

Each measurement is a process of its own with the code of one tree on its ``PYTHONPATH`` (``git archive`` of the
commit, or this checkout): ``export_incidents`` (``gridwatch export incidents FILE`` without the bar) to a
scratch file, timed whole, SQL read included. The trees take turns ``--rounds`` times; the best of each counts.
The last files of the two trees are then read back by GDAL (``pyogrio.read_arrow``) and compared.
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

#: runs inside the tree under test: only what both versions of the code have
CHILD = r"""
import json, sys, time
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from app.incidents.exporter import export_incidents
engine = create_engine(sys.argv[1])
with Session(engine) as s:
    t = time.perf_counter()
    n = export_incidents(s, sys.argv[2], timezone="Asia/Shanghai")
    print(json.dumps({"rows": n, "seconds": time.perf_counter() - t}))
"""


def measure(tree: Path, url: str, path: Path) -> dict:
    r = subprocess.run([sys.executable, "-c", CHILD, url, str(path)], cwd=tree,
                       env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"export failed in {tree}:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def same_content(a: Path, b: Path) -> bool:
    """Whether GDAL reads the two files as equal tables (schema and every value)."""
    import pyogrio

    return pyogrio.read_arrow(a, layer="incidents")[1].equals(pyogrio.read_arrow(b, layer="incidents")[1]) \
        if a.suffix == ".gpkg" else a.read_bytes() == b.read_bytes()


def main(argv=None) -> int:
    from app.pgcluster import Cluster
    from benchmarks.grow import grown_database

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before-ref", required=True, metavar="COMMIT", help="the code to compare with")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/gw-scale"), help="the cluster of grow.py (kept)")
    ap.add_argument("--database", default="gw_i100", help="gw_i1, gw_i10 or gw_i100 (grown when missing)")
    ap.add_argument("--formats", nargs="*", default=["gpkg", "csv"], choices=["gpkg", "csv"])
    ap.add_argument("--rounds", type=int, default=2, help="before/now turns per format (the best counts)")
    a = ap.parse_args(argv)
    cluster = Cluster(a.dir, fast=True)
    cluster.start()
    factor = {"gw_i1": {}, "gw_i10": {"incidents": 10}, "gw_i100": {"incidents": 100}}
    if a.database not in factor:
        raise SystemExit(f"--database {a.database!r}: use one of {', '.join(factor)}")
    url = grown_database(cluster, a.database, **factor[a.database])
    with tempfile.TemporaryDirectory(prefix="gw-export-before-") as tmp:
        old = checkout(a.before_ref, Path(tmp) / "tree")
        trees = {f"before ({a.before_ref})": old, "now": ROOT}
        print(f"incident export of {a.database}, {os.cpu_count()} cores, best of {a.rounds} turns each")
        print(f"  {'format':8} {'rows':>10}   " + "   ".join(f"{k:>20}" for k in trees) + "   ratio   same content")
        for fmt in a.formats:
            best, files, rows = {k: float("inf") for k in trees}, {}, 0
            for _ in range(a.rounds):
                for i, (label, tree) in enumerate(trees.items()):
                    files[label] = Path(tmp) / f"{i}.{fmt}"
                    got = measure(tree, url, files[label])
                    best[label], rows = min(best[label], got["seconds"]), got["rows"]
            b, n = best.values()
            same = same_content(*files.values())
            print(f"  .{fmt:7} {rows:>10,}   " + "   ".join(f"{v:>18.1f} s" for v in best.values())
                  + f"   {b / n:4.2f}×   {'yes' if same else 'NO'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
