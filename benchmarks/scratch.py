"""What the benchmarks share: a throw-away PostGIS database (``DATABASE_URL`` when set, else a private
cluster) and the best-of-N timer."""
from __future__ import annotations

import os
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
