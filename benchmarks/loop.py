"""Benchmark: the closed loop's new paths (issue 12), each beside the alternative a user would pick.

    .venv/bin/python benchmarks/loop.py [--rows 200] [--reports 60]

1. The actions a user may take on a page of incidents (a task list, the work-order list): one batch
   (``permissions.actions_for``: two queries whatever the rows) against asking per row
   (``service.allowed_actions`` per incident, as the pages did before).
2. ``POST /report`` in process (Flask test client, real PostGIS): a new report, the same report sent
   again (its idempotency key finds the incident: what a retried send from an offline phone costs),
   and a new report with one 12-megapixel phone photo (verified, EXIF removed, re-encoded, thumbnail).
3. ``GET /api/workorders`` (50 rows, counts per state, actions in one batch) against the same page's
   rows selected by one plain SQL query.

Uses DATABASE_URL when set, else a throw-away private cluster.
"""
from __future__ import annotations

import argparse
import io
import re
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_engine  # noqa: E402  (benchmarks/scratch.py)

TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


def _best(fn, repeat: int) -> float:
    """The median of ``repeat`` timings of ``fn()``, in seconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def _photo() -> bytes:
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(7).integers(0, 255, (3000, 4000, 3), dtype=np.uint8)  # 12 MP, like a phone
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200, help="incidents on the page of part 1")
    parser.add_argument("--reports", type=int, default=60, help="reports per kind in part 2")
    args = parser.parse_args()
    from app import create_app
    from app.accounts.models import User
    from app.config import Settings
    from app.db import Database
    from app.demo import DEMO_ACCOUNTS, create_demo_accounts, load_demo
    from app.incidents import permissions, service
    from app.incidents.models import OPEN_STATES, Incident

    with scratch_engine() as engine:
        db = Database(engine)
        settings = Settings({"var_dir": str(ROOT / "var" / "bench-loop"), "secret_key": "bench"})  # a root
        with db.session() as s:
            load_demo(s, ROOT / "data", settings=settings)
            grid = create_demo_accounts(s)

        print(f"1. actions for {args.rows} open incidents")
        with db.session() as s:
            rows = s.scalars(select(Incident).where(Incident.state.in_(OPEN_STATES)).order_by(Incident.id)
                             .limit(args.rows)).all()
            for name in ("operator", "lead", "member"):
                user = s.scalar(select(User).where(User.username == name))
                batch = _best(lambda: permissions.actions_for(s, user, rows), 7)
                per_row = _best(lambda: [service.allowed_actions(i, user) for i in rows], 3)
                same = permissions.actions_for(s, user, rows) == {i.id: service.allowed_actions(i, user) for i in rows}
                print(f"   {name:<9} batch {batch * 1000:7.1f} ms   per row {per_row * 1000:7.1f} ms   "
                      f"ratio {per_row / batch:5.1f}x   same answers: {same}")

        app = create_app(settings, database=db)
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        client.post("/login", data={"username": "member", "password": DEMO_ACCOUNTS["member"][1],
                                    "csrf_token": TOKEN.search(page).group(1)})
        csrf = TOKEN.search(client.get("/report").get_data(as_text=True)).group(1)
        with db.session() as s:
            lon, lat = s.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids "
                                      "WHERE code = :g) q"), {"g": grid}).one()
            category = s.execute(text("SELECT min(code) FROM categories")).scalar()
        photo = _photo()

        def report(key, photos=()):
            data = {"csrf_token": csrf, "idempotency_key": key, "category": category, "crs": "wgs84",
                    "lon": f"{lon:.7f}", "lat": f"{lat:.7f}", "description": f"benchmark {key}"}
            if photos:
                data["photos"] = [(io.BytesIO(b), "phone.jpg", "image/jpeg") for b in photos]
            r = client.post("/report", data=data, headers={"Accept": "application/json"},
                            content_type="multipart/form-data")
            assert r.status_code in (200, 201), r.get_data(as_text=True)[:300]
            return r.status_code

        print(f"2. POST /report as a member, in process ({args.reports} each)")
        keys = [uuid.uuid4().hex for _ in range(args.reports)]
        report(uuid.uuid4().hex)  # warm the grid index, as a running server has it
        t = time.perf_counter()
        assert all(report(k) == 201 for k in keys)
        new = (time.perf_counter() - t) / len(keys)
        t = time.perf_counter()
        assert all(report(k) == 200 for k in keys)
        replay = (time.perf_counter() - t) / len(keys)
        n_photo = max(3, args.reports // 10)
        t = time.perf_counter()
        assert all(report(uuid.uuid4().hex, [photo]) == 201 for _ in range(n_photo))
        with_photo = (time.perf_counter() - t) / n_photo
        print(f"   new report {new * 1000:7.1f} ms   the same report again (replay) {replay * 1000:7.1f} ms   "
              f"ratio {new / replay:4.1f}x")
        print(f"   new report with one 12 MP photo ({len(photo) / 1e6:.1f} MB) {with_photo * 1000:7.0f} ms   "
              f"{with_photo / new:5.0f}x a report without")

        print("3. GET /api/workorders, 50 rows, as the operator")
        op = app.test_client()
        page = op.get("/login").get_data(as_text=True)
        op.post("/login", data={"username": "operator", "password": DEMO_ACCOUNTS["operator"][1],
                                "csrf_token": TOKEN.search(page).group(1)})
        assert op.get("/api/workorders?limit=50").status_code == 200
        api = _best(lambda: op.get("/api/workorders?limit=50"), 15)
        with db.session() as s:
            sql = _best(lambda: s.execute(text(
                "SELECT i.id, i.external_id, i.state, i.priority, i.grid_code, i.deadline, i.reported_at, "
                "ST_X(i.geom), ST_Y(i.geom), c.name_zh, m.name FROM incidents i JOIN categories c ON "
                "c.code = i.category_code LEFT JOIN members m ON m.id = i.assignee_id WHERE i.state = ANY(:o) "
                "ORDER BY (i.deadline < now()) DESC NULLS LAST, i.deadline NULLS LAST, i.reported_at LIMIT 50"),
                {"o": list(OPEN_STATES)}).all(), 15)
        print(f"   the API {api * 1000:7.1f} ms   one plain SQL query for the rows {sql * 1000:6.1f} ms   "
              f"ratio {api / sql:4.1f}x (the API adds counts per state, totals, names and actions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
