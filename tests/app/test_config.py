from __future__ import annotations

import pytest

from app.config import SETTINGS, Settings


def test_defaults_then_file_then_environment_then_overrides(tmp_path):
    cfg = tmp_path / "gridwatch.toml"
    cfg.write_text('basemap = "osm"\nlanguage = "en"\nextent_margin_m = 500\n')
    s = Settings(environ={"GRIDWATCH_LANGUAGE": "zh", "DATABASE_URL": "postgresql://x@/y"}, config_file=cfg)
    assert s.basemap == "osm"            # from the file
    assert s.language == "zh"            # environment beats the file
    assert s.extent_margin_m == 500.0    # coerced to the default's type
    assert s.database_url == "postgresql://x@/y"
    s2 = Settings({"language": "en"}, environ={"GRIDWATCH_LANGUAGE": "zh"}, config_file=cfg)
    assert s2.language == "en"           # explicit overrides win


def test_bad_values_are_refused_with_the_setting_named(tmp_path):
    with pytest.raises(ValueError, match="extent_margin_m.*GRIDWATCH_EXTENT_MARGIN_M"):
        Settings(environ={"GRIDWATCH_EXTENT_MARGIN_M": "far"}, config_file=tmp_path / "none.toml")
    cfg = tmp_path / "g.toml"
    cfg.write_text('no_such_setting = 1\n')
    with pytest.raises(ValueError, match="unknown setting 'no_such_setting'"):
        Settings(environ={}, config_file=cfg)


def test_every_setting_is_documented():
    from tests.conftest import ROOT

    doc = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in doc]
    assert not missing
    assert all(s.help for s in SETTINGS)
