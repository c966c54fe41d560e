"""Meta-tests that keep the package layering of DESIGN.md honest."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "gis": {"flask", "sqlalchemy", "geoalchemy2", "psycopg", "app", "camera_registry", "layers"},
    "layers": {"flask", "sqlalchemy", "geoalchemy2", "psycopg", "app", "camera_registry"},
    "camera_registry": {"flask", "app", "layers"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_respect_layering(package):
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = _imports(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def test_nothing_outside_app_tests_benchmarks_imports_app():
    offenders = []
    for package in ("gis", "layers", "camera_registry", "data"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "app" in _imports(path):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders


def test_layering_checker_catches_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import flask\nfrom sqlalchemy.orm import Session\nfrom . import sibling\n")
    assert _imports(bad) == {"flask", "sqlalchemy"}


def test_mandated_top_level_layout():
    for name in ("app", "gis", "layers", "camera_registry"):
        assert (ROOT / name / "__init__.py").is_file(), name
    for name in ("data", "tests"):
        assert (ROOT / name).is_dir()
    assert (ROOT / "setup.cfg").is_file()
    assert "gridwatch = app.cli:main" in (ROOT / "setup.cfg").read_text()


# -- one district context -------------------------------------------------------------------
#: the only places that build settings: the composition roots (Flask factory, CLI) and their definition
SETTINGS_BUILDERS = {"app/__init__.py", "app/cli.py", "app/config.py"}
#: Da'an's facts, written once: as the defaults of app/config.py's settings table
DISTRICT_FACTS = {"Asia/Shanghai", "510304", "51030400", "大安区"}
DISTRICT_EXTENT = {104.55, 29.20, 29.55}  # not 105.0: the GCJ-02 formula centres on 105°E


def _source_files():
    for package in ("app", "gis", "layers", "camera_registry"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path, str(path.relative_to(ROOT))


def _docstring_nodes(tree) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def settings_builders(tree) -> list[int]:
    """Lines that call ``Settings(...)`` or ``default_settings()``."""
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call)
            and (getattr(n.func, "id", None) or getattr(n.func, "attr", None)) in ("Settings", "default_settings")]


def district_literals(tree) -> list[tuple[int, object]]:
    """Code (not docstrings) that writes one of the district's facts as a literal."""
    docs = _docstring_nodes(tree)
    hits = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Constant) and id(n) not in docs:
            v = n.value
            if isinstance(v, str) and any(f in v for f in DISTRICT_FACTS):
                hits.append((n.lineno, v))
            elif isinstance(v, float) and v in DISTRICT_EXTENT:
                hits.append((n.lineno, v))
    return hits


def test_settings_are_built_only_at_the_composition_root():
    offenders = [f"{rel}:{line}" for path, rel in _source_files() if rel not in SETTINGS_BUILDERS
                 for line in settings_builders(ast.parse(path.read_text(encoding="utf-8")))]
    assert not offenders, "build settings only in create_app or the CLI, then pass them down: " + ", ".join(offenders)


def test_district_facts_are_written_once():
    offenders = [f"{rel}:{line} {value!r}" for path, rel in _source_files() if rel != "app/config.py"
                 for line, value in district_literals(ast.parse(path.read_text(encoding="utf-8")))]
    assert not offenders, "take the district context (settings.district) instead: " + ", ".join(offenders)


def test_district_checkers_catch_a_violation():
    tree = ast.parse('"""Da\'an 510304."""\nfrom app.config import Settings\n\ndef f():\n'
                     '    """Asia/Shanghai in a docstring is prose."""\n    s = Settings()\n'
                     '    return s, "Asia/Shanghai", (104.55, 29.2)\n')
    assert settings_builders(tree) == [6]
    assert district_literals(tree) == [(7, "Asia/Shanghai"), (7, 104.55), (7, 29.2)]
