"""The ``gridwatch`` command starts light: feature modules load only when their command runs.

No timing asserts (figures live in benchmarks/cli_start.py): these check *what* is imported, in a fresh
interpreter, and that the lazy command table agrees with what the feature modules define.
"""
from __future__ import annotations

import importlib
import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from app.features import CLI_COMMANDS, cli_modules, help_texts, load_command, unlisted_cli_modules

#: libraries a listing must not load (the analyses', the maps', the optimisers')
HEAVY = ("spopt", "folium", "pulp", "scipy", "sklearn", "libpysal", "networkx", "matplotlib", "openpyxl")

_PROBE = """
import json, sys
from app.cli import main
try:
    main(sys.argv[1:], prog_name="gridwatch")
except SystemExit as exc:
    code = exc.code
print("\\n@@" + json.dumps({"code": code, "modules": sorted({m.split('.')[0] for m in sys.modules})}))
"""


def _run(args, cwd, env=None):
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)
    out, _, tail = proc.stdout.rpartition("\n@@")
    assert tail, proc.stderr
    return out, json.loads(tail), proc.stderr


def test_help_imports_no_feature_and_lists_every_command(tmp_path):
    out, probe, err = _run(["--help"], tmp_path)
    assert probe["code"] == 0, err
    loaded = set(probe["modules"])
    assert not loaded & {*HEAVY, "geopandas", "pandas", "flask", "sqlalchemy", "geoalchemy2"}, loaded
    listed = {line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()}
    assert set(CLI_COMMANDS) <= listed
    assert {"load-demo", "export", "users", "serve", "demo-accounts"} <= listed


def test_help_lines_match_the_real_commands():
    """The short help read from source (nothing imported) is what Click shows once the command is loaded."""
    eager = CliRunner().invoke(_eager_main(), ["--help"], terminal_width=100)
    from app.cli import main

    lazy = CliRunner().invoke(main, ["--help"], terminal_width=100)
    assert eager.exit_code == lazy.exit_code == 0
    assert lazy.output == eager.output


def _eager_main():
    """A copy of the top group with every feature command loaded (the old way)."""
    from app.cli import main

    group = click.Group(main.name, params=main.params, callback=main.callback, help=main.help)
    for name, cmd in main.commands.items():
        group.add_command(cmd, name)
    for name in CLI_COMMANDS:
        group.add_command(load_command(name), name)
    return group


def test_lazy_table_is_what_the_modules_define():
    by_module: dict[str, set[str]] = {}
    for name, target in CLI_COMMANDS.items():
        module, _, attr = target.partition(":")
        cmd = load_command(name)
        assert isinstance(cmd, click.Command) and cmd.name == name, (name, target)
        by_module.setdefault(module, set()).add(name)
        assert help_texts(name)[0] is not None, f"{name}: no help text found in {module}"
    assert not unlisted_cli_modules(), "add these modules' commands to app.features.CLI_COMMANDS"
    for module in cli_modules():
        defined = {c.name for c in importlib.import_module(module).COMMANDS}
        assert defined == by_module[module], (module, defined, by_module[module])
    assert by_module.pop("app.dbcli") == {"db"}


@pytest.mark.parametrize("name", sorted(CLI_COMMANDS))
def test_every_lazy_command_runs_its_help(name):
    from app.cli import main

    res = CliRunner().invoke(main, [name, "--help"])
    assert res.exit_code == 0, res.output
    assert f"Usage: main {name}" in res.output or f"Usage: {name}" in res.output or "Usage:" in res.output


def test_unknown_command_is_a_usage_error():
    from app.cli import main

    res = CliRunner().invoke(main, ["no-such-command"])
    assert res.exit_code == 2 and "No such command" in res.output


def _scratch_env(tmp_path, url):
    import os

    env = dict(os.environ, DATABASE_URL=url, GRIDWATCH_SECRET_KEY="t")
    return env


def test_cameras_list_skips_the_heavy_libraries(tmp_path, demo_engine):
    url = demo_engine.url.render_as_string(hide_password=False)
    out, probe, err = _run(["cameras", "list"], tmp_path, env=_scratch_env(tmp_path, url))
    assert probe["code"] in (0, None), err
    from sqlalchemy import text

    with demo_engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM cameras")).scalar()
    assert f"{stored} camera(s)" in out  # every camera listed, from plain rows
    loaded = set(probe["modules"])
    light = {*HEAVY, "geopandas", "pandas"}  # (shapely comes with GeoAlchemy2, which every DB command loads)
    assert not loaded & light, sorted(loaded & light)
    assert "camera_registry" in loaded  # the probe really ran the command


def test_users_list_and_db_status_skip_the_heavy_libraries(tmp_path, demo_engine):
    url = demo_engine.url.render_as_string(hide_password=False)
    env = _scratch_env(tmp_path, url)
    for args in (["users", "list"], ["db", "status"]):
        _out, probe, err = _run(args, tmp_path, env=env)
        assert probe["code"] in (0, None), (args, err)
        loaded = set(probe["modules"])
        assert not loaded & {*HEAVY, "geopandas"}, (args, sorted(loaded & {*HEAVY, "geopandas"}))


@pytest.mark.parametrize("limit", [30, 45, 80, 200])
def test_short_help_from_source_equals_the_commands(limit):
    for name in CLI_COMMANDS:
        help_text, short_help = help_texts(name)
        stub = click.Command(name, help=help_text, short_help=short_help)
        assert stub.get_short_help_str(limit) == load_command(name).get_short_help_str(limit), name
