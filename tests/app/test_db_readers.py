"""Read-only database accounts over TCP: a private cluster started by ``gridwatch db start --listen``, the
demo loaded, a reader added with ``gridwatch db reader add``; then psycopg and GDAL (ogr2ogr from gdal-bin,
what QGIS uses) connect over TCP as that reader. Counts are compared with the owner's on the socket."""
from __future__ import annotations

import csv
import io
import re
import socket
import subprocess
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from app.pgcluster import Cluster, hba_lines, parse_allow, parse_listen
from app.readers import READER_GROUP

ROOT = Path(__file__).resolve().parents[2]
VIEWS = ("streets", "communities", "grids", "cameras", "planned_cameras", "incidents", "patrol_tracks",
         "service_centres", "renovation_sites")
PASSWORD = "analyst-pass-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Env:
    def __init__(self, root: Path):
        from app.config import Settings

        self.settings = Settings({"var_dir": str(root / "var"), "secret_key": "t", "data_dir": str(ROOT / "data")},
                                 environ={}, config_file=root / "none.toml")
        self.cluster = Cluster(self.settings.var_path / "pg", fast=True)
        self.port = _free_port()

    def run(self, *args, input=None):
        from app.cli import Context, main

        return CliRunner().invoke(main, list(args), obj=Context(self.settings), input=input, catch_exceptions=False)

    def reader(self, user="analyst", password=PASSWORD, dbname="gridwatch", **kw):
        return psycopg.connect(host="127.0.0.1", port=self.port, dbname=dbname, user=user, password=password,
                               connect_timeout=10, autocommit=True, **kw)

    def owner(self):
        return psycopg.connect(f"host={self.cluster.sockdir} port={self.port} user=gridwatch dbname=gridwatch",
                               autocommit=True)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("readers"))
    e.cluster.init()  # fast (no fsync): a throw-away cluster; `db start` below finds it created
    try:
        res = e.run("db", "start", "--listen", f"127.0.0.1:{e.port}", "--allow", "127.0.0.1")
        assert res.exit_code == 0, res.output
        assert e.run("db", "upgrade").exit_code == 0
        assert e.run("load-demo", "--keep-dates").exit_code == 0
        res = e.run("db", "reader", "add", "analyst", "--password-stdin", input=PASSWORD + "\n")
        assert res.exit_code == 0 and "created" in res.output, res.output
        yield e
    finally:
        e.cluster.destroy()


def test_reader_reads_every_gis_view_like_the_owner(env):
    with env.reader() as r, env.owner() as o:
        for view in VIEWS:  # unqualified: the reader's search_path starts with gis (QGIS lists them)
            got = r.execute(f"SELECT count(*) FROM {view}").fetchone()[0]
            assert got == o.execute(f"SELECT count(*) FROM gis.{view}").fetchone()[0], view
        assert r.execute("SELECT count(*) FROM cameras").fetchone()[0] > 0
        listed = {row[0] for row in r.execute("SELECT table_name FROM information_schema.tables "
                                              "WHERE table_schema = 'gis'")}
        assert set(VIEWS) <= listed


@pytest.mark.parametrize("statement", [
    "INSERT INTO gis.streets (code, name) VALUES ('510304999', 'x')",
    "UPDATE gis.cameras SET name = 'x'",
    "DELETE FROM gis.streets",
    "CREATE TABLE gis.mine (i int)",
    "CREATE TABLE public.mine (i int)",
    "CREATE TEMP TABLE mine (i int)",
    "CREATE FUNCTION pg_temp.leak(text) RETURNS bool LANGUAGE sql AS 'SELECT true'",
    "CREATE VIEW gis.mine AS SELECT 1",
])
def test_reader_cannot_write_even_in_a_read_write_transaction(env, statement):
    with env.reader() as r:  # refused by the read-only session, or before that by a missing right
        with pytest.raises((psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege)):
            r.execute(statement)
        r.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            r.execute(statement)


@pytest.mark.parametrize("query", [
    "SELECT * FROM public.users", "SELECT phone FROM public.members", "SELECT * FROM public.members",
    "SELECT reporter_name FROM public.incidents", "SELECT * FROM public.incidents", "SELECT * FROM public.api_keys",
    "SELECT * FROM public.user_sessions", "SELECT * FROM public.cameras", "SELECT * FROM public.audit_log",
])
def test_reader_cannot_read_accounts_phones_or_reporters(env, query):
    with env.reader() as r:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            r.execute(query)


def test_views_carry_no_personal_columns(env):
    with env.reader() as r:
        cols = {row[0] for row in r.execute("SELECT column_name FROM information_schema.columns "
                                            "WHERE table_schema = 'gis'")}
    assert not {c for c in cols if re.search(r"phone|reporter|password|token|username", c)}, cols


def test_wrong_password_owner_over_tcp_and_other_databases_refused(env):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        env.reader(password="wrong-password")
    for password in (None, "", PASSWORD):  # the owner has no TCP line at all, with or without a password
        with pytest.raises(psycopg.OperationalError, match="no pg_hba.conf entry"):
            env.reader(user="gridwatch", password=password)
    with pytest.raises(psycopg.OperationalError, match="no pg_hba.conf entry"):
        env.reader(dbname="postgres")


def test_password_is_stored_as_scram(env):
    with env.owner() as o:
        stored = o.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'analyst'").fetchone()[0]
        flags = o.execute("SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolcanlogin, rolconnlimit "
                          "FROM pg_roles WHERE rolname = 'analyst'").fetchone()
    assert stored.startswith("SCRAM-SHA-256$") and PASSWORD not in stored
    assert flags == (False, False, False, False, True, 10)


def test_on_the_socket_only_the_owner_is_trusted(env):
    """A role made by hand with LOGIN (and no password) is refused on the socket, as everybody but a
    reader is over TCP; the owner still connects, and a reader needs its password there too."""
    with env.owner() as o:
        o.execute("DROP ROLE IF EXISTS hand_made")
        o.execute("CREATE ROLE hand_made LOGIN SUPERUSER")
    try:
        for user in ("hand_made", "postgres", "nobody_at_all"):
            with pytest.raises(psycopg.OperationalError, match="pg_hba.conf rejects connection"):
                psycopg.connect(host=str(env.cluster.sockdir), port=env.port, user=user, dbname="gridwatch",
                                connect_timeout=10)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(host=str(env.cluster.sockdir), port=env.port, user="analyst", password="wrong-pass",
                            dbname="gridwatch", connect_timeout=10)
        with psycopg.connect(host=str(env.cluster.sockdir), port=env.port, user="analyst", password=PASSWORD,
                             dbname="gridwatch", connect_timeout=10) as r:
            assert r.execute("SELECT current_user").fetchone()[0] == "analyst"
        with env.owner() as o:
            assert o.execute("SELECT current_user").fetchone()[0] == "gridwatch"
    finally:
        with env.owner() as o:
            o.execute("DROP ROLE hand_made")


def test_list_shows_readers_only(env):
    with env.owner() as o:
        o.execute("DROP ROLE IF EXISTS app_role")
        o.execute("CREATE ROLE app_role LOGIN")
    try:
        res = env.run("db", "reader", "list")
        assert res.exit_code == 0
        names = [line.split("\t")[0] for line in res.output.splitlines()]
        assert "analyst" in names and "app_role" not in names and "gridwatch" not in names
        for other in ("app_role", "gridwatch"):
            res = env.run("db", "reader", "remove", other)
            assert res.exit_code == 6 and "not a gridwatch reader" in res.output
            res = env.run("db", "reader", "add", other, "--password-stdin", input=PASSWORD + "\n")
            assert res.exit_code == 6 and "not a gridwatch reader" in res.output
    finally:
        with env.owner() as o:
            o.execute("DROP ROLE app_role")


@pytest.mark.parametrize("name, password, field", [
    ("Bad-Name", PASSWORD, "name"), ("pg_reader", PASSWORD, "name"), (READER_GROUP, PASSWORD, "name"),
    ("x" * 64, PASSWORD, "name"), ("robert'); DROP ROLE gridwatch; --", PASSWORD, "name"),
    ("shorty", "short", "password"),
])
def test_add_refuses_bad_names_and_weak_passwords(env, name, password, field):
    res = env.run("db", "reader", "add", name, "--password-stdin", input=password + "\n")
    assert res.exit_code == 2 and f"field '{field}'" in res.output, res.output
    assert name not in env.run("db", "reader", "list").output.split()


def test_prompt_password_with_quotes_then_remove_ends_login(env):
    password = "it's a \"quoted\" $$ pass"
    res = env.run("db", "reader", "add", "temp_reader", input=f"{password}\n{password}\n")
    assert res.exit_code == 0 and "created" in res.output, res.output
    with env.reader("temp_reader", password) as r:
        assert r.execute("SELECT count(*) FROM gis.grids").fetchone()[0] > 0
        res = env.run("db", "reader", "remove", "temp_reader")
        assert res.exit_code == 0 and "1 connection(s) ended" in res.output, res.output
        with pytest.raises(psycopg.OperationalError):
            r.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError, match="no pg_hba.conf entry|password authentication failed"):
        env.reader("temp_reader", password)
    assert "temp_reader" not in env.run("db", "reader", "list").output
    assert env.run("db", "reader", "remove", "temp_reader").exit_code == 3  # NotFound


def test_status_prints_a_connection_string_that_works(env):
    res = env.run("db", "status")
    assert res.exit_code == 0
    m = re.search(r"psql '(host=\S+ port=\d+ dbname=\S+ user=<reader> sslmode=\w+)'", res.output)
    assert m, res.output
    for field in ("Host: 127.0.0.1", f"Port: {env.port}", "Database: gridwatch", "SSL mode:", "Basic"):
        assert field in res.output
    with psycopg.connect(m.group(1).replace("<reader>", "analyst") + f" password={PASSWORD}") as r:
        assert r.execute("SELECT current_user").fetchone()[0] == "analyst"


def test_gdal_reads_cameras_as_qgis_would(env):
    """pyogrio's wheel has no PostgreSQL driver; Debian's GDAL (gdal-bin, as QGIS) does."""
    dsn = f"PG:host=127.0.0.1 port={env.port} dbname=gridwatch user=analyst password={PASSWORD}"
    out = subprocess.run(["ogr2ogr", "-f", "CSV", "/vsistdout/", dsn, "gis.cameras", "-select", "device_id,status"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    with env.owner() as o:
        ids = {r[0] for r in o.execute("SELECT device_id FROM cameras WHERE lifecycle = 'active'")}
    assert {r["device_id"] for r in rows} == ids and len(rows) == len(ids)
    info = subprocess.run(["ogrinfo", "-ro", "-so", dsn.replace(PASSWORD, "wrong-password"), "gis.cameras"],
                          capture_output=True, text=True, timeout=60)
    assert info.returncode != 0 and "password authentication failed" in info.stderr


def test_listen_persists_and_turns_off(env):
    assert env.run("db", "stop").exit_code == 0
    res = env.run("db", "start")  # a plain start keeps TCP
    assert res.exit_code == 0 and f"127.0.0.1:{env.port}" in res.output, res.output
    with env.reader() as r:
        assert r.execute("SELECT 1").fetchone() == (1,)
    res = env.run("db", "start", "--no-listen")
    assert res.exit_code == 0 and "restarted" in res.output and "TCP: off" in res.output, res.output
    with pytest.raises(psycopg.OperationalError):
        env.reader()
    assert "TCP: off" in env.run("db", "status").output
    res = env.run("db", "start", "--listen", f"127.0.0.1:{env.port}", "--allow", "127.0.0.1")
    assert res.exit_code == 0 and "restarted" in res.output
    with env.reader() as r:
        assert r.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("args, hint", [
    (["--listen", "nowhere:5432"], "--listen"), (["--listen", "127.0.0.1:70000"], "--listen"),
    (["--listen", "127.0.0.1", "--allow", "10.0.0.300/8"], "--allow"), (["--allow", "10.0.0.0/8"], "--allow"),
    (["--listen", "127.0.0.1", "--no-listen"], "--no-listen"),
])
def test_start_refuses_bad_options_naming_them(env, args, hint):
    res = env.run("db", "start", *args)
    assert res.exit_code == 2 and hint in res.output, res.output


def test_parse_listen_and_allow():
    assert parse_listen("0.0.0.0") == ("0.0.0.0", 5432)
    assert parse_listen("192.168.1.5:5433") == ("192.168.1.5", 5433)
    assert parse_listen("[::]:6000") == ("::", 6000) and parse_listen("*:5") == ("*", 5)
    assert parse_allow("192.168.1.7/24") == "192.168.1.0/24" and parse_allow("10.1.2.3") == "10.1.2.3/32"
    assert parse_allow("SameNet") == "samenet"
    for bad in ("host.example", "1.2.3.4:0", "[::1"):
        with pytest.raises(ValueError):
            parse_listen(bad)


def test_hba_has_no_tcp_line_for_anyone_but_readers():
    lines = [line.split() for line in hba_lines({"allow": ["samenet", "10.0.0.0/8"]}) if not line.startswith("#")]
    host = [line for line in lines if line[0].startswith("host")]
    assert host and all(line[2] == f"+{READER_GROUP}" and line[-1] == "scram-sha-256" for line in host)
    trust = [line for line in lines if line[-1] == "trust"]
    assert trust and all(line[0] == "local" and line[2] == "gridwatch" for line in trust)
    assert not [line for line in hba_lines(None) if line.startswith("host")]


def test_the_password_never_travels_to_the_server(env, tmp_path):
    """The SCRAM verifier is computed on the client: what the server receives (and may log) holds no
    password, libpq's own trace of the connection shows; the reader then logs in with it."""
    from sqlalchemy.orm import Session

    from app.db import make_engine
    from app.readers import add_reader, remove_reader

    secret = "traced-pw-" + "q7" * 6
    eng = make_engine(f"postgresql+psycopg://gridwatch@/gridwatch?host={env.cluster.sockdir}&port={env.port}")
    trace = tmp_path / "libpq.trace"
    try:
        with eng.connect() as conn, open(trace, "w") as f:
            pgconn = conn.connection.dbapi_connection.pgconn
            pgconn.trace(f.fileno())
            with Session(conn) as s:
                assert add_reader(s, "traced", secret) is True
                s.commit()
            pgconn.untrace()
        sent = trace.read_text(errors="replace")
        assert "ALTER ROLE" in sent and "SCRAM-SHA-256$" in sent  # the trace saw the statement
        assert secret not in sent
        with env.reader("traced", secret) as r:
            assert r.execute("SELECT current_user").fetchone()[0] == "traced"
        with env.owner() as o:
            stored = o.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'traced'").fetchone()[0]
        assert stored.startswith("SCRAM-SHA-256$4096:")
    finally:
        with Session(eng) as s:
            remove_reader(s, "traced")
            s.commit()
        eng.dispose()


def test_a_public_create_right_of_an_older_server_is_revoked(env):
    """PostgreSQL 14 and older grant PUBLIC CREATE on schema public: ``reader add`` takes it back, so a
    reader who turns read-only off still cannot create there."""
    with env.owner() as o:
        o.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")  # as an older server ships
        assert o.execute("SELECT has_schema_privilege('analyst', 'public', 'CREATE')").fetchone()[0]
    res = env.run("db", "reader", "add", "analyst", "--password-stdin", input=PASSWORD + "\n")
    assert res.exit_code == 0, res.output
    with env.owner() as o:
        assert not o.execute("SELECT has_schema_privilege('analyst', 'public', 'CREATE')").fetchone()[0]
    with env.reader() as r:
        r.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            r.execute("CREATE TABLE public.mine (i int)")
