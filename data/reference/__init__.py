"""The district's reference code lists (参考数据), read from the CSV files beside this module.

These files are the only definition of the codes and their shipped names: the models build their code
tuples from them (``camera_registry.models.PROGRAMMES``, ``app.incidents.models.SOURCES``,
``app.grids.models.ROLES``), migration 0009 and ``gridwatch reference load`` seed the database's
reference tables from them, and the interface's names start from them (an administrator may rename a
code in ``/admin/reference``; the database then holds the name shown).

Every file has a ``code`` column and, except ``streets.csv``, ``name_zh`` and ``name_en``.
"""
from __future__ import annotations

import csv
import functools
from pathlib import Path

DIR = Path(__file__).resolve().parent
#: the code lists with a table of their own (file → table)
TABLES = {"programmes.csv": "programmes", "sources.csv": "incident_sources", "roles.csv": "member_role_types",
          "categories.csv": "categories"}


@functools.cache
def rows(name: str) -> tuple[dict, ...]:
    """The rows of ``data/reference/<name>`` as dicts of text, in file order."""
    with open(DIR / name, encoding="utf-8", newline="") as fh:
        out = tuple(dict(r) for r in csv.DictReader(fh))
    if not out:
        raise ValueError(f"data/reference/{name} has no rows")
    return out


def codes(name: str) -> tuple[str, ...]:
    """The codes of ``data/reference/<name>``, in file order."""
    return tuple(r["code"] for r in rows(name))


def names(name: str) -> dict[str, tuple[str, str]]:
    """``{code: (中文, English)}`` of ``data/reference/<name>``."""
    return {r["code"]: (r["name_zh"], r["name_en"]) for r in rows(name)}
