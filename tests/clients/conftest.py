"""A live gridwatch server for real OGC API clients (OWSLib, GDAL's OAPIF driver, Schemathesis).

Real clients talk HTTP, and a rolled-back test connection cannot be shared with a server thread, so this
module makes its own database (``database_factory("ogc_clients")``), loads the demo district and the demo
accounts, issues two API keys (the administrator's, whole district; the grid lead's, one grid) and commits;
then serves the Flask app with werkzeug on 127.0.0.1 and a free port, in a thread. Nothing leaves loopback.

The engine comes back with the URLs: it is the tests' oracle (``SELECT count(*) FROM gis.<view>``).
"""
from __future__ import annotations

import threading
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
def live_ogc(database_factory, tmp_path_factory):
    from werkzeug.serving import make_server

    from app import create_app
    from app.accounts.keys import add_api_key
    from app.config import Settings
    from app.db import Database
    from app.demo import DEMO_ACCOUNTS, create_demo_accounts, load_demo

    eng = database_factory("ogc_clients")
    with Database(eng).session() as s:
        # the files' own dates (2025): tests must not depend on the day they run
        load_demo(s, ROOT / "data", settings=TEST_SETTINGS, keep_dates=True)
        grid = create_demo_accounts(s)
        keys = {"admin": add_api_key(s, "ogc-clients-admin", "admin"),
                "lead": add_api_key(s, "ogc-clients-lead", "lead")}

    tmp = tmp_path_factory.mktemp("ogc_live")
    settings = Settings({"var_dir": str(tmp / "var"), "secret_key": "ogc-clients-secret",
                         "data_dir": str(ROOT / "data")}, environ={}, config_file=tmp / "none.toml")
    app = create_app(settings, database=Database(eng))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveOgc(base=f"http://127.0.0.1:{server.server_port}", engine=eng, keys=keys,
                      passwords={k: (k, pw) for k, (_, pw) in DEMO_ACCOUNTS.items()}, lead_grid=grid)
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def ogc_collections(live_ogc):
    """The collection ids the administrator's key lists at ``/ogc/collections`` (read with requests)."""
    import requests

    r = requests.get(live_ogc.ogc + "/collections", headers={**live_ogc.headers(), "Accept": "application/json"},
                     timeout=60)
    r.raise_for_status()
    return [c["id"] for c in r.json()["collections"]]
