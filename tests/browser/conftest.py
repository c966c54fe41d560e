"""A live gridwatch server over a committed demo database, and a headless Chromium that may only
talk to it.

Rolled-back test connections cannot be shared with a server thread, so this module makes its own
database (``database_factory``), loads the demo district and the demo accounts, and commits.
Every request the browser makes to anything other than 127.0.0.1 is aborted and recorded.
"""
from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
XSS = '<script>window.__xss=1</script><img src="/xss.png" onerror="window.__xss=2">'
XSS_NAME = '<img src="/xss.png" onerror="window.__xss=3">'  # fits a grid's or camera's name
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def live_data(demo_copy):
    """(engine, facts): demo district + accounts + an XSS incident in the lead's grid, committed."""
    from app.db import Database
    from app.demo import create_demo_accounts

    eng = demo_copy("browser")
    with Database(eng).session() as s:
        grid = create_demo_accounts(s)
        xss_id = s.execute(text(
            "INSERT INTO incidents (external_id, category_code, source, description, address, state, grid_code, "
            "community_code, geom) SELECT 'XSS-1', (SELECT min(code) FROM categories), 'public', :d, :a, "
            "'reported', g.code, g.community_code, ST_PointOnSurface(g.geom) FROM grids g WHERE g.code = :g "
            "RETURNING id"), {"d": XSS, "a": XSS[:190], "g": grid}).scalar()
        other_id = s.execute(text("SELECT min(id) FROM incidents WHERE grid_code <> :g"), {"g": grid}).scalar()
        # names from imported files are user text too: the lead's grid and one camera carry a payload
        s.execute(text("UPDATE grids SET name = :n WHERE code = :g"), {"n": XSS_NAME, "g": grid})
        camera = s.execute(text("UPDATE cameras SET name = :n WHERE device_id = (SELECT min(device_id) FROM cameras) "
                                "RETURNING device_id"), {"n": XSS_NAME}).scalar()
    return eng, {"grid": grid, "xss_id": xss_id, "other_id": other_id, "xss_camera": camera}


@pytest.fixture(scope="session")
def live_server(live_data, tmp_path_factory):
    """Base URL of a real werkzeug server in a thread on 127.0.0.1 (random port)."""
    from werkzeug.serving import make_server

    from app import create_app
    from app.config import Settings
    from app.db import Database

    tmp = tmp_path_factory.mktemp("live")
    settings = Settings({"var_dir": str(tmp / "var"), "secret_key": "browser-secret",
                         "data_dir": str(ROOT / "data")}, environ={}, config_file=tmp / "none.toml")
    app = create_app(settings, database=Database(live_data[0]))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    pw.stop()


class Watched:
    """A page plus what it tried: ``blocked`` non-local URLs and console ``errors``."""

    def __init__(self, page, base: str):
        self.page, self.base, self.blocked, self.errors = page, base, [], []

    def goto(self, path: str):
        return self.page.goto(self.base + path, wait_until="load")

    def login(self, account: str):
        from app.demo import DEMO_ACCOUNTS

        self.goto("/login")
        self.page.fill("input[name=username]", account)
        self.page.fill("input[name=password]", DEMO_ACCOUNTS[account][1])
        with self.page.expect_navigation():
            self.page.click("button[type=submit]")

    def screenshot(self, name: str):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _watched_context(chromium, live_server, **options):
    """A new browser context whose every non-local request is aborted and recorded, and its page."""
    context = chromium.new_context(locale="zh-CN", **options)
    page = context.new_page()
    watched = Watched(page, live_server)
    watched.context = context

    def _route(route):
        host = urlparse(route.request.url).hostname
        if host == "127.0.0.1":
            return route.continue_()
        watched.blocked.append(route.request.url)
        return route.abort()

    context.route("**/*", _route)
    page.on("console", lambda msg: watched.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: watched.errors.append(str(exc)))
    return watched


@pytest.fixture
def web(chromium, live_server):
    watched = _watched_context(chromium, live_server, viewport={"width": 1400, "height": 900})
    yield watched
    watched.context.close()


#: a phone as the field uses it: 390×844, touch, a position (inside the demo district) the page may read
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "permissions": ["geolocation"]}


@pytest.fixture
def phone(chromium, live_server):
    """A phone-sized, touch, mobile context with geolocation allowed (set it with
    ``phone.context.set_geolocation({...})``); go offline with ``phone.context.set_offline(True)``."""
    watched = _watched_context(chromium, live_server, **PHONE)
    yield watched
    watched.context.close()
