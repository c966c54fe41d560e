"""``gridwatch serve`` as deployed: gunicorn with N worker processes of M threads, started as a real
subprocess on a free loopback port, answering over HTTP from every worker, quiet, and stopping cleanly."""
from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

WORKERS, THREADS = 3, 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> set[int]:
    """PIDs of the direct children of ``pid`` (Linux /proc)."""
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        out |= {int(p) for p in (task / "children").read_text().split()}
    return out


def _workers(pid: int, expected: int) -> set[int]:
    """The worker PIDs once ``expected`` are there (gunicorn forks them one after the other, and the first
    may answer before the last exists); whatever is there after 30 s."""
    deadline = time.monotonic() + 30
    while len(found := _children(pid)) < expected and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # and no more than that
    return _children(pid)


@pytest.fixture(scope="module")
def account_db(database_factory):
    """A migrated database with one operator account (committed: the server is another process)."""
    from app.accounts.service import add_user
    from app.db import Database

    engine = database_factory("http_server")
    with Database(engine).session() as s:
        add_user(s, "op", "correct-horse-9", role="operator")
    return engine


def _start(engine, tmp_path, *args) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "GRIDWATCH_VAR_DIR": str(tmp_path / "var"), "GRIDWATCH_CONFIG": str(tmp_path / "none.toml")}
    proc = subprocess.Popen([sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", str(port),
                             *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5) as r:
                assert r.status == 200 and r.headers["Server"] == "gridwatch"  # no server software named
                return proc, base
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"server did not start: {proc.communicate()[0][-3000:]}")
            time.sleep(0.3)


def _stop(proc: subprocess.Popen, sig) -> str:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    return out


def test_workers_answer_and_stop_on_sigterm(account_db, tmp_path):
    proc, base = _start(account_db, tmp_path, "--workers", str(WORKERS), "--threads", str(THREADS))
    try:
        workers = _workers(proc.pid, WORKERS)
        assert len(workers) == WORKERS, workers
        # log in through the form once, then read with the cookie over fresh connections: whichever
        # worker answers knows the session (it lives in the database, not in a process)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        with opener.open(base + "/login", timeout=10) as r:
            html = r.read().decode()
        assert r.status == 200 and 'name="csrf-token"' in html
        token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
        form = urllib.parse.urlencode({"username": "op", "password": "correct-horse-9", "csrf_token": token})
        with opener.open(base + "/login", data=form.encode(), timeout=10) as r:
            assert r.status == 200 and "/login" not in r.url, r.url
        for _ in range(4 * WORKERS):
            with opener.open(base + "/api/incidents", timeout=10) as r:
                assert r.status == 200 and r.headers["Content-Type"].startswith("application/json")
                assert r.read().startswith(b'{"type":"FeatureCollection"')
    except BaseException:
        proc.kill()
        raise
    out = _stop(proc, signal.SIGTERM)
    assert not any(Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid) for pid in workers)
    lines = [line for line in out.splitlines() if line.strip()]
    # quiet: the address line and "stopped", no boot messages and no access log
    assert lines[0].startswith(f"gridwatch serving on {base}/") and f"{WORKERS} workers × {THREADS} threads" in lines[0]
    assert lines[-1] == "stopped" and len(lines) == 2, out


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "zombie"  # gone


def test_default_workers_and_sigint(account_db, tmp_path):
    """Without options: two workers per core (the documented default), and Ctrl+C stops it."""
    from app.server import DEFAULT_THREADS, DEFAULT_WORKERS

    assert DEFAULT_WORKERS == 2 * os.cpu_count()
    proc, base = _start(account_db, tmp_path)
    try:
        assert len(_workers(proc.pid, DEFAULT_WORKERS)) == DEFAULT_WORKERS
        with urllib.request.urlopen(base + "/api/incidents", timeout=10) as r:
            pytest.fail(f"an API read without log-in answered {r.status}")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
    except BaseException:
        proc.kill()
        raise
    out = _stop(proc, signal.SIGINT)
    assert f"{DEFAULT_WORKERS} workers × {DEFAULT_THREADS} threads" in out and out.rstrip().endswith("stopped")


def _failed_login(base: str, forwarded_for: str) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(base + "/login", timeout=10) as r:
        token = re.search(r'name="csrf-token" content="([^"]+)"', r.read().decode()).group(1)
    form = urllib.parse.urlencode({"username": "op", "password": "wrong-password-1", "csrf_token": token})
    req = urllib.request.Request(base + "/login", data=form.encode(), headers={"X-Forwarded-For": forwarded_for})
    try:
        opener.open(req, timeout=10).read()
    except urllib.error.HTTPError:
        pass  # a refused log-in may answer 4xx; what counts is the recorded address


def test_proxy_hops_give_the_client_address(account_db, tmp_path):
    """Behind nginx (``--proxy-hops 1``) the log-in throttle sees the client's address from X-Forwarded-For;
    without the option a client cannot pick its own address by sending the header."""
    from sqlalchemy import text

    for hops, expected in (("1", "198.51.100.7"), ("0", "127.0.0.1")):
        proc, base = _start(account_db, tmp_path, "--workers", "1", "--threads", "1", "--proxy-hops", hops)
        try:
            _failed_login(base, "198.51.100.7")
        finally:
            _stop(proc, signal.SIGTERM)
        with account_db.connect() as conn:
            addr = conn.execute(text("SELECT client_addr FROM login_attempts WHERE username = 'op' "
                                     "ORDER BY id DESC LIMIT 1")).scalar()
        assert addr == expected, (hops, addr)


def test_master_warms_the_caches_workers_inherit(demo_engine, settings):
    """What every worker would build on its first requests is built once before forking, against the
    database the server uses: the geocoder's grid and community index and the map's unchanging layers."""
    from app import create_app, geocoding
    from app.dashboards import pages
    from app.db import Database
    from app.server import warm

    geocoding._CACHE.clear()
    pages._FRAMES.clear()
    warm(create_app(settings, database=Database(demo_engine)))
    url = demo_engine.url.render_as_string(hide_password=True)
    assert {(url, "grids"), (url, "communities")} <= set(geocoding._CACHE)
    assert [slot[1:] for slot in pages._FRAMES] == [(settings.basemap, None)]
