"""The gridwatch CLI: embedded database lifecycle, users, export."""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from app.cli import Context, main
from app.demo import DEMO_ACCOUNTS
from app.config import Settings


def test_db_start_status_stop_embedded_cluster(tmp_path):
    settings = Settings({"var_dir": str(tmp_path / "var")}, environ={}, config_file=tmp_path / "none.toml")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, list(args), obj=Context(settings), catch_exceptions=False)

    r = run("db", "status")
    assert r.exit_code == 1 and "not created" in r.output
    try:
        r = run("db", "start")
        assert r.exit_code == 0, r.output
        assert "started" in r.output and "database created" in r.output
        assert "already running" in run("db", "start").output  # idempotent
        r = run("db", "status")
        assert r.exit_code == 0 and "running" in r.output and "host=" in r.output
        r = run("db", "upgrade")
        assert r.exit_code == 0 and "database at revision" in r.output and "empty" not in r.output
        ctx = Context(settings)
        with ctx.db.session() as s:
            assert s.execute(text("SELECT postgis_version()")).scalar()
            assert s.execute(text("SELECT count(*) FROM grids")).scalar() == 0
        ctx.db.engine.dispose()
    finally:
        assert run("db", "stop").exit_code == 0
    assert "stopped" in run("db", "status").output
    from app.pgcluster import Cluster

    Cluster(tmp_path / "var" / "pg").destroy()


def test_db_start_with_database_url_uses_that_server(tmp_path):
    settings = Settings({"database_url": "postgresql://someone@db.internal/gw"}, environ={},
                        config_file=tmp_path / "none.toml")
    r = CliRunner().invoke(main, ["db", "start"], obj=Context(settings))
    assert r.exit_code == 0
    assert "DATABASE_URL is set" in r.output
    r = CliRunner().invoke(main, ["db", "status"], obj=Context(settings))
    assert "external server" in r.output and "db.internal" in r.output


def test_users_add_reads_password_from_stdin(cli, demo_db):
    r = cli(demo_db, "users", "add", "ops1", "--role", "operator", "--password-stdin", input="s3cret-pass\n")
    assert r.exit_code == 0, r.output
    from app.accounts.service import authenticate

    with demo_db.Session() as s:
        user = authenticate(s, "ops1", "s3cret-pass")
        assert user is not None and user.role == "operator"
        assert authenticate(s, "ops1", "wrong-pass") is None
        assert user.password_hash != "s3cret-pass"


def test_grid_lead_account_is_tied_to_the_grids_lead(cli, demo_db):
    with demo_db.Session() as s:
        grid, lead = s.execute(text("SELECT grid_code, member_id FROM member_roles WHERE role='lead' "
                                    "ORDER BY grid_code LIMIT 1")).one()
    r = cli(demo_db, "users", "add", "lead1", "--role", "grid_lead", "--grid", grid, "--password-stdin",
            input="lead-pass-1\n")
    assert r.exit_code == 0, r.output
    with demo_db.Session() as s:
        assert s.execute(text("SELECT member_id FROM users WHERE username='lead1'")).scalar() == lead


@pytest.mark.parametrize("args,message", [
    (["--role", "grid_lead"], "--grid CODE"),
    (["--role", "grid_lead", "--grid", "123"], "15 digits"),
    (["--role", "grid_lead", "--grid", "510304999999999"], "has no lead"),
    (["--role", "operator"], "at least 8"),
])
def test_users_add_errors_are_clear(cli, demo_db, args, message):
    pw = "short\n" if message == "at least 8" else "long-enough-pw\n"
    r = cli(demo_db, "users", "add", "bad", *args, "--password-stdin", input=pw)
    assert r.exit_code != 0
    assert message in r.output
    with demo_db.Session() as s:
        assert s.execute(text("SELECT count(*) FROM users WHERE username='bad'")).scalar() == 0


LAYERS = ["streets", "communities", "grids", "cameras", "incidents", "members", "service-centres",
          "renovation-sites"]


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".csv", ".xlsx"])
@pytest.mark.parametrize("layer", LAYERS)
def test_export_every_layer_in_every_format(cli, demo_db, tmp_path, layer, suffix):
    out = tmp_path / f"{layer}{suffix}"
    r = cli(demo_db, "export", layer, str(out))
    assert r.exit_code == 0, r.output
    with demo_db.Session() as s:
        table = {"service-centres": "service_centres", "renovation-sites": "renovation_sites"}.get(layer, layer)
        expected = s.execute(text(f"SELECT count(*) FROM {table}")).scalar() if layer != "members" else \
            s.execute(text("SELECT count(DISTINCT (member_id, grid_code)) FROM member_roles")).scalar()
    if suffix in (".csv", ".xlsx"):
        frame = pd.read_csv(out, dtype=str) if suffix == ".csv" else pd.read_excel(out, dtype=str)
    else:
        import pyogrio

        # a GeoPackage holds QGIS's layer_styles beside the layer
        data = [name for name, _g in pyogrio.list_layers(out) if name != "layer_styles"]
        assert len(data) == 1, data
        frame = gpd.read_file(out, engine="pyogrio", layer=data[0])
        assert frame.crs.to_epsg() == 4326
    assert len(frame) == expected
    assert ("device_id" if layer == "cameras" else "code") in frame.columns  # cameras: the importer's columns
    parents = {"communities": ["street_code"], "grids": ["community_code", "street_code"],
               "cameras": ["grid_code", "community_code", "street_code", "programme", "status"],
               "incidents": ["grid_code", "community_code", "street_code"], "members": ["grid_code"]}
    for col in parents.get(layer, []):
        assert col in frame.columns
    if layer == "incidents" and suffix in (".csv", ".xlsx"):
        assert frame["reported_at"].str.endswith("+08:00").all()  # in the district's time zone, offset kept
    if layer == "cameras":
        assert set(frame["programme"]) <= {"skynet", "xueliang", "huiyan", "compound", "other"}
        assert frame["device_id"].astype(str).str.fullmatch(r"\d{20}").all()


def test_export_unknown_layer_and_suffix(cli, demo_db, tmp_path):
    r = cli(demo_db, "export", "rivers", str(tmp_path / "x.geojson"))
    assert r.exit_code != 0 and "no layer 'rivers'" in r.output
    r = cli(demo_db, "export", "grids", str(tmp_path / "x.kml"))
    assert r.exit_code != 0 and "cannot write '.kml'" in r.output


def test_demo_commands_in_fresh_interpreters(database_factory, tmp_path):
    """``make demo``'s sequence, each command in its own process as make runs it: an in-process test
    would not notice a model that only some other module registers (users.member_id → members)."""
    import os
    import subprocess
    import sys

    engine = database_factory("fresh_cli")
    env = {**os.environ, "DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "GRIDWATCH_VAR_DIR": str(tmp_path / "var"), "GRIDWATCH_CONFIG": str(tmp_path / "none.toml")}

    def run(*args):
        return subprocess.run([sys.executable, "-c", "from app.cli import main; main()", *args],
                              capture_output=True, text=True, env=env, timeout=300)

    for args in (("load-demo",), ("demo-accounts",)):
        r = run(*args)
        assert r.returncode == 0, (args, r.stdout[-2000:], r.stderr[-2000:])
    assert "grid_lead of grid 5103040" in run("demo-accounts").stdout  # idempotent
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar() == len(DEMO_ACCOUNTS)


def test_serve_answers_over_http(demo_engine, tmp_path):
    """``gridwatch serve`` (what ``make demo`` ends with) in its own process: a real HTTP server that
    answers health checks and the log-in page, and stops on SIGINT."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": demo_engine.url.render_as_string(hide_password=False),
           "GRIDWATCH_VAR_DIR": str(tmp_path / "var"), "GRIDWATCH_CONFIG": str(tmp_path / "none.toml")}
    proc = subprocess.Popen([sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", str(port),
                             "--threads", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    assert r.status == 200 and r.headers["Server"] == "gridwatch"
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() else ""
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as r:
            assert r.status == 200 and 'name="csrf-token"' in r.read().decode()
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert f"http://127.0.0.1:{port}/" in out and "stopped" in out
