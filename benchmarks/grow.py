"""Grow the demo district into a city-sized database by SQL copies, in minutes (issue 16).

- **Incidents** ×F: the demo's year of incidents copied F−1 times, with their whole timelines (events). The
  copies spread over ``years`` years (default 10, never more than F): copy k moves every time of the incident
  back ``k mod years`` years, and the copies that land in the same year move their point by a few metres (a
  deterministic jitter, the grid unchanged), so 100× is ten years of a city with ten times the district's
  incidents a year, and "the last 12 months" holds F/years demo years, as it would.
- **Cameras** ×F: the registry copied F−1 times, each copy shifted by a few hundred metres in a direction of
  its own (deterministic), with new device IDs (the serial's first digits carry the copy number).

Copies are written with ``session_replication_role = replica`` (no audit rows, no webhook triggers: a scratch
database of a benchmark, never a deployment's) and analysed afterwards.

    .venv/bin/python benchmarks/grow.py --dir /tmp/gw-scale --incidents 1 10 100 --cameras 10 100

keeps a cluster under ``--dir`` (started, never destroyed) with one database per size, ``gw_i1``, ``gw_i10``,
``gw_i100``, ``gw_c10``, ``gw_c100``, made from the demo by ``CREATE DATABASE … TEMPLATE`` and grown, and
prints their URLs; a second run reuses the databases it finds (``--fresh`` remakes them).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

YEARS = 10
JITTER_DEG = 0.0003      # ≤ ~30 m: copies of one year stay in their grid (almost always) and do not stack
CAMERA_SHIFT_DEG = 0.004  # ~400 m: each camera copy is a new site, not the same pole


def _columns(conn, table: str, skip=()) -> list[str]:
    rows = conn.execute(text("SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
                             "AND table_name = :t ORDER BY ordinal_position"), {"t": table}).scalars()
    return [c for c in rows if c not in skip]


def grow_incidents(conn, factor: int, *, years: int = YEARS, progress=print) -> int:
    """Copy the incidents (and their events) so there are ``factor`` times as many; returns the count."""
    if factor <= 1:
        return conn.execute(text("SELECT count(*) FROM incidents")).scalar()
    years = max(1, min(years, factor))
    conn.execute(text("SET session_replication_role = replica"))
    base_max = conn.execute(text("SELECT max(id) FROM incidents")).scalar()
    ev_max = conn.execute(text("SELECT max(id) FROM incident_events")).scalar() or 0
    offset = 10 ** len(str(base_max))          # copy k's ids: id + k * offset
    ev_offset = 10 ** len(str(ev_max))
    times = ("reported_at", "dispatched_at", "deadline", "closed_at", "updated_at")
    inc_cols = _columns(conn, "incidents")
    ev_cols = _columns(conn, "incident_events")
    for k in range(1, factor):
        back, lot = k % years, k // years       # years back; which copy of that year
        shift = f"make_interval(years => {back})"
        sel = []
        for c in inc_cols:
            if c == "id":
                sel.append(f"id + {k * offset}")
            elif c in times:
                sel.append(f"{c} - {shift}")
            elif c in ("external_id", "idempotency_key"):
                sel.append(f"CASE WHEN {c} IS NULL THEN NULL ELSE {c} || '~{k}' END")
            elif c == "duplicate_of_id":
                sel.append(f"duplicate_of_id + {k * offset}")
            elif c == "geom" and lot:
                # a deterministic jitter per incident and copy: the same bytes every run
                sel.append(f"ST_Translate(geom, {JITTER_DEG} * sin(id * 12.9898 + {lot}), "
                           f"{JITTER_DEG} * cos(id * 78.233 + {lot}))")
            else:
                sel.append(c)
        conn.execute(text(f"INSERT INTO incidents ({', '.join(inc_cols)}) SELECT {', '.join(sel)} "
                          f"FROM incidents WHERE id <= {base_max}"))
        esel = []
        for c in ev_cols:
            if c == "id":
                esel.append(f"id + {k * ev_offset}")
            elif c == "incident_id":
                esel.append(f"incident_id + {k * offset}")
            elif c == "at":
                esel.append(f"at - {shift}")
            else:
                esel.append(c)
        conn.execute(text(f"INSERT INTO incident_events ({', '.join(ev_cols)}) SELECT {', '.join(esel)} "
                          f"FROM incident_events WHERE incident_id <= {base_max}"))
        if progress and (k % max(1, factor // 10) == 0 or k == factor - 1):
            progress(f"  incidents: copy {k}/{factor - 1}")
    conn.execute(text("SELECT setval(pg_get_serial_sequence('incidents', 'id'), (SELECT max(id) FROM incidents))"))
    conn.execute(text("SELECT setval(pg_get_serial_sequence('incident_events', 'id'), "
                      "(SELECT max(id) FROM incident_events))"))
    conn.execute(text("SET session_replication_role = DEFAULT"))
    return conn.execute(text("SELECT count(*) FROM incidents")).scalar()


def grow_cameras(conn, factor: int, *, progress=print) -> int:
    """Copy the cameras so there are ``factor`` times as many (new IDs, shifted sites); returns the count."""
    if factor <= 1:
        return conn.execute(text("SELECT count(*) FROM cameras")).scalar()
    if factor > 999:
        raise ValueError("at most 999 copies of the registry (the serial carries the copy number)")
    conn.execute(text("SET session_replication_role = replica"))
    cols = _columns(conn, "cameras")
    base = conn.execute(text("SELECT array_agg(device_id) FROM cameras")).scalar()
    for k in range(1, factor):
        angle = k * 2.399963  # golden angle: the copies fan out evenly around each site
        sel = []
        for c in cols:
            if c == "device_id":
                # 20 digits: centre, industry, type, network kept; the 6-digit serial's first three = copy number
                sel.append(f"left(device_id, 14) || lpad('{k}', 3, '0') || right(device_id, 3)")
            elif c == "geom":
                sel.append(f"ST_Translate(geom, {CAMERA_SHIFT_DEG} * cos({angle}) * (1 + {k} / 50.0), "
                           f"{CAMERA_SHIFT_DEG} * sin({angle}) * (1 + {k} / 50.0))")
            elif c == "name":
                sel.append(f"left(name, 94) || ' #{k}'")
            else:
                sel.append(c)
        conn.execute(text(f"INSERT INTO cameras ({', '.join(cols)}) SELECT {', '.join(sel)} FROM cameras "
                          "WHERE device_id = ANY(:base)"), {"base": base})
        if progress and (k % max(1, factor // 10) == 0 or k == factor - 1):
            progress(f"  cameras: copy {k}/{factor - 1}")
    # a copy's grid is where it now stands (coverage per grid and the layers' scoping read grid_code)
    conn.execute(text("UPDATE cameras c SET grid_code = g.code FROM grids g "
                      "WHERE NOT (c.device_id = ANY(:base)) AND ST_Contains(g.geom, c.geom)"), {"base": base})
    conn.execute(text("UPDATE cameras c SET grid_code = NULL WHERE NOT (c.device_id = ANY(:base)) "
                      "AND NOT EXISTS (SELECT 1 FROM grids g WHERE ST_Contains(g.geom, c.geom))"), {"base": base})
    conn.execute(text("SET session_replication_role = DEFAULT"))
    return conn.execute(text("SELECT count(*) FROM cameras")).scalar()


def demo_database(cluster, name: str = "gw_demo") -> str:
    """A database with the demo district loaded (made once per cluster); returns its URL."""
    from app import migrate
    from app.config import Settings
    from app.db import Database, make_engine
    from app.demo import load_demo

    if name in _databases(cluster):
        return cluster.url(name)
    cluster.ensure_database(name)
    engine = make_engine(cluster.url(name))
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    migrate.upgrade(engine, district_code="510304")
    var = Path(cluster.root) / "var"
    var.mkdir(exist_ok=True)
    settings = Settings({"var_dir": str(var), "secret_key": "bench"}, environ={}, config_file=var / "none.toml")
    with Database(engine).session() as s:
        load_demo(s, ROOT / "data", settings=settings)
    engine.dispose()
    return cluster.url(name)


def _databases(cluster) -> set[str]:
    from app.db import make_engine

    eng = make_engine(cluster.url("postgres"))
    with eng.connect() as conn:
        names = set(conn.execute(text("SELECT datname FROM pg_database")).scalars())
    eng.dispose()
    return names


def grown_database(cluster, name: str, *, incidents: int = 1, cameras: int = 1, fresh: bool = False,
                   progress=print) -> str:
    """``name`` as a copy of the demo database grown ×``incidents`` and ×``cameras``; returns its URL."""
    from app.db import make_engine

    demo = demo_database(cluster)
    have = _databases(cluster)
    admin = make_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if name in have and fresh:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            have.discard(name)
        if name in have:
            admin.dispose()
            return cluster.url(name)
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'gw_demo'"))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE gw_demo'))
    admin.dispose()
    engine = make_engine(cluster.url(name))
    t = time.perf_counter()
    with engine.begin() as conn:
        n_inc = grow_incidents(conn, incidents, progress=progress)
        n_cam = grow_cameras(conn, cameras, progress=progress)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    if progress:
        progress(f"{name}: {n_inc:,} incidents, {n_cam:,} cameras in {time.perf_counter() - t:.0f} s")
    del demo
    return cluster.url(name)


def main(argv=None) -> None:
    from app.pgcluster import Cluster

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/gw-scale"), help="where the cluster lives (kept)")
    ap.add_argument("--incidents", type=int, nargs="*", default=[1, 10, 100])
    ap.add_argument("--cameras", type=int, nargs="*", default=[10, 100])
    ap.add_argument("--fresh", action="store_true", help="remake the grown databases")
    a = ap.parse_args(argv)
    cluster = Cluster(a.dir, fast=True)
    cluster.start()
    urls = {}
    for f in a.incidents:
        urls[f"gw_i{f}"] = grown_database(cluster, f"gw_i{f}", incidents=f, fresh=a.fresh)
    for f in a.cameras:
        urls[f"gw_c{f}"] = grown_database(cluster, f"gw_c{f}", cameras=f, fresh=a.fresh)
    for name, url in urls.items():
        print(f"{name}\t{url}")


if __name__ == "__main__":
    main()
