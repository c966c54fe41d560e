"""Dashboard page sizes and render times at 16,000 (the demo year) and 160,000 incidents (ten years).

Starts a scratch PostGIS cluster, loads the demo district, renders each dashboard through the Flask
test client, then synthesises nine earlier years (copies of the demo incidents shifted back 1–9
years, same places and states) and renders again. Beside each page it prints what embedding every
matching incident would weigh (the alternative the page avoids by capping markers, clustering,
aggregating heat cells in SQL and loading by bounding box).

    .venv/bin/python benchmarks/dashboard.py
"""
from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_engine  # noqa: E402  (benchmarks/scratch.py)

PAGES = [("operator", "operator", "/dashboard/operator"), ("grid lead", "lead", "/dashboard/grid"),
         ("planner", "planner", "/dashboard/planner"), ("statistics", "operator", "/dashboard/stats"),
         ("api bbox", "operator", "/api/incidents?bbox=104.70,29.30,104.80,29.40")]


def _login(client, account):
    from app.demo import DEMO_ACCOUNTS

    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    client.post("/login", data={"username": account, "password": DEMO_ACCOUNTS[account][1], "csrf_token": token})


def measure(app, label: str) -> None:
    from sqlalchemy import text

    from app import web
    from app.dashboards import service

    with app.app_context():
        s = web.db_session()
        n, n_open = s.execute(text("SELECT count(*), count(*) FILTER (WHERE state = ANY(:o)) FROM incidents"),
                              {"o": list(service.OPEN_STATES)}).one()
        t0 = time.perf_counter()
        everything = service.incident_geojson(s, service.IncidentFilter(), None, basemap="none", limit=10**7)
        t_all = time.perf_counter() - t0
        import json
        all_size = len(json.dumps(everything, ensure_ascii=False).encode())
    print(f"\n== {label}: {n:,} incidents, {n_open:,} open ==")
    print(f"{'page':<12} {'size KB':>9} {'render s':>9}   (warm, best of 2)")
    for name, account, path in PAGES:
        client = app.test_client()
        _login(client, account)
        best, size = 1e9, 0
        for _ in range(2):
            t0 = time.perf_counter()
            r = client.get(path)
            best = min(best, time.perf_counter() - t0)
            assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:300])
            size = len(r.data)
        print(f"{name:<12} {size / 1024:>9.0f} {best:>9.2f}")
    print(f"{'alternative':<12} {all_size / 1024:>9.0f} {t_all:>9.2f}   every open incident as GeoJSON markers "
          f"(×{all_size / 1024 / 1024:.1f} MB, what an uncapped operator page would embed)")


def synthesise(engine, years: int = 9) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO incidents (external_id, category_code, source, description, address, priority, state, "
            "reported_at, dispatched_at, deadline, closed_at, grid_code, community_code, geom) "
            "SELECT 'SYN' || y || '-' || i.id, i.category_code, i.source, i.description, i.address, i.priority, "
            "i.state, i.reported_at - make_interval(years => y), i.dispatched_at - make_interval(years => y), "
            "i.deadline - make_interval(years => y), i.closed_at - make_interval(years => y), i.grid_code, "
            "i.community_code, i.geom FROM incidents i CROSS JOIN generate_series(1, :years) AS y "
            "WHERE i.external_id NOT LIKE 'SYN%'"), {"years": years})
        conn.execute(text("ANALYZE incidents"))


def main() -> None:
    from app import create_app
    from app.config import Settings
    from app.db import Database
    from app.demo import create_demo_accounts, load_demo

    with scratch_engine() as engine:
        db = Database(engine)
        with db.session() as s:
            load_demo(s, ROOT / "data")
            create_demo_accounts(s)
        tmp = Path(tempfile.mkdtemp(prefix="gridwatch-bench-var-"))
        app = create_app(Settings({"var_dir": str(tmp), "secret_key": "bench"}, environ={},
                                  config_file=tmp / "none.toml"), database=db)
        measure(app, "one year (demo)")
        synthesise(engine)
        measure(app, "ten years (demo + 9 synthetic years)")


if __name__ == "__main__":
    main()
