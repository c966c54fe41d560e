"""Find each feature package's blueprint and CLI commands by convention, so features stay independent.

A feature ``app/<name>/`` may have ``views.py`` exposing ``bp`` (a Blueprint) and ``cli.py`` exposing
``COMMANDS`` (a list of Click commands or groups).

The ``gridwatch`` command loads a feature's ``cli.py`` only when one of its commands runs: the names
come from :data:`CLI_COMMANDS` (checked against the modules' ``COMMANDS`` by tests/app/test_cli_start.py)
and ``--help`` reads each command's short help from its module's source, without importing it.
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

_APP_DIR = Path(__file__).resolve().parent

#: command name → "module:attribute" of the Click command (or group); one line per command
CLI_COMMANDS: dict[str, str] = {
    "api-keys": "app.accounts.cli:api_keys",
    "cameras": "app.cameras.cli:cameras_group",
    "check-grids": "app.grids.cli:check_grids_cmd",
    "coverage": "app.coverage.cli:coverage_group",
    "db": "app.dbcli:db",
    "geocode": "app.grids.cli:geocode_cmd",
    "grids": "app.grids.cli:grids_group",
    "incidents": "app.incidents.cli:incidents",
    "members": "app.grids.cli:members_group",
    "patrols": "app.patrols.cli:patrols",
    "reference": "app.reference.cli:reference",
    "regeocode": "app.grids.cli:regeocode_cmd",
    "webhooks": "app.webhooks.cli:webhooks",
}


def _features() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(_APP_DIR)]) if m.ispkg and m.name != "migrations")


def _optional(module: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


def register_blueprints(app) -> None:
    for name in _features():
        mod = _optional(f"app.{name}.views")
        if mod is not None and hasattr(mod, "bp"):
            app.register_blueprint(mod.bp)


def cli_modules() -> list[str]:
    """Every feature's ``cli`` module that exists (found by file, nothing imported)."""
    return [f"app.{name}.cli" for name in _features() if (_APP_DIR / name / "cli.py").is_file()]


def unlisted_cli_modules() -> list[str]:
    """Feature ``cli`` modules none of whose commands is in :data:`CLI_COMMANDS` (a new feature's, until
    its line is added): the command group imports these eagerly, so their commands still work."""
    listed = {target.partition(":")[0] for target in CLI_COMMANDS.values()}
    return [m for m in cli_modules() if m not in listed]


def cli_commands() -> list:
    """Every feature's Click commands, importing every ``cli`` module (the eager way; for tests and the
    start-up benchmark's baseline)."""
    out = []
    for module in cli_modules():
        out.extend(getattr(importlib.import_module(module), "COMMANDS", []))
    return out


def load_command(name: str):
    """The Click command registered as ``name`` in :data:`CLI_COMMANDS` (importing its module)."""
    module, _, attr = CLI_COMMANDS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def _source_of(module: str) -> Path:
    parts = module.split(".")
    return _APP_DIR.joinpath(*parts[1:]).with_suffix(".py")


def help_texts(name: str) -> tuple[str | None, str | None]:
    """(help, short_help) of command ``name`` as its decorator will set them, read from the module's
    source with ``ast``: the ``help=``/``short_help=`` keywords of its ``@click.command``/``@click.group``
    decorator, else the function's docstring (what Click uses)."""
    module, _, attr = CLI_COMMANDS[name].partition(":")
    tree = ast.parse(_source_of(module).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == attr:
            keywords = {}
            for deco in node.decorator_list:
                func = getattr(deco, "func", None)
                if getattr(func, "attr", getattr(func, "id", None)) in ("command", "group"):
                    for kw in deco.keywords:
                        if kw.arg in ("help", "short_help") and isinstance(kw.value, ast.Constant):
                            keywords[kw.arg] = kw.value.value
            return keywords.get("help") or ast.get_docstring(node, clean=False), keywords.get("short_help")
    return None, None
