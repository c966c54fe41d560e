"""Test fixtures: a private PostgreSQL+PostGIS cluster, started once per session.

``--database-url`` (or ``DATABASE_URL``) points the suite at another PostGIS server instead. Either
way the session creates its own databases (one empty + migrated, one with the demo district loaded)
and drops them at the end. Each test's work runs inside a transaction that is rolled back.
"""
from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from tests.settings import DISTRICT, TEST_SETTINGS

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser):
    parser.addoption("--database-url", default=None,
                     help="PostGIS server to create the test databases on (default: a private cluster)")


@pytest.fixture(scope="session")
def pg_server(request):
    """(admin URL, drop function): a server on which the session may create databases."""
    url = request.config.getoption("--database-url") or os.environ.get("DATABASE_URL")
    if url:
        yield make_url(url.replace("postgresql://", "postgresql+psycopg://", 1)), None
        return
    from app.pgcluster import Cluster

    cluster = Cluster(tempfile.mkdtemp(prefix="gridwatch-test-pg-"), fast=True)
    cluster.start()
    try:
        yield make_url(cluster.url("postgres")), cluster
    finally:
        cluster.destroy()


def _create_database(server_url, name: str, template: str | None = None) -> str:
    """A new database ``name`` with PostGIS, or a file copy of ``template`` (nobody may be connected to it)."""
    from app.db import make_engine

    admin = make_engine(server_url.set(database="postgres").render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"' +
                          (f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else '')))
    admin.dispose()
    url = server_url.set(database=name).render_as_string(hide_password=False)
    if template is None:
        eng = make_engine(url, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
        eng.dispose()
    return url


def _drop_database(server_url, name: str) -> None:
    from app.db import make_engine

    admin = make_engine(server_url.set(database="postgres").render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_factory(pg_server):
    """Make a fresh, migrated database for this session: ``factory(suffix) -> engine``."""
    from app import migrate
    from app.db import make_engine

    server_url, _ = pg_server
    run = uuid.uuid4().hex[:8]
    made: list[tuple[str, object]] = []

    def factory(suffix: str, *, migrated: bool = True, template: str | None = None):
        name = f"gridwatch_test_{run}_{suffix}"
        # a template: a file copy of a database nobody is connected to (the demo: a second, not a load)
        url = _create_database(server_url, name, template)
        engine = make_engine(url)
        if migrated and not template:
            migrate.upgrade(engine, district_code=DISTRICT.code)
        made.append((name, engine))
        return engine

    yield factory
    for name, engine in made:
        engine.dispose()
        _drop_database(server_url, name)


@pytest.fixture(scope="session")
def engine(database_factory):
    """The session's empty, migrated database."""
    return database_factory("empty")


@pytest.fixture(scope="session")
def demo_copy(database_factory):
    """``demo_copy(suffix) -> engine``: a database of its own holding the demo district, committed.

    The demo is loaded once per process (the files' own dates, 2025: tests must not depend on the day they
    run) into a template nobody connects to; every caller gets a file copy of it."""
    from app.db import Database
    from app.demo import load_demo

    template = database_factory("demo_template")
    with Database(template).session() as s:
        load_demo(s, ROOT / "data", settings=TEST_SETTINGS, keep_dates=True)
    name = template.url.database
    template.dispose()

    def copy(suffix: str):
        return database_factory(suffix, template=name)

    return copy


@pytest.fixture(scope="session")
def demo_engine(demo_copy):
    """A database with the demo district loaded (committed once for the session)."""
    return demo_copy("demo")


def _rolled_back(engine):
    from app.db import Database

    conn = engine.connect()
    trans = conn.begin()
    try:
        yield Database(conn)
    finally:
        if trans.is_active:
            trans.rollback()
        conn.close()


@pytest.fixture
def db(engine):
    """A ``Database`` on the empty schema; everything the test writes is rolled back."""
    yield from _rolled_back(engine)


@pytest.fixture
def demo_db(demo_engine):
    """A ``Database`` on the demo district; everything the test writes is rolled back."""
    yield from _rolled_back(demo_engine)


@pytest.fixture
def session(db):
    with db.Session() as s:
        yield s


@pytest.fixture
def demo_session(demo_db):
    with demo_db.Session() as s:
        yield s


@pytest.fixture
def settings(tmp_path):
    from app.config import Settings

    return Settings({"var_dir": str(tmp_path / "var"), "secret_key": "test-secret", "data_dir": str(ROOT / "data")},
                    environ={}, config_file=tmp_path / "none.toml")


@pytest.fixture
def app(settings, demo_db):
    """The Flask app on the demo district (rolled back after the test)."""
    from app import create_app

    application = create_app(settings, database=demo_db)
    application.config.update(TESTING=True)
    return application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli(settings):
    """``cli(database, *args, input=None)``: run a gridwatch command in-process against ``database``."""
    from click.testing import CliRunner

    from app.cli import Context, main

    def run(database, *args, input=None):
        ctx = Context(settings)
        ctx._db = database
        return CliRunner().invoke(main, list(args), obj=ctx, input=input, catch_exceptions=False)

    return run
