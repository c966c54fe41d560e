"""``gridwatch cameras import`` of GB/T 28181 catalogs, Notify and wvp exports (tests/data/catalog, PARSE's samples),
in-process on the demo district; every number the sync report prints is checked against the database by SQL."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import text

DATA = Path(__file__).resolve().parent.parent / "data" / "catalog"
P = "51030400002000000001"   # the platform of full/, later/, single/ and notify.xml
P2 = "51030400002000000002"  # the GCJ-02 platform of gcj02/
WVP = "51030400002000000009"  # the platform a wvp export is imported as (--platform)


def scalar(db, sql, **params):
    with db.Session() as s:
        return s.execute(text(sql), params).scalar()


def written(db) -> tuple:
    """Every row count a sync could change, and the sum of the cameras' versions."""
    return tuple(scalar(db, f"SELECT count(*) FROM {t}") for t in
                 ("cameras", "camera_events", "camera_revisions", "audit_log", "catalog_nodes")) + \
        (scalar(db, "SELECT sum(version) FROM cameras"),)


def numbers(output: str) -> dict:
    """The sync report's numbers by name ("added 4" → {"added": 4}, "nodes added 4" for the catalog tree)."""
    line = next(l for l in output.splitlines() if " of platform " in l)
    cams, nodes = line.split("catalog nodes")
    out = {}
    for part, prefix in ((cams, ""), (nodes, "nodes ")):
        for name, n in re.findall(r"(added|changed|retired|unchanged|status events|removed|refused|not cameras)"
                                  r" (\d+)", part):
            out[prefix + name] = int(n)
    out["refused"] = int(re.search(r"refused (\d+)", line).group(1))
    out["not cameras"] = int(re.search(r"not cameras (\d+)", line).group(1))
    return out


def events(db, since: int, event: str, source: str = P) -> int:
    return scalar(db, "SELECT count(*) FROM camera_events WHERE id > :i AND event = :e AND source = :s",
                  i=since, e=event, s=source)


def max_event(db) -> int:
    return scalar(db, "SELECT coalesce(max(id), 0) FROM camera_events")


def run(cli, db, *args):
    res = cli(db, "cameras", "import", *map(str, args))
    return res


def test_full_later_same_again_then_notify(cli, demo_db):
    cams0 = scalar(demo_db, "SELECT count(*) FROM cameras")
    # the full catalog in two GB18030 messages: 4 nodes, 4 cameras
    e0 = max_event(demo_db)
    res = run(cli, demo_db, DATA / "full")
    assert res.exit_code == 0, res.output
    n = numbers(res.output)
    assert n["added"] == events(demo_db, e0, "ADD") == scalar(
        demo_db, "SELECT count(*) FROM cameras WHERE platform = :p", p=P) == 4
    assert scalar(demo_db, "SELECT count(*) FROM cameras") == cams0 + 4
    assert n["nodes added"] == scalar(demo_db, "SELECT count(*) FROM catalog_nodes WHERE platform = :p", p=P) == 4
    assert (n["changed"], n["retired"], n["refused"], n["not cameras"]) == (0, 0, 0, 0)
    assert scalar(demo_db, "SELECT name FROM cameras WHERE device_id = '51030400001320000001'") == "𠮷祥路口球机"
    assert scalar(demo_db, "SELECT name FROM catalog_nodes WHERE node_id = '51030400002160000001'") == "䶮山片区"
    assert scalar(demo_db, "SELECT ptz_type FROM cameras WHERE device_id = '51030400001320000002'") == 6
    assert scalar(demo_db, "SELECT count(*) FROM cameras WHERE device_id = '51030401081217123456' AND status = 'OFF'"
                           " AND azimuth = 180 AND azimuth_approx") == 1
    assert "ignored elements (no registry field): Block, SafetyWay, RegisterWay" in res.output
    # the same catalog as one message (single/) is the same catalog: nothing to write
    before = written(demo_db)
    res = run(cli, demo_db, DATA / "single" / "catalog.xml")
    assert res.exit_code == 0, res.output
    n = numbers(res.output)
    assert (n["added"], n["changed"], n["unchanged"], n["nodes unchanged"], n["nodes added"]) == (0, 0, 4, 4, 0)
    assert written(demo_db) == before
    # a month later: …0001 renamed and OFF, …0002 gone, …0005 new
    e1 = max_event(demo_db)
    revs = scalar(demo_db, "SELECT count(*) FROM camera_revisions")
    res = run(cli, demo_db, DATA / "later" / "catalog.xml")
    assert res.exit_code == 0, res.output
    n = numbers(res.output)
    assert n["added"] == events(demo_db, e1, "ADD") == 1
    assert n["changed"] == events(demo_db, e1, "UPDATE") == 1
    assert n["retired"] == events(demo_db, e1, "DEL") == 1
    assert n["unchanged"] == 2 and n["status events"] == 0 and n["nodes unchanged"] == 4
    assert scalar(demo_db, "SELECT count(*) FROM camera_revisions") - revs == 3
    assert scalar(demo_db, "SELECT lifecycle FROM cameras WHERE device_id = '51030400001320000002'") == "retired"
    assert scalar(demo_db, "SELECT name || ' ' || status FROM cameras WHERE device_id = '51030400001320000001'") == \
        "吉祥路口球机（迁移） OFF"
    # … the same again writes nothing: no event, revision, audit row or node update
    before = written(demo_db)
    nodes_at = scalar(demo_db, "SELECT max(updated_at)::text FROM catalog_nodes")
    res = run(cli, demo_db, DATA / "later" / "catalog.xml")
    assert res.exit_code == 0 and numbers(res.output)["unchanged"] == 4
    assert written(demo_db) == before
    assert scalar(demo_db, "SELECT max(updated_at)::text FROM catalog_nodes") == nodes_at
    # the Notify: …0002 was retired by the later catalog, so its VLOST and UPDATE are refused (read-only)
    res = run(cli, demo_db, DATA / "notify.xml")
    assert res.exit_code == 2
    assert "DeviceID 51030400001320000002 (notify.xml, message 1, item 3): Event: camera 51030400001320000002 " \
           "is retired" in res.output
    assert "DeviceID 51030400001320000002 (notify.xml, message 1, item 6): DeviceID: camera" in res.output
    assert written(demo_db) == before
    e2 = max_event(demo_db)
    res = run(cli, demo_db, DATA / "notify.xml", "--on-error", "skip")
    assert res.exit_code == 0, res.output
    n = numbers(res.output)
    assert n["refused"] == 2 and res.output.count("refused: DeviceID 51030400001320000002") == 2
    # ON …123456 (was OFF), OFF …0001 (already OFF), DEFECT …0003, ADD …0006, DEL …0003
    status_events = sum(events(demo_db, e2, e) for e in ("ON", "OFF", "VLOST", "DEFECT"))
    assert n["status events"] == status_events == 2
    assert n["added"] == events(demo_db, e2, "ADD") == 1 and n["retired"] == events(demo_db, e2, "DEL") == 1
    assert n["unchanged"] == 1
    assert scalar(demo_db, "SELECT status FROM cameras WHERE device_id = '51030401081217123456'") == "ON"
    assert scalar(demo_db, "SELECT lifecycle || ' ' || status FROM cameras WHERE device_id = '51030400131320000003'") \
        == "retired DEFECT"
    assert scalar(demo_db, "SELECT count(*) FROM camera_events WHERE id > :i AND (source IS DISTINCT FROM :p OR "
                           "actor <> 'catalog')", i=e2, p=P) == 0


def test_notify_after_the_full_catalog(cli, demo_db):
    assert run(cli, demo_db, DATA / "full").exit_code == 0
    e0 = max_event(demo_db)
    res = run(cli, demo_db, DATA / "notify.xml")
    assert res.exit_code == 0, res.output
    n = numbers(res.output)
    # ON …123456, OFF …0001, VLOST …0002, DEFECT …0003; ADD …0006; UPDATE …0002 (renamed, Status ON again);
    # DEL …0003
    assert n["status events"] == sum(events(demo_db, e0, e) for e in ("ON", "OFF", "VLOST", "DEFECT")) == 4
    assert n["added"] == 1 and n["changed"] == events(demo_db, e0, "UPDATE") == 1 and n["retired"] == 1
    assert scalar(demo_db, "SELECT name || ' ' || status FROM cameras WHERE device_id = '51030400001320000002'") == \
        "汇东广场全景（更名） ON"


def test_dry_run_writes_nothing(cli, demo_db):
    before = written(demo_db)
    res = run(cli, demo_db, DATA / "full", "--dry-run")
    assert res.exit_code == 0, res.output
    assert "dry run: catalog of platform " + P in res.output
    n = numbers(res.output)
    assert n["added"] == 4 and n["nodes added"] == 4
    assert written(demo_db) == before


@pytest.fixture
def cli_with(tmp_path):
    """``cli_with(settings_overrides)(database, *args)``: the ``cli`` fixture with other settings."""
    from click.testing import CliRunner

    from app.cli import Context, main
    from app.config import Settings

    root = Path(__file__).resolve().parent.parent.parent

    def make(overrides):
        settings = Settings({"var_dir": str(tmp_path / "var"), "secret_key": "test-secret",
                             "data_dir": str(root / "data"), **overrides},
                            environ={}, config_file=tmp_path / "none.toml")

        def run_(database, *args):
            ctx = Context(settings)
            ctx._db = database
            return CliRunner().invoke(main, list(map(str, args)), obj=ctx, catch_exceptions=False)
        return run_
    return make


def test_gcj02_platform_setting(cli_with, demo_db):
    from gis.crs import gcj02_to_wgs84

    cli = cli_with({"video_platforms": {P2: {"name": "雪亮平台", "crs": "gcj02"}}})
    expected = json.loads((DATA / "gcj02_expected_wgs84.json").read_text(encoding="utf-8"))
    # the demo district already has one of the two IDs (from its cameras.csv): the platform adopts and moves it
    stored = scalar(demo_db, "SELECT count(*) FROM cameras WHERE device_id = ANY(:d)", d=list(expected))
    res = cli(demo_db, "cameras", "import", DATA / "gcj02" / "catalog.xml")
    assert res.exit_code == 0, res.output
    assert "coordinates gcj02" in res.output
    n = numbers(res.output)
    assert (n["added"], n["changed"]) == (2 - stored, stored)
    assert scalar(demo_db, "SELECT count(*) FROM cameras WHERE platform = :p", p=P2) == 2
    body = (DATA / "gcj02" / "catalog.xml").read_text(encoding="utf-8")
    items = [i for i in re.findall(r"<Item>(.*?)</Item>", body, re.S) if "<Longitude>" in i]
    assert len(items) == 2
    for it in items:
        device_id, lon, lat = (re.search(f"<{e}>([^<]*)</{e}>", it).group(1) for e in ("DeviceID", "Longitude",
                                                                                       "Latitude"))
        want = gcj02_to_wgs84(float(lon), float(lat))
        with demo_db.Session() as s:
            x, y, src = s.execute(text("SELECT ST_X(geom), ST_Y(geom), source_crs FROM cameras WHERE device_id = :d"),
                                  {"d": device_id}).one()
        assert abs(x - want[0]) < 1e-9 and abs(y - want[1]) < 1e-9 and src == "gcj02"
        assert abs(x - expected[device_id][0]) < 1e-7 and abs(y - expected[device_id][1]) < 1e-7
    # --crs wins over the setting (a dry run: the file's GCJ-02 numbers read as WGS-84 move every camera)
    res = cli(demo_db, "cameras", "import", DATA / "gcj02" / "catalog.xml", "--crs", "wgs84", "--dry-run")
    assert res.exit_code == 0, res.output
    assert "coordinates wgs84" in res.output and numbers(res.output)["changed"] == 2


def test_unknown_crs_in_setting_names_the_setting(cli_with, demo_db):
    cli = cli_with({"video_platforms": {P2: {"name": "雪亮平台", "crs": "mars"}}})
    before = written(demo_db)
    res = cli(demo_db, "cameras", "import", DATA / "gcj02" / "catalog.xml")
    assert res.exit_code == 2
    assert f"video_platforms.{P2}.crs" in res.output and "mars" in res.output
    assert written(demo_db) == before


def test_wvp_export_needs_platform(cli, demo_db):
    before = written(demo_db)
    res = run(cli, demo_db, DATA / "wvp" / "channels.json")
    assert res.exit_code == 2 and "--platform" in res.output
    assert written(demo_db) == before
    e0 = max_event(demo_db)
    res = run(cli, demo_db, DATA / "wvp" / "channels.json", "--platform", WVP)
    assert res.exit_code == 0, res.output
    n = numbers(res.output)
    assert n["added"] == events(demo_db, e0, "ADD", WVP) == scalar(
        demo_db, "SELECT count(*) FROM cameras WHERE platform = :p", p=WVP) == 3
    assert n["nodes added"] == scalar(demo_db, "SELECT count(*) FROM catalog_nodes WHERE platform = :p", p=WVP) == 2
    assert scalar(demo_db, "SELECT status FROM cameras WHERE device_id = '51030400001320000202'") == "OFF"
    # the catalog's own platform is checked against --platform
    res = run(cli, demo_db, DATA / "later" / "catalog.xml", "--platform", WVP)
    assert res.exit_code == 2 and f"the catalog is platform {P}'s" in res.output


def test_wvp_legacy_channels_status_numbers(cli, demo_db):
    res = run(cli, demo_db, DATA / "wvp_legacy" / "channels.json", "--platform", WVP)
    assert res.exit_code == 0, res.output
    with demo_db.Session() as s:
        status = dict(s.execute(text("SELECT device_id, status FROM cameras WHERE platform = :p"), {"p": WVP}).all())
    assert status == {"51030400001320000301": "ON", "51030400001320000302": "OFF", "51030400001320000303": "OFF"}


def test_refused_items_exit_2_and_skip(cli, demo_db, tmp_path):
    body = (DATA / "single" / "catalog.xml").read_bytes().decode("gb18030")
    bad = body.replace("<PTZType>3</PTZType>", "<PTZType>9</PTZType>", 1)
    assert bad != body
    path = tmp_path / "bad.xml"
    path.write_bytes(bad.encode("gb18030"))
    before = written(demo_db)
    res = run(cli, demo_db, path)
    assert res.exit_code == 2
    assert re.search(r"DeviceID 51030400131320000003 \(bad\.xml, message 1, item \d\): PTZType: '9' is not a PTZ type",
                     res.output), res.output
    assert written(demo_db) == before
    res = run(cli, demo_db, path, "--on-error", "skip")
    assert res.exit_code == 0 and numbers(res.output)["added"] == 3 and numbers(res.output)["refused"] == 1
    assert "refused: DeviceID 51030400131320000003" in res.output


def test_incomplete_catalog_retires_nothing(cli, demo_db):
    assert run(cli, demo_db, DATA / "full").exit_code == 0
    active = scalar(demo_db, "SELECT count(*) FROM cameras WHERE platform = :p AND lifecycle = 'active'", p=P)
    res = run(cli, demo_db, DATA / "full" / "catalog-2.xml")  # one message of two: 4 of SumNum 8
    assert res.exit_code == 0, res.output
    assert "note: catalog incomplete" in res.output and numbers(res.output)["retired"] == 0
    assert numbers(res.output)["nodes removed"] == 0
    assert scalar(demo_db, "SELECT count(*) FROM cameras WHERE platform = :p AND lifecycle = 'active'", p=P) == active


def test_table_import_unchanged_and_platform_is_for_catalogs(cli, demo_db, tmp_path):
    from tests.camera_registry.conftest import write_csv
    from tests.app.test_cameras_cli import _new_row

    path = write_csv(tmp_path / "c.csv", [_new_row(demo_db, 1)])
    res = run(cli, demo_db, path, "--platform", P)
    assert res.exit_code == 2 and "--platform is for catalogs" in res.output
    res = run(cli, demo_db, path)
    assert res.exit_code == 0 and "added 1" in res.output
    res = run(cli, demo_db, tmp_path)
    assert res.exit_code == 2 and "folder" in res.output
