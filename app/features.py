"""Find each feature package's blueprint and CLI commands by convention, so features stay independent.

A feature ``app/<name>/`` may have ``views.py`` exposing ``bp`` (a Blueprint) and ``cli.py`` exposing
``COMMANDS`` (a list of Click commands or groups).
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

_APP_DIR = Path(__file__).resolve().parent


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


def cli_commands() -> list:
    out = []
    for name in _features():
        mod = _optional(f"app.{name}.cli")
        if mod is not None:
            out.extend(getattr(mod, "COMMANDS", []))
    return out
