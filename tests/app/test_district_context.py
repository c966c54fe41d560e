"""One district context: built once from the settings at the composition root, and what reaches the services.

The bug this pins down: ``load-demo --config FILE`` read the file for the database, but cameras and
incidents were validated against ``Settings()`` built inside the services, so the file's district was
ignored for them.
"""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pytest
from sqlalchemy import text

from app.config import Settings, district_of
from gis.district import District
from tests.settings import TEST_SETTINGS


def _gridwatch(env, *args):
    return subprocess.run([sys.executable, "-c", "from app.cli import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=600)


def _env(engine, tmp_path, **settings):
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "gridwatch.toml"
    config.write_text("".join(f"{k} = {v!r}\n" if isinstance(v, str) else f"{k} = {v}\n"
                              for k, v in settings.items()), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    env.update({"DATABASE_URL": engine.url.render_as_string(hide_password=False),
                "GRIDWATCH_VAR_DIR": str(tmp_path / "var")})
    return env, config


def test_load_demo_config_file_reaches_the_camera_importer(database_factory, tmp_path):
    """A district whose cameras must lie 5 km apart refuses the demo's as probable duplicates: the file's
    settings reached the importer; and nothing of the demo is written (one transaction)."""
    engine = database_factory("ctx_cameras")
    env, config = _env(engine, tmp_path, camera_min_spacing_m=5000.0)
    r = _gridwatch(env, "--config", str(config), "load-demo")
    assert r.returncode == 2, (r.stdout[-1500:], r.stderr[-1500:])
    assert "probable duplicate (minimum spacing 5000 m)" in r.stderr
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM grids")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM cameras")).scalar() == 0


def test_incident_import_config_file_reaches_the_importer(demo_copy, tmp_path):
    """The district extent of the config file (a box far from Da'an) is the one incidents are checked
    against: every demo incident is then outside it."""
    engine = demo_copy("ctx_incidents")  # the demo loaded (a file copy; the load itself is tested above)
    env2, config2 = _env(engine, tmp_path / "far", district_bbox=[110.0, 20.0, 110.5, 20.5],
                         extent_margin_m=0.0)
    with engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM incidents")).scalar()
    r = _gridwatch(env2, "--config", str(config2), "incidents", "import", "data/demo/incidents.csv")
    assert r.returncode == 2 and "outside the district" in r.stderr, r.stderr[-1500:]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents")).scalar() == before


def test_district_of_builds_the_settings_district():
    d = district_of(TEST_SETTINGS)
    assert (d.code, d.camera_centre_code, d.timezone, d.data_start) == (
        TEST_SETTINGS.district_code, TEST_SETTINGS.camera_centre_code, TEST_SETTINGS.timezone,
        date.fromisoformat(TEST_SETTINGS.data_start_date))
    assert d.bbox == tuple(TEST_SETTINGS.district_bbox) and d.tz.key == TEST_SETTINGS.timezone
    assert TEST_SETTINGS.district is TEST_SETTINGS.district  # built once per settings object
    other = TEST_SETTINGS.replace(timezone="UTC")
    assert other.district.timezone == "UTC" and TEST_SETTINGS.district.timezone != "UTC"


@pytest.mark.parametrize("override, names", [
    ({"district_code": "51030"}, "district_code"),
    ({"camera_centre_code": "44030600"}, "camera_centre_code"),
    ({"district_bbox": [105.0, 29.2, 104.5, 29.5]}, "district_bbox"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"extent_margin_m": float("inf")}, "extent_margin_m"),
    ({"data_start_date": "2010-13-01"}, "data_start_date"),
])
def test_bad_district_settings_name_the_setting(override, names, tmp_path):
    settings = Settings({"var_dir": str(tmp_path), "secret_key": "x", **override}, environ={},
                        config_file=tmp_path / "none.toml")
    with pytest.raises(ValueError, match=names):
        district_of(settings)
    from app import create_app

    with pytest.raises(ValueError, match=names):  # the factory refuses to start, not the first request
        create_app(settings, database=object())


def test_district_is_a_value():
    d = District(code="510304", name="大安区", name_en="Da'an", camera_centre_code="51030401",
                 bbox=[104.5, 29.2, 105.0, 29.5], margin_m=0, timezone="UTC", language="en",
                 data_start=date(2020, 1, 1))
    assert d.bbox == (104.5, 29.2, 105.0, 29.5) and isinstance(d.bbox, tuple)
    with pytest.raises(AttributeError):
        d.code = "440306"


def test_the_district_name_comes_from_the_settings(settings, demo_db, tmp_path):
    """Another district's deployment shows its own name in the page title and in Open311."""
    from app import create_app
    from app.accounts.keys import add_api_key
    from tests.app.dash_helpers import login

    other = settings.replace(district_name="富顺县", district_name_en="Fushun")
    application = create_app(other, database=demo_db)
    client = application.test_client()
    with demo_db.session() as s:
        from app.demo import create_demo_accounts

        create_demo_accounts(s)
        key = add_api_key(s, "ctx-key", "operator")
    login(client, "operator")
    assert "富顺县网格化管理" in client.get("/dashboard/stats").get_data(as_text=True)
    assert "Fushun grid management" in client.get("/dashboard/stats?lang=en").get_data(as_text=True)
    with demo_db.session() as s:
        newest = s.execute(text("SELECT id FROM incidents ORDER BY reported_at DESC LIMIT 1")).scalar()
    rows = client.get(f"/open311/v2/requests/{newest}.json", headers={"X-API-Key": key}).get_json()
    assert len(rows) == 1 and rows[0]["agency_responsible"].startswith("富顺县"), rows
