"""Errors in each API's own format: the database unavailable (503 + Retry-After), an unexpected error
(500 that shows nothing internal), unknown paths and methods."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import create_engine

from app import create_app
from app.db import Database
from app.errors import DB_RETRY_AFTER_S


from tests.app.dash_helpers import lead_grid, login  # noqa: F401  (fixture)


def _down_database(tmp_path) -> Database:
    """A database whose server does not exist (a socket directory with nothing in it)."""
    url = f"postgresql+psycopg://nobody@/gridwatch?host={tmp_path}&connect_timeout=2"
    return Database(create_engine(url, pool_pre_ping=True))


@pytest.fixture
def down_client(settings, tmp_path):
    application = create_app(settings, database=_down_database(tmp_path))
    application.config.update(TESTING=True)
    return application.test_client()


@pytest.fixture
def logged_in_then_down(app, client, lead_grid, tmp_path):
    """An operator logged in while the database was up; then the database goes away."""
    login(client, "operator")
    app.extensions["gridwatch.db"] = _down_database(tmp_path)
    return client


def _retry(r):
    assert r.status_code == 503, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.headers["Retry-After"] == str(DB_RETRY_AFTER_S)
    body = r.get_data(as_text=True)
    assert "/tmp" not in body and "psycopg" not in body and "socket" not in body.lower()
    return body


def test_database_down_json_api(logged_in_then_down):
    r = logged_in_then_down.get("/api/incidents")
    # the log-in check reads the session's user from the database: unavailable, not "log in first"
    body = json.loads(_retry(r))
    assert body["error"] == "Service Unavailable" and "unavailable" in body["message"]


@pytest.mark.parametrize("suffix", ["json", "xml"])
def test_database_down_open311_in_its_format(down_client, suffix):
    r = down_client.get(f"/open311/v2/services.{suffix}")
    body = _retry(r)
    if suffix == "json":
        assert json.loads(body) == [{"code": 503, "description": json.loads(body)[0]["description"]}]
    else:
        root = ET.fromstring(body)
        assert root.tag == "errors" and root.find("error/code").text == "503"


def test_database_down_page(logged_in_then_down):
    body = _retry(logged_in_then_down.get("/dashboard/stats", headers={"Accept": "text/html"}))
    assert body.startswith("<!doctype html>") and "503" in body and "viewport" in body


def test_database_down_recovers_without_restart(app, logged_in_then_down, demo_db):
    assert logged_in_then_down.get("/api/incidents").status_code == 503
    app.extensions["gridwatch.db"] = demo_db  # the server is back: the same app answers again
    assert logged_in_then_down.get("/api/incidents").status_code == 200


def test_unexpected_error_is_a_500_in_the_format_without_internals(app, client):
    @app.get("/api/_boom")
    def _boom():
        raise RuntimeError("secret internal detail /var/lib/x")

    @app.get("/_boom_page")
    def _boom_page():
        raise KeyError("lon")

    r = client.get("/api/_boom")
    assert r.status_code == 500 and r.is_json and "secret" not in r.get_data(as_text=True)
    r = client.get("/_boom_page")
    assert r.status_code == 500 and "lon" not in r.get_data(as_text=True)
    assert r.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path, method", [("/open311/v2/nothing.xml", "get"),
                                          ("/open311/v2/services.xml", "post")])
def test_open311_unknown_path_and_method_are_open311_errors(client, path, method):
    r = getattr(client, method)(path)
    assert r.status_code in (404, 405)
    root = ET.fromstring(r.get_data(as_text=True))
    assert root.tag == "errors" and root.find("error/code").text == str(r.status_code)
    if r.status_code == 405:
        assert "GET" in r.headers["Allow"]


def test_api_unknown_path_is_json(client):
    r = client.get("/api/does-not-exist")
    assert r.status_code == 404 and r.is_json and r.get_json()["error"] == "Not Found"


def test_a_real_database_restart_is_a_503_then_recovers_without_restarting_the_app(settings, tmp_path):
    """A real PostgreSQL stopped under a running app: 503 in each format while it is down, answers again
    with the same app (and the same engine) once it is back."""
    import tempfile

    from app import migrate
    from app.db import make_engine
    from app.pgcluster import Cluster

    cluster = Cluster(tempfile.mkdtemp(prefix="gridwatch-test-restart-"), fast=True)
    cluster.start()
    try:
        cluster.ensure_database("gridwatch")
        engine = make_engine(cluster.url("gridwatch"))
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS postgis")
        migrate.upgrade(engine, district_code="510304")
        application = create_app(settings, database=Database(engine))
        client = application.test_client()
        assert client.get("/open311/v2/services.json").status_code == 200
        cluster.stop()
        _retry(client.get("/open311/v2/services.json"))
        _retry(client.get("/open311/v2/services.xml"))
        cluster.start()
        assert client.get("/open311/v2/services.json").status_code == 200
        engine.dispose()
    finally:
        cluster.destroy()
