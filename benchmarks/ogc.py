"""The OGC API's 1,000-feature items page: gridwatch's ``/ogc`` against pygeoapi's PostgreSQL provider, same run.

Loads the demo district into a scratch database (``benchmarks/scratch.py``: a private cluster, or
``DATABASE_URL``), then serves the same view, ``gis.incidents`` (16,174 rows), two ways:

- gridwatch: ``/ogc/collections/incidents/items?limit=1000&offset=K`` with an administrator's API key (so
  the figures include the key and account look-up, the grid-scope rule and the OpenAPI-shaped links);
- pygeoapi: its ``PostgreSQL`` provider configured in-process on the same database and view (``id_field``
  ``id``, ``geom_field`` ``geom``, ``search_path`` ``gis``), its Flask app, ``f=json``, pretty printing off.
  pygeoapi is installed only for the benchmark: ``pip install -e '.[bench]'``.

A third row, ``floor``, is the database alone writing the same page as GeoJSON text (``ST_AsGeoJSON`` per
row, in one query with the count): no server on this database goes under it. Each server is timed server-side (the Flask test client: no network, no socket) and over HTTP (a werkzeug server
on 127.0.0.1 in a thread, a fresh connection per request), for pages at several offsets in turn, after a
warm-up of one request per offset. Prints p50 and p95 in ms per page for both and the ratio (pygeoapi ÷
gridwatch), next to the issue's goals (≤ 50 ms a page on the server, ≥ 2× faster). No asserts on speed:
every response is checked for status 200, 1,000 features and the same ``numberMatched``.

    .venv/bin/python benchmarks/ogc.py [--rounds 10] [--collection incidents] [--no-http]
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
sys.path[:0] = [str(ROOT)]
sys.path.append(str(_HERE))

from scratch import scratch_engine  # noqa: E402  (benchmarks/scratch.py)

HOST = "127.0.0.1"  # loopback only
PAGE = 1000
GOAL_MS, GOAL_RATIO = 50.0, 2.0
#: the views pygeoapi can serve as they are (an id column, a geometry column); the gridwatch id is the same
ID_FIELDS = {"incidents": "id", "cameras": "device_id", "grids": "code", "communities": "code",
             "service_centres": "id", "renovation_sites": "id", "streets": "code", "patrol_tracks": "id"}


def _require_pygeoapi():
    try:
        import pygeoapi  # noqa: F401
        import psycopg2  # noqa: F401  (pygeoapi's PostgreSQL provider connects with psycopg2)
    except ImportError as exc:
        sys.exit(f"benchmarks/ogc.py compares against pygeoapi, installed only for the benchmarks ({exc.name} "
                 "is missing): .venv/bin/pip install -e '.[bench]'")


def pygeoapi_app(engine, collection: str, workdir: Path):
    """pygeoapi's Flask app serving ``gis.<collection>`` of ``engine``'s database through its PostgreSQL
    provider. pygeoapi reads its configuration from the environment when its Flask module is imported."""
    import yaml

    url = engine.url
    host = url.query.get("host") or url.host or "localhost"
    if isinstance(host, tuple):
        host = host[0]
    config = {
        "server": {"bind": {"host": HOST, "port": 5000}, "url": "http://127.0.0.1:5000",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "language": "en-US",
                   "pretty_print": False, "limits": {"default_items": 10, "max_items": PAGE},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "bench", "description": "bench", "keywords": ["bench"],
                               "url": "http://127.0.0.1", "terms_of_service": "none"},
            "license": {"name": "CC-BY 4.0", "url": "http://127.0.0.1/licence"}, "provider": {"name": "bench"}, "contact": {"name": "bench"}},
        "resources": {collection: {
            "type": "collection", "title": collection, "description": f"gis.{collection}",
            "keywords": [collection], "links": [],
            "extents": {"spatial": {"bbox": [104.5, 29.1, 105.1, 29.6],
                                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [{
                "type": "feature", "name": "PostgreSQL",
                "data": {"host": host, "port": url.port or 5432, "dbname": url.database,
                         "user": url.username, "password": url.password or "", "search_path": ["gis"]},
                "id_field": ID_FIELDS[collection], "table": collection, "geom_field": "geom"}]}},
    }
    cfg = workdir / "pygeoapi-config.yml"
    cfg.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    os.environ["PYGEOAPI_CONFIG"] = str(cfg)
    from pygeoapi.openapi import generate_openapi_document
    doc = workdir / "pygeoapi-openapi.yml"
    doc.write_text(generate_openapi_document(cfg, "yaml"), encoding="utf-8")  # compared with == 'yaml' inside
    os.environ["PYGEOAPI_OPENAPI"] = str(doc)
    from pygeoapi.flask_app import APP

    return APP


class Target:
    """One server under test: a WSGI app, the items path for an offset, and the request headers."""

    def __init__(self, name: str, app, path, headers: dict[str, str]):
        self.name, self.app, self.path, self.headers = name, app, path, headers
        self.client = app.test_client()

    def check(self, status: int, body: bytes, offset: int, expected_matched: int) -> None:
        doc = json.loads(body)
        n = len(doc.get("features", []))
        want = min(PAGE, expected_matched - offset)
        if status != 200 or n != want or doc.get("numberMatched", expected_matched) != expected_matched:
            raise SystemExit(f"{self.name} offset {offset}: status {status}, {n} features (want {want}), "
                             f"numberMatched {doc.get('numberMatched')} (want {expected_matched}): "
                             f"{body[:300]!r}")

    def in_process(self, offset: int) -> tuple[int, bytes, float]:
        t0 = time.perf_counter()
        r = self.client.get(self.path(offset), headers=self.headers)
        body = r.get_data()
        return r.status_code, body, time.perf_counter() - t0


def serve(app):
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server(HOST, 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def over_http(port: int, path: str, headers: dict[str, str]) -> tuple[int, bytes, float]:
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        return r.status, body, time.perf_counter() - t0
    finally:
        conn.close()


def run(targets: list[Target], offsets: list[int], rounds: int, matched: int, http_too: bool) -> dict:
    """{(target, mode): [seconds, ...]} for ``rounds`` passes over ``offsets``, targets interleaved."""
    times: dict[tuple[str, str], list[float]] = {}
    servers = {t.name: serve(t.app) for t in targets} if http_too else {}
    try:
        modes = ["server"] + (["http"] if http_too else [])
        for mode in modes:
            for warm in (True, False):
                for _ in range(1 if warm else rounds):
                    for offset in offsets:
                        for t in targets:
                            if mode == "server":
                                status, body, dt = t.in_process(offset)
                            else:
                                status, body, dt = over_http(servers[t.name].server_port, t.path(offset), t.headers)
                            t.check(status, body, offset, matched)
                            if not warm:
                                times.setdefault((t.name, mode), []).append(dt)
    finally:
        for server in servers.values():
            server.shutdown()
    return times


def postgis_floor(engine, collection: str, offsets: list[int], rounds: int) -> list[float]:
    """Seconds for the database alone to write a page as GeoJSON text (count, then the page by id, with
    ``ST_AsGeoJSON`` of each row joined by commas): what no server on this database can go under."""
    from sqlalchemy import text

    key = ID_FIELDS[collection]
    sql = text(f"SELECT (SELECT count(*) FROM gis.{collection}), string_agg(ST_AsGeoJSON(p.*, 'geom', 6)::text, ',') "
               f"FROM (SELECT * FROM gis.{collection} ORDER BY {key} LIMIT {PAGE} OFFSET :o) p")
    times = []
    with engine.connect() as conn:
        for warm in (True, False):
            for _ in range(1 if warm else rounds):
                for offset in offsets:
                    t0 = time.perf_counter()
                    conn.execute(sql, {"o": offset}).one()
                    if not warm:
                        times.append(time.perf_counter() - t0)
    return times


def report(times: dict, sizes: dict, collection: str, matched: int, offsets: list[int], rounds: int) -> None:
    print(f"\n== OGC API items, {PAGE:,}-feature pages of gis.{collection} ({matched:,} rows), "
          f"offsets {offsets}, {rounds} rounds ==")
    print(f"{'mode':<8} {'server':<10} {'p50 ms':>8} {'p95 ms':>8} {'KB/page':>8}")
    p50, p95 = {}, {}
    order = {"server": 0, "http": 1, "floor": 2}
    for (name, mode), ts in sorted(times.items(), key=lambda kv: (order[kv[0][1]], kv[0][0])):
        ms = np.array(ts) * 1000
        p50[(name, mode)], p95[(name, mode)] = float(np.percentile(ms, 50)), float(np.percentile(ms, 95))
        size = f"{sizes[name] / 1024:>8.0f}" if name in sizes else f"{'-':>8}"
        print(f"{mode:<8} {name:<10} {p50[(name, mode)]:>8.1f} {p95[(name, mode)]:>8.1f} {size}")
    for mode in ("server", "http"):
        if ("gridwatch", mode) in p50:
            g, p = p50[("gridwatch", mode)], p50[("pygeoapi", mode)]
            r95 = p95[("pygeoapi", mode)] / p95[("gridwatch", mode)]
            print(f"{mode:<8} ratio pygeoapi/gridwatch p50: {p / g:.1f}×, p95: {r95:.1f}×  (goal ≥ {GOAL_RATIO:.0f}×)"
                  + (f";  gridwatch {g:.1f} ms a page (goal ≤ {GOAL_MS:.0f} ms)" if mode == "server" else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="passes over the offsets (default 10)")
    parser.add_argument("--collection", default="incidents", choices=sorted(ID_FIELDS))
    parser.add_argument("--no-http", action="store_true", help="server-side (test client) figures only")
    args = parser.parse_args()
    _require_pygeoapi()

    from sqlalchemy import text

    from app import create_app
    from app.accounts.keys import add_api_key
    from app.config import Settings
    from app.db import Database
    from app.demo import create_demo_accounts, load_demo

    with scratch_engine() as engine:
        tmp = Path(tempfile.mkdtemp(prefix="gridwatch-bench-ogc-"))
        try:
            settings = Settings({"var_dir": str(tmp / "var"), "secret_key": "bench"}, environ={},
                                config_file=tmp / "none.toml")
            db = Database(engine)
            with db.session() as s:
                load_demo(s, ROOT / "data", settings=settings)
                create_demo_accounts(s)
                key = add_api_key(s, "bench-ogc", "admin")
            with engine.connect() as conn:
                matched = conn.execute(text(f"SELECT count(*) FROM gis.{args.collection}")).scalar()
            offsets = [o for o in (0, matched // 4, matched // 2, 3 * matched // 4, matched - PAGE) if o >= 0]
            gw = Target("gridwatch", create_app(settings, database=db),
                        lambda o: f"/ogc/collections/{args.collection}/items?limit={PAGE}&offset={o}",
                        {"X-API-Key": key, "Accept": "application/geo+json"})
            pg = Target("pygeoapi", pygeoapi_app(engine, args.collection, tmp),
                        lambda o: f"/collections/{args.collection}/items?f=json&limit={PAGE}&offset={o}",
                        {"Accept": "application/geo+json"})
            sizes = {t.name: len(t.in_process(0)[1]) for t in (gw, pg)}
            times = run([gw, pg], offsets, args.rounds, matched, not args.no_http)
            times[("PostGIS", "floor")] = postgis_floor(engine, args.collection, offsets, args.rounds)
            report(times, sizes, args.collection, matched, offsets, args.rounds)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
