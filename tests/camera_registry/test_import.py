"""Camera import on real PostGIS: validation messages, reject/skip/dry-run, GCJ-02, encodings, upserts."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from camera_registry.importer import import_cameras
from gis.crs import wgs84_to_gcj02
from gis.errors import InvalidData

from .conftest import count, row, write_csv
from tests.settings import DISTRICT


def _errors(session, path, **kw):
    with pytest.raises(InvalidData) as info:
        import_cameras(session, path, **{"district": DISTRICT, **kw})
    return info.value.errors


def test_valid_file_is_stored_with_events_and_revisions(session, csv_file):
    path = csv_file([row(1), row(2, point_class="2", install_date="", contact="", record_days="")])
    report = import_cameras(session, path, district=DISTRICT)
    assert (report.rows, report.added, report.updated, report.unchanged, report.rejected) == (2, 2, 0, 0, 0)
    got = session.execute(text(
        "SELECT device_id, name, programme, point_class, ptz_type, function_types, height_m, azimuth, fov, vfov, "
        "range_m, install_date, record_days, status, source_crs, version, ST_X(geom), ST_Y(geom) "
        "FROM cameras ORDER BY device_id")).all()
    assert got[0][:15] == ("51030400001325000001", "测试点位1球机", "skynet", 1, 1, "02;03", 6.5, 90.0, 60.0, 35.0,
                           80.0, date(2020, 5, 1), 90, "ON", "wgs84")
    assert got[0][15] == 1 and got[0][16:] == (104.7714, 29.3665)
    assert got[1][11] is None and got[1][12] is None
    assert count(session, "camera_events", "event = 'ADD'") == 2
    assert count(session, "camera_revisions") == 2


BAD_CELLS = [
    ({"device_id": "5103040000132500001"}, "device_id", "length: must have 20 digits, has 19"),
    ({"device_id": "5103040000132500000A"}, "device_id", "serial: character 20 ('A') is not a digit"),
    ({"device_id": "51030200001325000001"}, "device_id", "centre code: 51030200 is not under"),
    ({"device_id": "51030400131005000001"}, "device_id", "type: unknown device type code 100"),
    ({"device_id": "51030400003005000001"}, "device_id", "type: unknown device type code 300"),
    ({"device_id": "51030400001329000001"}, "device_id", "network: unknown network code 9"),
    ({"device_id": "51030400001185000001"}, "device_id", "118 (NVR) is not a camera type"),
    ({"device_id": ""}, "device_id", "missing: every camera needs a device_id"),
    ({"name": ""}, "name", "missing: every camera needs a name (设备名称)"),
    ({"name": "长" * 101}, "name", "is 101 characters long; at most 100 allowed"),
    ({"azimuth": "360.5"}, "azimuth", "360.5 is outside [0, 360] degrees"),
    ({"azimuth": "-1"}, "azimuth", "-1 is outside [0, 360]"),
    ({"azimuth": "东"}, "azimuth", "'东' is not a number"),
    ({"fov": "0"}, "fov", "0 is outside (0, 360] degrees"),
    ({"fov": "361"}, "fov", "361 is outside (0, 360]"),
    ({"vfov": "0"}, "vfov", "0 is outside (0, 180]"),
    ({"range_m": "0"}, "range_m", "0 is outside (0, 10000] metres"),
    ({"height_m": "-2"}, "height_m", "-2 is outside (0, 300]"),
    ({"record_days": "30.5"}, "record_days", "'30.5' is not a whole number"),
    ({"record_days": "0"}, "record_days", "0 is outside [1, 3650] days"),
    ({"install_date": "2020-13-01"}, "install_date", "'2020-13-01' is not a date (YYYY-MM-DD)"),
    ({"install_date": "2999-01-01"}, "install_date", "2999-01-01 is in the future"),
    ({"programme": "天眼"}, "programme", "'天眼' is not a programme"),
    ({"status": "BROKEN"}, "status", "'BROKEN' is not a status"),
    ({"point_class": "4"}, "point_class", "'4' is not a point class"),
    ({"ptz_type": "8"}, "ptz_type", "'8' is not a PTZ type"),
    ({"function_types": "01;07"}, "function_types", "function types are 01/02/03/04/05/99"),
    ({"management_unit": "", "contact": ""}, "management_unit,contact",
     "a class-1 point (一类点位) must have management_unit (管理单位), contact (联系方式)"),
    ({"record_days": "", "install_date": ""}, "install_date,record_days", "(GB/T 28181-2022)"),
    ({"lon": "104,77"}, "lon", "'104,77' is not a number"),
    ({"lat": ""}, "lat", "'' is not a number"),
    ({"lon": "106.5"}, "lon/lat", "km outside the district extent"),
    ({"lon": "29.3665", "lat": "104.7716"}, "lon/lat", "coordinates look swapped"),
    # EPSG:4544 metres without --crs: a hint, not "outside the district"
    ({"lon": "478640.2", "lat": "3250299.5"}, "lon/lat",
     "coordinates look projected (e.g. EPSG:4544 metres); pass --crs EPSG:4544 or set the file's CRS"),
    # refused, never stored or cut: NUL (PostgreSQL would refuse it with a traceback), bidi overrides, controls
    ({"name": "大安\x00球机"}, "name", "contains U+0000 (NUL) at position 3"),
    ({"name": "路东\u202e机球"}, "name", "contains U+202E (right-to-left override) at position 3"),
    ({"address": "\x1f大安区"}, "address", "contains U+001F at position 1"),
    ({"point_name": "a\nb"}, "point_name", "U+000A (line feed)"),
    ({"azimuth": "9\x000"}, "azimuth", "U+0000 (NUL)"),
    # the limit is the model's column size (Camera.contact String(60), address String(200))
    ({"contact": "1" * 61}, "contact", "is 61 characters long; at most 60 allowed"),
    ({"address": "路" * 201}, "address", "is 201 characters long; at most 200 allowed"),
]


@pytest.mark.parametrize("cells, field, reason", BAD_CELLS)
def test_each_bad_row_kind_is_reported_with_line_field_and_reason(session, csv_file, cells, field, reason):
    path = csv_file([row(1), row(2), row(3, **cells)])
    errors = _errors(session, path)
    assert [(e.line, e.field) for e in errors] == [(4, field)]
    assert reason in errors[0].reason
    assert count(session, "cameras") == 0


def test_text_limits_are_the_model_columns():
    from camera_registry.models import Camera
    from camera_registry.schema import FIELDS

    for f in FIELDS:
        assert f.max_len == getattr(Camera.__table__.c[f.name].type, "length", None), f.name


@pytest.mark.parametrize("content", [b"", "设备编码,设备名称,经度,纬度\r\n".encode("utf-8-sig")])
def test_empty_file_is_a_clear_error_with_exit_code_2(cli, db, tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidData, match="file is empty|no rows"):
        import_cameras(db.Session(), path, district=DISTRICT)
    res = cli(db, "cameras", "import", str(path))
    assert res.exit_code == 2 and ("file is empty" in res.output or "no rows" in res.output), res.output
    assert "Traceback" not in res.output


def test_skip_writes_the_rows_beside_a_nul(session, csv_file):
    path = csv_file([row(1), row(2, name="a\x00b"), row(3)])
    report = import_cameras(session, path, on_error="skip", district=DISTRICT)
    assert (report.added, report.rejected) == (2, 1) and report.errors[0].line == 3
    assert session.execute(text("SELECT count(*) FROM cameras WHERE strpos(name, 'a') > 0")).scalar() == 0


def test_class_2_points_need_no_class_1_fields(session, csv_file):
    path = csv_file([row(1, point_class="2", management_unit="", contact="", record_days="", install_date="")])
    assert import_cameras(session, path, district=DISTRICT).added == 1


def test_duplicate_id_in_the_file(session, csv_file):
    path = csv_file([row(1), row(2), row(5, device_id=row(1)["device_id"])])
    errors = _errors(session, path)
    assert [(e.line, e.field) for e in errors] == [(4, "device_id")]
    assert errors[0].reason == "51030400001325000001 already on line 2 of this file"


def test_cameras_closer_than_the_minimum_spacing_in_the_file(session, csv_file):
    near = f"{104.7714 + 1.0e-5:.7f}"  # ≈ 0.97 m east of row 1
    path = csv_file([row(1), row(2), row(3, lon=near)])
    errors = _errors(session, path)
    assert [(e.line, e.field) for e in errors] == [(4, "lon/lat")]
    assert "m from line 2 (51030400001325000001): probable duplicate (minimum spacing 2 m)" in errors[0].reason
    assert float(errors[0].reason.split()[1]) == pytest.approx(0.97, abs=0.02)
    # a smaller minimum lets them through
    assert import_cameras(session, path, min_spacing_m=0.5, district=DISTRICT).added == 3


def test_spacing_against_the_registry_but_not_against_the_same_id(session, csv_file, tmp_path):
    import_cameras(session, csv_file([row(1), row(2)]), district=DISTRICT)
    moved_self = write_csv(tmp_path / "self.csv", [row(1, lon=f"{104.7714 + 5e-6:.7f}")])
    report = import_cameras(session, moved_self, district=DISTRICT)   # the same ID moved by 0.5 m: an update, not a duplicate
    assert (report.updated, report.rejected) == (1, 0)
    other = write_csv(tmp_path / "other.csv", [row(9, lon=f"{104.7715 + 5e-6:.7f}")])
    errors = _errors(session, other)
    assert [(e.line, e.field) for e in errors] == [(2, "lon/lat")]
    assert "from stored camera 51030400001325000002: probable duplicate" in errors[0].reason


def test_every_problem_of_every_row_is_listed(session, csv_file):
    path = csv_file([row(1, azimuth="400"), row(2), row(3, fov="0", status="?"), row(4, device_id="123")])
    errors = _errors(session, path)
    assert [(e.line, e.field) for e in errors] == [(2, "azimuth"), (4, "fov"), (4, "status"), (5, "device_id")]


def test_reject_skip_and_dry_run_leave_exactly_the_expected_rows(session, csv_file):
    rows = [row(1), row(2, azimuth="999"), row(3), row(4, lat="abc"), row(5)]
    path = csv_file(rows)
    _errors(session, path)
    assert count(session, "cameras") == 0 and count(session, "camera_events") == 0
    dry = import_cameras(session, path, on_error="skip", dry_run=True, district=DISTRICT)
    assert (dry.dry_run, dry.added, dry.rejected, len(dry.errors)) == (True, 3, 2, 2)
    assert count(session, "cameras") == 0 and count(session, "camera_revisions") == 0
    report = import_cameras(session, path, on_error="skip", district=DISTRICT)
    assert (report.added, report.rejected) == (3, 2)
    stored = session.execute(text("SELECT device_id FROM cameras ORDER BY 1")).scalars().all()
    assert stored == [rows[i]["device_id"] for i in (0, 2, 4)]
    clean = csv_file([row(1), row(3)], name="clean.csv")
    assert import_cameras(session, clean, dry_run=True, district=DISTRICT).unchanged == 2


def test_gcj02_input_is_stored_as_wgs84_within_half_a_metre(session, csv_file):
    wgs = [(104.7713 + 0.003 * k, 29.3665 - 0.002 * k) for k in range(6)]
    gcj = [wgs84_to_gcj02(lon, lat) for lon, lat in wgs]
    rows = [row(k + 1, lon=f"{g[0]:.8f}", lat=f"{g[1]:.8f}") for k, g in enumerate(gcj)]
    import_cameras(session, csv_file(rows), crs="gcj02", district=DISTRICT)
    dist = session.execute(text(
        "SELECT ST_Distance(c.geom::geography, ST_SetSRID(ST_MakePoint(v.x, v.y), 4326)::geography), "
        "ST_Distance(ST_SetSRID(ST_MakePoint(v.gx, v.gy), 4326)::geography, c.geom::geography), c.source_crs "
        "FROM unnest(CAST(:ids AS text[]), CAST(:x AS float8[]), CAST(:y AS float8[]), CAST(:gx AS float8[]), "
        "CAST(:gy AS float8[])) AS v(id, x, y, gx, gy) JOIN cameras c ON c.device_id = v.id"),
        {"ids": [r["device_id"] for r in rows], "x": [w[0] for w in wgs], "y": [w[1] for w in wgs],
         "gx": [g[0] for g in gcj], "gy": [g[1] for g in gcj]}).all()
    assert len(dist) == 6
    assert all(d < 0.5 for d, _, _ in dist)
    assert all(shift > 200 for _, shift, _ in dist)  # the GCJ offset was really removed (≈ 400 m here)
    assert {s for _, _, s in dist} == {"gcj02"}


def test_projected_geojson_in_epsg_4544(session, tmp_path):
    import geopandas as gpd
    import pandas as pd

    frame = pd.DataFrame([row(1), row(2)])
    gdf = gpd.GeoDataFrame(frame.drop(columns=["lon", "lat"]),
                           geometry=gpd.points_from_xy(frame["lon"].astype(float), frame["lat"].astype(float)),
                           crs="EPSG:4326").to_crs("EPSG:4544")
    gdf.to_file(tmp_path / "cams.gpkg", engine="pyogrio")
    assert import_cameras(session, tmp_path / "cams.gpkg", district=DISTRICT).added == 2
    d = session.execute(text("SELECT max(ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(104.7714 + "
                             "0.0001 * (right(device_id, 1)::int - 1), 29.3665), 4326)::geography)), "
                             "min(source_crs) FROM cameras")).one()
    assert d[0] < 0.01 and d[1] == "EPSG:4544"


def test_chinese_headers_in_a_gb18030_csv(session, tmp_path):
    zh = {"device_id": "设备编码", "name": "名称", "point_name": "点位名称", "programme": "建设工程",
          "point_class": "点位级别", "ptz_type": "摄像机类型", "function_types": "功能类型", "height_m": "安装高度",
          "azimuth": "方位角", "fov": "水平视场角", "vfov": "垂直视场角", "range_m": "最大可视距离",
          "install_date": "安装时间", "management_unit": "管理单位", "contact": "联系方式",
          "record_days": "录像保存天数", "address": "地址", "status": "在线状态", "lon": "经度", "lat": "纬度"}
    rows = [{zh[k]: v for k, v in row(1, programme="雪亮工程", status="离线", point_class="一类",
                                     ptz_type="固定枪机").items()},
            {zh[k]: v for k, v in row(2, programme="天网", status="在线").items()}]
    path = write_csv(tmp_path / "点位.csv", rows, encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        path.read_text(encoding="utf-8")
    assert import_cameras(session, path, district=DISTRICT).added == 2
    got = session.execute(text("SELECT name, programme, status, point_class, ptz_type, management_unit "
                               "FROM cameras ORDER BY device_id")).all()
    assert got == [("测试点位1球机", "xueliang", "OFF", 1, 3, "自贡市公安局大安区分局"),
                   ("测试点位2球机", "skynet", "ON", 1, 1, "自贡市公安局大安区分局")]


def test_two_columns_for_one_field_and_missing_required_columns(session, tmp_path):
    path = write_csv(tmp_path / "a.csv", [{"设备编码": row(1)["device_id"], "设备ID": row(1)["device_id"],
                                           "名称": "x", "经度": "104.77", "纬度": "29.36"}])
    errors = _errors(session, path)
    assert errors[0].field == "设备ID" and "names the same field (device_id)" in errors[0].reason
    path = write_csv(tmp_path / "b.csv", [{"名称": "x", "经度": "104.77", "纬度": "29.36", "备注": "?"}])
    errors = _errors(session, path)
    assert [(e.line, e.field) for e in errors] == [(1, "device_id")]
    assert "missing column 'device_id' (设备编码)" in errors[0].reason


def test_reimport_changes_nothing_and_real_changes_make_one_revision(session, csv_file, tmp_path):
    rows = [row(k) for k in range(1, 6)]
    path = csv_file(rows)
    import_cameras(session, path, district=DISTRICT)
    before = (count(session, "camera_revisions"), count(session, "camera_events"))
    again = import_cameras(session, path, district=DISTRICT)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 5)
    assert (count(session, "camera_revisions"), count(session, "camera_events")) == before
    assert count(session, "cameras", "version = 1") == 5

    rows[1] = row(2, azimuth="120")
    rows[2] = row(3, status="OFF")
    report = import_cameras(session, write_csv(tmp_path / "changed.csv", rows), district=DISTRICT)
    assert (report.updated, report.unchanged) == (2, 3)
    events = session.execute(text("SELECT device_id, event, note FROM camera_events WHERE event <> 'ADD' "
                                  "ORDER BY device_id")).all()
    assert [(e[0], e[1]) for e in events] == [(rows[1]["device_id"], "UPDATE"), (rows[2]["device_id"], "OFF")]
    assert "changed azimuth" in events[0][2]
    assert count(session, "camera_revisions") == before[0] + 2
    assert session.execute(text("SELECT azimuth, version FROM cameras WHERE device_id = :d"),
                           {"d": rows[1]["device_id"]}).one() == (120.0, 2)


def test_absent_columns_keep_stored_values(session, csv_file, tmp_path):
    import_cameras(session, csv_file([row(1)]), district=DISTRICT)
    slim = write_csv(tmp_path / "slim.csv", [{k: row(1)[k] for k in ("device_id", "name", "lon", "lat")}])
    report = import_cameras(session, slim, district=DISTRICT)
    assert report.unchanged == 1
    assert session.execute(text("SELECT azimuth, programme FROM cameras")).one() == (90.0, "skynet")


def test_unknown_columns_are_reported_as_ignored(session, tmp_path):
    path = write_csv(tmp_path / "x.csv", [{**row(1), "备注": "新装", "foo": "1"}])
    assert import_cameras(session, path, district=DISTRICT).ignored_columns == ["备注", "foo"]


def test_locate_derives_codes_and_refuses_positions_outside_every_community(demo_session, csv_file):
    from .conftest import postgis_locate

    locate = postgis_locate(demo_session)
    lon, lat = demo_session.execute(text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids ORDER BY code LIMIT 1) q")).one()
    inside = row(90001, device_id="51030400011315900001", lon=f"{lon:.7f}", lat=f"{lat:.7f}")
    grid = demo_session.execute(text("SELECT code, community_code FROM grids ORDER BY code LIMIT 1")).one()
    import_cameras(demo_session, csv_file([inside]), locate=locate, district=DISTRICT)
    got = demo_session.execute(text("SELECT grid_code, community_code, street_code FROM cameras "
                                    "WHERE device_id = '51030400011315900001'")).one()
    assert got == (grid[0], grid[1], grid[1][:9])
    far = row(2, device_id="51030400011315900002", lon="104.5500", lat="29.2000")  # bbox corner, outside
    errors = _errors(demo_session, csv_file([far], name="far.csv"), locate=locate)
    assert "lies outside every community of the district" in errors[0].reason


def test_on_error_must_be_reject_or_skip(session, csv_file):
    with pytest.raises(InvalidData, match="on_error must be reject or skip"):
        import_cameras(session, csv_file([row(1)]), on_error="ignore", district=DISTRICT)


# -- the lifecycle: a file changes neither a retired camera nor a planned one's status ----------------------------
def test_a_retired_camera_is_read_only_to_an_import(session, csv_file, tmp_path):
    from camera_registry.history import retire_camera

    import_cameras(session, csv_file([row(1), row(2)]), district=DISTRICT)
    retire_camera(session, row(1)["device_id"], "admin", "pole removed")
    before = (count(session, "camera_revisions"), count(session, "camera_events"))
    renamed = write_csv(tmp_path / "renamed.csv", [row(1, name="改名"), row(2, name="也改名")])
    errors = _errors(session, renamed)
    assert [(e.line, e.field) for e in errors] == [(2, "device_id")]
    assert "retired" in errors[0].reason and "read-only" in errors[0].reason and "take the row out" in errors[0].reason
    report = import_cameras(session, renamed, district=DISTRICT, on_error="skip")  # the other row is written
    assert (report.updated, report.rejected) == (1, 1)
    assert session.execute(text("SELECT name, lifecycle, version FROM cameras WHERE device_id = :d"),
                           {"d": row(1)["device_id"]}).one() == ("测试点位1球机", "retired", 2)
    assert (count(session, "camera_revisions"), count(session, "camera_events")) == (before[0] + 1, before[1] + 1)
    # the retired camera's row as stored is no change: unchanged, not an error (an export round trip)
    again = import_cameras(session, csv_file([row(1), row(2, name="也改名")], name="same.csv"), district=DISTRICT)
    assert (again.unchanged, again.updated, again.rejected) == (2, 0, 0)


def test_a_file_does_not_change_a_planned_cameras_status_nor_adds_a_provisional_id(session, csv_file, tmp_path):
    from camera_registry.history import add_camera
    from camera_registry.planned import PROVISIONAL_SERIALS, provisional_prefix

    prov = f"{provisional_prefix(DISTRICT.camera_centre_code)}{PROVISIONAL_SERIALS[0]:06d}"
    add_camera(session, row(1, status="OFF"), actor="pat", lifecycle="planned", district=DISTRICT)
    errors = _errors(session, csv_file([row(1, status="ON")]))
    assert [(e.line, e.field) for e in errors] == [(2, "status")]
    assert "planned" in errors[0].reason and "gridwatch coverage replace-id" in errors[0].reason
    assert session.execute(text("SELECT status, lifecycle, version FROM cameras")).one() == ("OFF", "planned", 1)
    # its other fields may change by file; it stays planned
    report = import_cameras(session, csv_file([row(1, status="OFF", name="规划改名")], name="b.csv"), district=DISTRICT)
    assert report.updated == 1
    assert session.execute(text("SELECT name, status, lifecycle FROM cameras")).one() == ("规划改名", "OFF", "planned")
    errors = _errors(session, csv_file([row(5, device_id=prov)], name="c.csv"))
    assert [(e.line, e.field) for e in errors] == [(2, "device_id")] and "provisional" in errors[0].reason
    assert count(session, "cameras") == 1


def test_spacing_counts_planned_cameras_but_not_retired_ones(session, csv_file):
    """A new camera on a retired camera's pole is its replacement, not a duplicate; on a planned site it is."""
    from camera_registry.history import add_camera, retire_camera

    import_cameras(session, csv_file([row(1)]), district=DISTRICT)
    add_camera(session, row(3), actor="pat", lifecycle="planned", district=DISTRICT)
    retire_camera(session, row(1)["device_id"], "admin", "replaced")
    on_retired = row(7, lon=f"{104.7714 + 5e-6:.7f}")   # 0.5 m from the retired camera
    on_planned = row(8, lon=f"{104.7716 + 5e-6:.7f}")   # 0.5 m from the planned one
    errors = _errors(session, csv_file([on_retired, on_planned]))
    assert [(e.line, e.field) for e in errors] == [(3, "lon/lat")]
    assert f"from stored camera {row(3)['device_id']}: probable duplicate" in errors[0].reason
    report = import_cameras(session, csv_file([on_retired], name="replacement.csv"), district=DISTRICT)
    assert report.added == 1
    # add_camera (the API, adoption) checks the same way
    add_camera(session, row(9, lon=f"{104.7714 - 5e-6:.7f}"), actor="a", district=DISTRICT, min_spacing_m=0.4)
    with pytest.raises(InvalidData, match=row(3)["device_id"]):
        add_camera(session, row(10, lon=f"{104.7716 - 5e-6:.7f}"), actor="a", district=DISTRICT, min_spacing_m=2.0)
