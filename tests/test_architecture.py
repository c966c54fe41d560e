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
