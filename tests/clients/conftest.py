"""A live gridwatch server for real OGC API clients (OWSLib, GDAL's OAPIF driver, Schemathesis).

Real clients talk HTTP, and a rolled-back test connection cannot be shared with a server thread, so this
module makes its own database (``database_factory("ogc_clients")``), loads the demo district and the demo
accounts, issues two API keys (the administrator's, whole district; the grid lead's, one grid) and commits;
then serves the Flask app with werkzeug on 127.0.0.1 and a free port, in a process of its own
(``tests/clients/serve.py``: pyogrio holds the GIL while GDAL pages through a layer, so a server thread
of the test process would deadlock with it). Nothing leaves loopback.

The engine comes back with the URLs: it is the tests' oracle (``SELECT count(*) FROM gis.<view>``).
"""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.settings import TEST_SETTINGS

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LiveOgc:
    """What a client test needs: where the API is, how to get in, and the database to check it against."""

    base: str                       # http://127.0.0.1:PORT
    engine: object                  # the committed database the server reads (the oracle)
    keys: dict[str, str]            # "admin" / "lead" -> API key
    passwords: dict[str, tuple[str, str]] = field(default_factory=dict)  # account -> (username, password)
    lead_grid: str = ""             # the grid the demo lead leads (its key sees this grid only)

    @property
    def ogc(self) -> str:
        return self.base + "/ogc"

    def headers(self, who: str = "admin") -> dict[str, str]:
        return {"X-API-Key": self.keys[who]}

    def scalar(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def rows(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).all()

    def has_view(self, name: str) -> bool:
        """Whether ``gis.<name>`` exists (the collections the 0010_gis views back one to one)."""
        return bool(self.scalar("SELECT count(*) FROM information_schema.views "
                                "WHERE table_schema = 'gis' AND table_name = :n", n=name))


@pytest.fixture(scope="session")
def live_ogc(demo_copy, tmp_path_factory):
    from app.accounts.keys import add_api_key
    from app.db import Database
    from app.demo import DEMO_ACCOUNTS, create_demo_accounts
    from camera_registry.planned import adopt_site

    eng = demo_copy("ogc_clients")
    with Database(eng).session() as s:
        grid = create_demo_accounts(s)
        # the demo plans no cameras: adopt three proposed sites so that collection has rows to count
        for lon, lat in s.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p "
                                       "FROM grids ORDER BY code LIMIT 3) q")).all():
            adopt_site(s, lon, lat, range_m=60.0, actor="tests", district=TEST_SETTINGS.district)
        keys = {"admin": add_api_key(s, "ogc-clients-admin", "admin"),
                "lead": add_api_key(s, "ogc-clients-lead", "lead")}

    var = tmp_path_factory.mktemp("ogc_live") / "var"
    var.mkdir()
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.clients.serve", eng.url.render_as_string(hide_password=False), str(var)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the OGC test server did not start (exit {server.poll()}): {line!r}")
        yield LiveOgc(base=f"http://127.0.0.1:{int(line.split()[1])}", engine=eng, keys=keys,
                      passwords={k: (k, pw) for k, (_, pw) in DEMO_ACCOUNTS.items()}, lead_grid=grid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def ogc_collections(live_ogc):
    """The collection ids the administrator's key lists at ``/ogc/collections`` (read with requests)."""
    import requests

    r = requests.get(live_ogc.ogc + "/collections", headers={**live_ogc.headers(), "Accept": "application/json"},
                     timeout=60)
    r.raise_for_status()
    return [c["id"] for c in r.json()["collections"]]
