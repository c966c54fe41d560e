"""What the benchmarks share: a throw-away PostGIS database (``DATABASE_URL`` when set, else a private
cluster), the best-of-N timer, and a commit's code unpacked beside this checkout (``--before-ref``)."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@contextmanager
def scratch_engine(*, migrated: bool = True):
    """Yield an engine on a database with PostGIS (and the schema when ``migrated``); clean up after."""
    from app import migrate
    from app.db import make_engine

    cluster = None
    url = os.environ.get("DATABASE_URL")
    if not url:
        from app.pgcluster import Cluster

        cluster = Cluster(tempfile.mkdtemp(prefix="gridwatch-bench-pg-"), fast=True)
        cluster.start()
        cluster.ensure_database("bench")
        url = cluster.url("bench")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        if migrated:
            migrate.upgrade(engine, district_code="510304")
        yield engine
    finally:
        engine.dispose()
        if cluster is not None:
            cluster.destroy()


def best_of(fn, repeat: int) -> float:
    """The fastest of ``repeat`` timings of ``fn()``, in seconds (the least disturbed by other work)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def checkout(ref: str, dest: Path) -> Path:
    """The tree of commit ``ref`` of this repository, unpacked into ``dest`` (``git archive``, no shell): the
    code a ``--before-ref`` measurement runs. A ref that names no commit stops with git's own message."""
    commit = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=ROOT,
                            capture_output=True, text=True)
    if commit.returncode != 0:
        raise SystemExit(f"--before-ref {ref!r} names no commit of {ROOT}")
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.Popen(["git", "archive", commit.stdout.strip()], cwd=ROOT, stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, check=True)
    archive.stdout.close()
    if archive.wait() != 0:
        raise SystemExit(f"git archive {ref} failed")
    return dest
