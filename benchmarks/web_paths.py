"""The web paths over real HTTP: map reads against the single PostGIS query that yields the same features,
and Open311 reports alone, under 50 clients, and while 20 readers poll ``/api/incidents``.

Starts a PostgreSQL cluster of its own (durable like ``gridwatch db start``; ``--fast`` turns fsync off;
``DATABASE_URL`` uses that server), loads the demo district and its accounts, issues an API key through
``gridwatch api-keys add``, then for each server configuration starts the server as a subprocess on a
free 127.0.0.1 port and drives it over loopback with bounded loops (fixed request counts, a time cap):

- ``after``: ``gridwatch serve`` as deployed (gunicorn, default workers × threads);
- ``before``: waitress with 4 threads, the server ``gridwatch serve`` ran until now (when installed:
  ``pip install -e .[bench]``), on the same code; or, with ``--before-ref COMMIT``, ``gridwatch serve`` of
  that commit (a checkout of it on the same database): two versions of the code in one run.

Prints per configuration: ``/healthz`` req/s at 50 clients (the server's own ceiling, base of the
ratios); ``/api/incidents`` (1,000 newest) and the operator page, median latency against the
in-process PostGIS query that writes the same features as GeoJSON (``json_agg``, ``ST_AsGeoJSON``);
Open311 POST req/s and p50/p95/p99 at 1 and 50 clients; acknowledged (201) against stored (rows
counted afterwards); POST req/s while 20 readers read ``/api/incidents`` in full, and while 20 live maps
poll it as the page does (one full read, then ``after=`` the last answer's cursor: what changed), with the
readers' req/s.

    .venv/bin/python benchmarks/web_paths.py [--fast] [--posts 1500] [--only after] [--before-ref COMMIT]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent
sys.path[:0] = [str(ROOT)]
sys.path.append(str(_HERE))

from scratch import checkout, scratch_engine  # noqa: E402  (benchmarks/scratch.py)

HOST = "127.0.0.1"  # loopback only: nothing here ever leaves the machine
TIME_CAP_S = 60     # no load phase runs longer than this, whatever its request count
CLIENTS, READERS = 50, 20
WAITRESS = """
import logging, sys
logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth is 66" under load
from waitress import serve
from app import create_app
serve(create_app(), host="127.0.0.1", port=int(sys.argv[1]), threads=4, ident="gridwatch", _quiet=True)
"""


# -- a minimal keep-alive HTTP client (one connection per simulated client) ------------------------------
class Client:
    def __init__(self, port: int, cookie: str | None = None):
        self.port, self.cookie = port, cookie
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes, float]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        t0 = time.perf_counter()
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                return r.status, data, time.perf_counter() - t0
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()  # an idle keep-alive connection the server closed: reconnect once
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                if attempt or method == "POST":
                    raise
        raise AssertionError("unreachable")


def load(port: int, n_clients: int, make_request, *, total: int, cookie: str | None = None,
         stop: threading.Event | None = None, answered=None) -> dict:
    """``n_clients`` threads share ``total`` requests (``make_request(i) -> (method, path, body)``) until done,
    ``TIME_CAP_S`` or ``stop``; ``answered(status, body)`` is called in the client's thread after each answer
    (a client that keeps state, in a ``threading.local``). Returns req/s, latencies (s) and status counts."""
    counter, lock = iter(range(total)), threading.Lock()
    lat: list[float] = []
    statuses: dict[int | str, int] = {}
    deadline = time.perf_counter() + TIME_CAP_S

    def worker():
        c = Client(port, cookie)
        while time.perf_counter() < deadline and not (stop and stop.is_set()):
            with lock:
                i = next(counter, None)
            if i is None:
                return
            method, path, body = make_request(i)
            try:
                status, data, dt = c.request(method, path, body)
                if answered:
                    answered(status, data)
            except (OSError, http.client.HTTPException) as exc:
                status, dt = type(exc).__name__, None
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if dt is not None:
                    lat.append(dt)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return {"n": len(lat), "rps": len(lat) / elapsed, "lat": np.array(lat) if lat else np.array([np.nan]),
            "status": statuses}


def postmaster_pid(engine) -> int:
    """PostgreSQL's postmaster: the parent of any backend (its CPU and its children's, ``server_cpu``)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        backend = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by the server process and its workers (Linux /proc): a per-request cost
    that other programs on a busy machine do not inflate the way they inflate latencies."""
    pids, total = [pid], 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        pids += [int(p) for p in (task / "children").read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def pct(result: dict) -> str:
    p50, p95, p99 = np.percentile(result["lat"], [50, 95, 99]) * 1000
    return f"p50 {p50:6.1f}  p95 {p95:6.1f}  p99 {p99:6.1f} ms"


# -- the server under test ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@contextmanager
def running(cmd: list[str], env: dict, port: int):
    log = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a chatty server never blocks on it
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True, cwd=env.get("PYTHONPATH", ROOT),
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection((HOST, port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.2)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.seek(0)
        text = log.read().strip()
        if text:
            print("  server said: " + text[-1500:].replace("\n", "\n  "))
        log.close()


def log_in(port: int, username: str, password: str) -> str:
    c = Client(port)
    c.conn.request("GET", "/login")
    r = c.conn.getresponse()
    html = r.read().decode()
    cookie = "; ".join(v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie")
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    body = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": token})
    c.conn.request("POST", "/login", body=body, headers={"Cookie": cookie,
                                                         "Content-Type": "application/x-www-form-urlencoded"})
    r = c.conn.getresponse()
    r.read()
    assert r.status in (302, 303), f"log-in answered {r.status}"
    return "; ".join(v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie") or cookie


# -- the PostGIS queries that write the same features --------------------------------------------------------
MARKERS_SQL = """
SELECT coalesce(json_agg(json_build_object('type', 'Feature', 'geometry', ST_AsGeoJSON(f.geom, 6)::json,
  'properties', json_build_object('id', f.id, 'no', coalesce(nullif(f.external_id, ''), f.id::text), 'state', f.state,
  'overdue', coalesce(f.state = ANY(:open) AND f.deadline < now(), false), 'category', f.category,
  'reported_at', to_char(f.reported_at AT TIME ZONE :tz, 'YYYY-MM-DD HH24:MI'),
  'deadline', to_char(f.deadline AT TIME ZONE :tz, 'YYYY-MM-DD HH24:MI'), 'grid_code', f.grid_code))
  ORDER BY f.reported_at DESC, f.id DESC), '[]'::json)
FROM (SELECT i.*, c.name_zh AS category FROM incidents i JOIN categories c ON c.code = i.category_code
      WHERE i.state = ANY(:states) AND i.reported_at >= :start ORDER BY i.reported_at DESC, i.id DESC LIMIT :n) f"""

API_SQL = f"SELECT json_build_object('type', 'FeatureCollection', 'features', ({MARKERS_SQL}))::text"


def _boundary_sql(table: str, props: str) -> str:
    return (f"(SELECT json_build_object('type', 'FeatureCollection', 'features', json_agg(json_build_object("
            f"'type', 'Feature', 'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, 2e-5), 6)::json, "
            f"'properties', json_build_object({props})) ORDER BY code)) FROM {table})")


PAGE_SQL = f"""SELECT json_build_array(
  {_boundary_sql('streets', "'name', name, 'code', code, 'kind', kind")},
  {_boundary_sql('communities', "'name', name, 'code', code, 'street_code', street_code")},
  {_boundary_sql('grids', "'name', name, 'code', code, 'community_code', community_code, 'households', households, "
                          "'population', population")},
  (SELECT json_agg(json_build_object('type', 'Feature', 'geometry', ST_AsGeoJSON(geom, 6)::json, 'properties',
     json_build_object('name', name, 'status', status, 'device_id', device_id, 'programme', programme,
     'ptz_type', ptz_type, 'azimuth', round(azimuth), 'fov', round(fov), 'range_m', round(range_m),
     'grid_code', grid_code, 'address', address)) ORDER BY device_id) FROM cameras),
  ({MARKERS_SQL}),
  (SELECT json_agg(json_build_array(round(ST_Y(c)::numeric, 5), round(ST_X(c)::numeric, 5), n))
     FROM (SELECT ST_SnapToGrid(geom, 0.001) AS c, count(*) AS n FROM incidents WHERE state = ANY(:states)
           GROUP BY 1) h))::text"""


def paired(engine, port: int, cookie: str, path: str, sql: str, params: dict, repeat: int = 15, cold: int = 16):
    """Median seconds of the HTTP request and of the PostGIS query, taken in turns so both see the same
    machine (other programs' load changes by the second); with sizes and the answer's feature count; and the
    median of the first ``cold`` requests. Those come right after the 50-client ``/healthz`` phase, which grew
    every worker's pool: they land on workers and pooled connections (new PostgreSQL backends) that have not
    served this path yet, which is not the steady state of a running server (measured by hand: 26 ms for the
    first round after such a burst, 14 ms from the third round on, the query alone 9.5 ms)."""
    from sqlalchemy import text

    c = Client(port, cookie)
    t_http, t_sql, t_cold, size, n, sql_size = [], [], [], 0, 0, 0
    with engine.connect() as conn:
        for i in range(cold + repeat):
            status, body, dt = c.request("GET", path)
            assert status == 200, (path, status, body[:300])
            t0 = time.perf_counter()
            sql_size = len(conn.execute(text(sql), params).scalar())
            if i >= cold:
                t_http.append(dt)
                t_sql.append(time.perf_counter() - t0)
            else:
                t_cold.append(dt)
            size, n = len(body), body.count(b'"type":"Feature"')
    return float(np.median(t_http)), float(np.median(t_sql)), size, n, sql_size, float(np.median(t_cold))


# -- one configuration ---------------------------------------------------------------------------------------
def measure(label: str, cmd: list[str], env: dict, engine, key: str, setup: dict, posts: int) -> dict:
    from sqlalchemy import text

    port = free_port()
    out = {}
    with running([a.replace("{port}", str(port)) for a in cmd], env, port) as proc:
        postmaster = postmaster_pid(engine)

        def timed(*a, **kw):  # a load phase, with the CPU per answered request of each part of the machine
            c0, p0, b0 = server_cpu(proc.pid), server_cpu(postmaster), time.process_time()
            result = load(*a, **kw)
            n = max(1, result["n"])
            result["cpu_ms"] = (server_cpu(proc.pid) - c0) * 1000 / n
            result["pg_ms"] = (server_cpu(postmaster) - p0) * 1000 / n
            result["client_ms"] = (time.process_time() - b0) * 1000 / n
            return result

        def cpu(result: dict) -> str:
            return (f"CPU per request: server {result['cpu_ms']:.1f} · PostgreSQL {result['pg_ms']:.1f} · "
                    f"client {result['client_ms']:.1f} ms")

        with engine.connect() as conn:
            newest_before = conn.execute(text("SELECT max(id) FROM incidents")).scalar()
        print(f"\n== {label} ==   (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        cookie = log_in(port, "operator", setup["password"])
        health = timed(port, CLIENTS, lambda i: ("GET", "/healthz", None), total=3000)
        print(f"/healthz, {CLIENTS} clients     {health['rps']:7.0f} req/s   {pct(health)}   {health['status']}   "
              f"{cpu(health)}")
        for name, path, sql, params in (
                ("/api/incidents 1,000 newest", setup["api_path"], API_SQL, setup["api_params"]),
                ("operator page", "/dashboard/operator", PAGE_SQL, setup["page_params"])):
            t_http, t_sql, size, n, sql_size, t_cold = paired(engine, port, cookie, path, sql, params)
            out[name] = (t_http, t_sql)
            print(f"{name:<28} {t_http * 1000:7.1f} ms over HTTP ({size / 1024:.0f} KB, {n} features)   "
                  f"PostGIS json_agg {t_sql * 1000:6.1f} ms ({sql_size / 1024:.0f} KB)   ratio {t_http / t_sql:4.1f}×   "
                  f"(the first requests after the /healthz burst: {t_cold * 1000:.1f} ms)")
        # the grid lead's page (their grids' map, tasks and last week's patrols): no single query to compare
        # with, so the median over HTTP, after as many warm-up requests as the paired phase takes
        lead = Client(port, log_in(port, "lead", setup["lead_password"]))
        times = [lead.request("GET", "/dashboard/grid") for _ in range(31)]
        assert all(t[0] == 200 for t in times), [t[0] for t in times]
        out["grid lead page"] = float(np.median([t[2] for t in times[16:]]))
        print(f"{'grid lead page':<28} {out['grid lead page'] * 1000:7.1f} ms over HTTP ({len(times[-1][1]) / 1024:.0f} KB)")

        cats, spots = setup["categories"], setup["spots"]

        def post(i):
            lon, lat = spots[i % len(spots)]
            body = urllib.parse.urlencode({
                "api_key": key, "service_code": cats[i % len(cats)], "lat": f"{lat:.6f}", "long": f"{lon:.6f}",
                "description": f"benchmark report {label[:12]} {i}", "first_name": "测试"})
            return "POST", "/open311/v2/requests.json", body

        with engine.connect() as conn:
            before = conn.execute(text("SELECT count(*) FROM incidents")).scalar()
        one = timed(port, 1, post, total=max(50, posts // 10))
        print(f"Open311 POST, 1 client      {one['rps']:7.0f} req/s   {pct(one)}   {one['status']}   "
              f"{cpu(one)}")
        many = timed(port, CLIENTS, post, total=posts)
        print(f"Open311 POST, {CLIENTS} clients    {many['rps']:7.0f} req/s   {pct(many)}   {many['status']}   "
              f"({many['rps'] / health['rps']:.0%} of /healthz)   {cpu(many)}")
        # readers: the full answer each time (the page's first read, over and over), then live maps: one full
        # read, then polls of what changed after the last answer's cursor, as the map does every 30 s
        # (here back to back, with no pause)
        state = threading.local()

        def live_map(i):
            cursor = getattr(state, "cursor", None)
            return "GET", "/api/incidents" + (f"?after={urllib.parse.quote(cursor)}" if cursor else ""), None

        def live_answer(status, data):
            if status == 200:
                state.cursor = json.loads(data)["cursor"]

        phases = {}
        for name, make_read, answered in (("readers", lambda i: ("GET", "/api/incidents", None), None),
                                          ("live maps", live_map, live_answer)):
            stop = threading.Event()
            readers: dict = {}

            def read():
                readers.update(load(port, READERS, make_read, total=10**6, cookie=cookie, stop=stop,
                                    answered=answered))

            reader_thread = threading.Thread(target=read)
            reader_thread.start()
            time.sleep(0.5)  # readers at full speed before the writers start
            c0, p0 = server_cpu(proc.pid), server_cpu(postmaster)
            mixed = load(port, CLIENTS, post, total=posts)
            stop.set()
            reader_thread.join()
            print(f"POST with {READERS} {name:<10}  {mixed['rps']:7.0f} req/s   {pct(mixed)}   {mixed['status']}")
            print(f"  the {READERS} {name:<10}      {readers['rps']:7.0f} req/s   {pct(readers)}   {readers['status']}")
            both = max(1, mixed['n'] + readers['n'])
            print(f"  CPU per request: server {(server_cpu(proc.pid) - c0) * 1000 / both:.1f} · PostgreSQL "
                  f"{(server_cpu(postmaster) - p0) * 1000 / both:.1f} ms (reports and reads together)")
            phases[name] = (mixed, dict(readers))
        (mixed, readers), (live_mixed, live) = phases["readers"], phases["live maps"]
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM incidents")).scalar() - before
        acked = sum(r["status"].get(201, 0) for r in (one, many, mixed, live_mixed))
        print(f"acknowledged 201: {acked}   stored: {stored}   lost: {max(0, acked - stored)}")
        out.update(health=health["rps"], one=one, many=many, mixed=mixed, readers=readers, live_mixed=live_mixed,
                   live=live, acked=acked, stored=stored)
        with engine.begin() as conn:  # the next configuration reads the same district
            conn.execute(text("DELETE FROM incidents WHERE id > :n"), {"n": newest_before})
        print(f"(load average {os.getloadavg()[0]:.1f} at the end)")
    return out


def prepare(engine, env: dict) -> tuple[str, dict]:
    """Demo district, its accounts and an API key (through the CLI, as an administrator would)."""
    from sqlalchemy import text

    from app.config import Settings
    from app.db import Database
    from app.demo import DEMO_ACCOUNTS, create_demo_accounts, load_demo
    from app.incidents.models import OPEN_STATES, STATES

    settings = Settings(environ={}, config_file=os.devnull)  # a benchmark is a composition root of its own
    with Database(engine).session() as s:
        load_demo(s, ROOT / "data", settings=settings)
        create_demo_accounts(s)
    r = subprocess.run([sys.executable, "-c", "from app.cli import main; main()", "api-keys", "add", "benchmark",
                        "--user", "operator"], env=env, capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip().splitlines()[-1]
    with engine.connect() as conn:
        cats = conn.execute(text("SELECT code FROM categories ORDER BY code")).scalars().all()
        spots = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM incidents ORDER BY random() LIMIT 500")).all()
        # the day whose start gives the 1,000 newest incidents (the API answers at most 2,000)
        start = conn.execute(text("SELECT reported_at FROM incidents ORDER BY reported_at DESC, id DESC "
                                  "OFFSET 999 LIMIT 1")).scalar()
    tz = settings.timezone
    day = start.astimezone(__import__("zoneinfo").ZoneInfo(tz)).date()
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM incidents WHERE reported_at >= (CAST(:d AS date)::timestamp "
                              "AT TIME ZONE :tz)"), {"d": day, "tz": tz}).scalar()
        first = conn.execute(text("SELECT CAST(:d AS date)::timestamp AT TIME ZONE :tz"), {"d": day, "tz": tz}).scalar()
    random.Random(7).shuffle(spots)
    return key, {
        "password": DEMO_ACCOUNTS["operator"][1], "lead_password": DEMO_ACCOUNTS["lead"][1], "categories": cats, "spots": [tuple(p) for p in spots],
        "api_path": f"/api/incidents?state=all&start={day.isoformat()}",
        "api_params": {"open": list(OPEN_STATES), "tz": tz, "states": list(STATES), "start": first, "n": min(n, 2000)},
        "page_params": {"open": list(OPEN_STATES), "tz": tz, "states": list(OPEN_STATES),
                        "start": __import__("datetime").datetime(1970, 1, 1, tzinfo=__import__("datetime").timezone.utc),
                        "n": 1000},
    }


@contextmanager
def database(fast: bool):
    if fast or os.environ.get("DATABASE_URL"):
        with scratch_engine() as engine:
            yield engine
        return
    from app import migrate
    from app.db import make_engine
    from app.pgcluster import Cluster
    from sqlalchemy import text

    cluster = Cluster(tempfile.mkdtemp(prefix="gridwatch-bench-pg-"))  # durable: fsync on, like `db start`
    cluster.start()
    cluster.ensure_database("bench")
    engine = make_engine(cluster.url("bench"))
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        migrate.upgrade(engine, district_code="510304")
        yield engine
    finally:
        engine.dispose()
        cluster.destroy()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fast", action="store_true", help="fsync off in the benchmark's cluster")
    parser.add_argument("--posts", type=int, default=1500, help="Open311 reports per 50-client phase")
    parser.add_argument("--only", choices=["before", "after"], help="one configuration only")
    parser.add_argument("--workers", type=int, help="gridwatch serve --workers (default: its own)")
    parser.add_argument("--threads", type=int, help="gridwatch serve --threads (default: its own)")
    parser.add_argument("--before-ref", metavar="COMMIT",
                        help="the 'before' column is `gridwatch serve` of this commit (a checkout of it, same "
                             "database and schema) instead of waitress: two versions of the code side by side")
    args = parser.parse_args()
    from app.server import DEFAULT_THREADS, DEFAULT_WORKERS

    with database(args.fast) as engine:
        var = Path(tempfile.mkdtemp(prefix="gridwatch-bench-var-"))
        env = {**os.environ, "DATABASE_URL": engine.url.render_as_string(hide_password=False),
               "GRIDWATCH_VAR_DIR": str(var), "GRIDWATCH_CONFIG": str(var / "none.toml"),
               "GRIDWATCH_SECRET_KEY": "benchmark", "PYTHONPATH": str(ROOT)}
        try:
            key, setup = prepare(engine, env)
            workers, threads = args.workers or DEFAULT_WORKERS, args.threads or DEFAULT_THREADS
            configs = {"after": (f"after: gridwatch serve, gunicorn {workers} workers × {threads} threads",
                                 [sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", "{port}",
                                  "--workers", str(workers), "--threads", str(threads)])}
            envs = {"after": env, "before": env}
            if args.before_ref:
                old = checkout(args.before_ref, var / "before")
                envs["before"] = {**env, "PYTHONPATH": str(old)}
                configs["before"] = (f"before: gridwatch serve of {args.before_ref}, gunicorn {workers} workers × "
                                     f"{threads} threads", configs["after"][1])
            else:
                try:
                    import waitress  # noqa: F401

                    configs["before"] = ("before: waitress, 4 threads (one process)",
                                         [sys.executable, "-c", WAITRESS, "{port}"])
                except ImportError:
                    print("(waitress not installed: no 'before' column; pip install -e .[bench])")
            for name in ("before", "after"):
                if name in configs and args.only in (None, name):
                    measure(*configs[name], envs[name], engine, key, setup, args.posts)
        finally:
            shutil.rmtree(var, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
