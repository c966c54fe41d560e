"""How long ``gridwatch`` takes to start: ``--help``, ``db status`` and ``cameras list`` (against a scratch
database with the demo loaded), each beside the old way (every feature's cli module imported at start).

Usage: ``.venv/bin/python benchmarks/cli_start.py [--runs 5] [--database-url URL]``. Without a URL it starts a
throw-away cluster in a temporary directory and loads the demo (about 25 s, not timed). Prints the median
wall time of each command, lazy and eager, and their ratio.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LAZY = "from app.cli import main; main(prog_name='gridwatch')"
#: the old start: every feature's cli module imported, its commands registered, before the command runs
EAGER = ("from app.cli import main; from app.features import cli_commands\n"
         "for c in cli_commands(): main.add_command(c)\n"
         "main(prog_name='gridwatch')")
COMMANDS = (["--help"], ["db", "status"], ["users", "list"], ["cameras", "list"])


def _time(code: str, args: list[str], env: dict, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT, capture_output=True)
        times.append(time.perf_counter() - t0)
        if r.returncode not in (0, 1):
            raise SystemExit(f"{args}: exit {r.returncode}: {r.stderr.decode()[-500:]}")
    return statistics.median(times)


def _scratch_database(tmp: Path) -> tuple[str, object]:
    from app import migrate
    from app.db import Database, make_engine
    from app.config import Settings
    from app.demo import load_demo
    from app.pgcluster import Cluster

    cluster = Cluster(tmp / "pg", fast=True)
    cluster.start()
    cluster.ensure_database("gridwatch")
    engine = make_engine(cluster.url())
    migrate.upgrade(engine, district_code="510304")
    settings = Settings({"var_dir": str(tmp / "var"), "secret_key": "bench"}, environ={}, config_file=tmp / "none")
    with Database(engine).session() as s:
        load_demo(s, ROOT / "data", settings=settings, keep_dates=True)
    engine.dispose()
    return cluster.url(), cluster


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    opts = ap.parse_args()
    cluster = None
    with tempfile.TemporaryDirectory(prefix="gridwatch-bench-cli-") as tmp:
        url = opts.database_url
        if not url:
            print("loading the demo into a scratch cluster (not timed) …", flush=True)
            url, cluster = _scratch_database(Path(tmp))
        env = dict(os.environ, DATABASE_URL=url, GRIDWATCH_SECRET_KEY="bench")
        try:
            print(f"{'command':<16}{'lazy (s)':>10}{'eager (s)':>11}{'eager/lazy':>12}   (median of {opts.runs})")
            for args in COMMANDS:
                lazy, eager = _time(LAZY, args, env, opts.runs), _time(EAGER, args, env, opts.runs)
                print(f"{' '.join(args):<16}{lazy:>10.2f}{eager:>11.2f}{eager / lazy:>11.1f}×")
        finally:
            if cluster is not None:
                cluster.destroy()


if __name__ == "__main__":
    main()
