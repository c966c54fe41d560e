"""Camera files in the browser: upload → dry run → commit or cancel, the export of a selection, the map editor's
frame (app.camera_files), on the demo district with the real importer, exporter and PostGIS."""
from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import datetime, timedelta, timezone

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import text

from app.camera_files import service
from tests.app.dash_helpers import csrf, lead_grid, login  # noqa: F401  (lead_grid: a fixture)
from tests.camera_registry.conftest import row, write_csv

NEW_PREFIX = "5103040001131591"


def _q(demo_db, sql, **params):
    with demo_db.Session() as s:
        return s.execute(text(sql), params).all()


def _spot(demo_db):
    (lon, lat), = _q(demo_db, "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids "
                              "ORDER BY code DESC LIMIT 1) q")
    return lon, lat


def _new(demo_db, serial, **over):
    """A valid new camera inside the district's last grid, ~11 m apart per serial."""
    lon, lat = _spot(demo_db)
    return row(serial, device_id=f"{NEW_PREFIX}{serial:04d}", lon=f"{lon + serial * 1e-4:.7f}", lat=f"{lat:.7f}",
               **over)


def _csv_bytes(rows) -> bytes:
    buf = io.StringIO()
    pd.DataFrame(rows).to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def _upload(client, data: bytes, name="cams.csv", *, crs="", on_error="reject", token_page="/cameras/upload"):
    return client.post("/cameras/upload", data={"csrf_token": csrf(client, token_page), "crs": crs,
                                                "on_error": on_error, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def _token(resp) -> str:
    assert resp.status_code == 303, resp.get_data(as_text=True)[:800]
    m = re.search(r"/cameras/upload/([A-Za-z0-9_-]{32})$", resp.headers["Location"])
    assert m, resp.headers["Location"]
    return m.group(1)


def _post(client, path, page, **form):
    return client.post(path, data={"csrf_token": csrf(client, page), **form})


def _audit(demo_db, prefix=NEW_PREFIX):
    return _q(demo_db, "SELECT object_id, action, actor, after FROM audit_log WHERE object_type = 'camera' "
                       "AND object_id LIKE :p ORDER BY object_id, id", p=prefix + "%")


def _count(demo_db, prefix=NEW_PREFIX):
    return _q(demo_db, "SELECT count(*) FROM cameras WHERE device_id LIKE :p", p=prefix + "%")[0][0]


@pytest.fixture
def admin(client, lead_grid):
    login(client, "admin")
    return client


# -- access -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("account, status", [("admin", 200), ("operator", 403), ("planner", 403), ("lead", 403),
                                             ("member", 403)])
def test_upload_form_needs_camera_import(client, lead_grid, account, status):
    login(client, account)
    r = client.get("/cameras/upload")
    assert r.status_code == status
    if status == 403:
        assert "camera.import" in r.get_data(as_text=True)
        r = client.post("/cameras/upload", data={"csrf_token": csrf(client, "/login")})
        assert r.status_code == 403


def test_upload_needs_log_in_and_csrf(client, lead_grid):
    assert client.get("/cameras/upload").status_code == 302
    login(client, "admin")
    r = client.post("/cameras/upload", data={"file": (io.BytesIO(b"x"), "a.csv")}, content_type="multipart/form-data")
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)


# -- the form's fields ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name, crs, field", [("cams.shp", "", "file"), ("cams.exe", "", "file"), ("", "", "file"),
                                              ("cams.csv", "EPSG:99999999", "crs"), ("cams.csv", "mars", "crs"),
                                              ("a\x00b.csv", "", "file")])
def test_bad_form_is_422_naming_the_field(admin, demo_db, name, crs, field):
    r = _upload(admin, _csv_bytes([_new(demo_db, 1)]), name, crs=crs)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert f'data-field="{field}"' in html and 'id="gw-cfile-form"' in html
    assert _count(demo_db) == 0


def test_bad_on_error_is_422(admin, demo_db):
    r = _upload(admin, _csv_bytes([_new(demo_db, 1)]), on_error="maybe")
    assert r.status_code == 422 and 'data-field="on_error"' in r.get_data(as_text=True)


# -- dry run, then commit -------------------------------------------------------------------------------
def test_one_bad_row_is_shown_and_nothing_is_written_until_fixed(admin, demo_db, settings):
    rows = [_new(demo_db, 1), _new(demo_db, 2, azimuth="400"), _new(demo_db, 3)]
    token = _token(_upload(admin, _csv_bytes(rows)))
    page = admin.get(f"/cameras/upload/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r'data-count="added">[^<]*<b>2</b>', html) and re.search(r'data-count="rejected"[^>]*>[^<]*<b>1</b>', html)
    # the bad row: spreadsheet line 3, the field by its Chinese name, the reason
    bad = re.findall(r'<tr data-line="(\d+)" data-field="([^"]*)">(.*?)</tr>', html, re.S)
    assert [(b[0], b[1]) for b in bad] == [("3", "azimuth")]
    assert "方位角" in bad[0][2] and "400" in bad[0][2]
    assert 'id="gw-cfile-nothing-written"' in html and 'id="gw-cfile-commit"' not in html
    assert _count(demo_db) == 0 and _audit(demo_db) == []
    # the file is kept under var/uploads/cameras, bound to the token, under its own name
    assert (service.upload_store(settings).root / token / "file" / "cams.csv").is_file()
    # a commit anyway (all or nothing) writes nothing and lists the row
    r = _post(admin, f"/cameras/upload/{token}/commit", f"/cameras/upload/{token}")
    assert r.status_code == 422 and 'id="gw-cfile-commit-errors"' in r.get_data(as_text=True)
    assert _count(demo_db) == 0 and _audit(demo_db) == []
    # fixed and uploaded again: committed, every row with its audit row by the account
    rows[1]["azimuth"] = "135"
    token2 = _token(_upload(admin, _csv_bytes(rows)))
    assert 'id="gw-cfile-commit"' in admin.get(f"/cameras/upload/{token2}").get_data(as_text=True)
    r = _post(admin, f"/cameras/upload/{token2}/commit", f"/cameras/upload/{token2}")
    assert r.status_code == 303
    done = admin.get(f"/cameras/upload/{token2}").get_data(as_text=True)
    assert 'id="gw-cfile-done"' in done
    assert _count(demo_db) == 3
    audit = _audit(demo_db)
    assert [(a[0], a[1], a[2]) for a in audit] == [(f"{NEW_PREFIX}{i:04d}", "insert", "admin") for i in (1, 2, 3)]
    assert audit[1][3]["azimuth"] == 135 and audit[1][3]["updated_by"] == "admin"
    # the file is gone once committed; the record shows the result until it expires
    kept = service.upload_store(settings).root / token2
    assert not (kept / "file").exists() and json.loads((kept / "meta.json").read_text())["result"]["added"] == 3
    # committing twice writes nothing more
    _post(admin, f"/cameras/upload/{token2}/commit", f"/cameras/upload/{token2}")
    assert len(_audit(demo_db)) == 3


def test_update_and_skip_write_the_good_rows_with_their_audit(admin, demo_db):
    (did, name, az, ver), = _q(demo_db, "SELECT device_id, name, azimuth, version FROM cameras "
                                        "WHERE azimuth IS NOT NULL ORDER BY device_id LIMIT 1")
    with demo_db.Session() as s:
        from camera_registry.exporter import export_cameras
        import tempfile, pathlib
        with tempfile.TemporaryDirectory() as tmp:
            export_cameras(s, pathlib.Path(tmp) / "one.csv", device_ids=[did])
            one = pd.read_csv(pathlib.Path(tmp) / "one.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    new_az = (float(az) + 10) % 360
    one.loc[0, "azimuth"] = f"{new_az:g}"
    rows = one.to_dict("records") + [dict(one.to_dict("records")[0], device_id="not-an-id")]
    token = _token(_upload(admin, _csv_bytes(rows), on_error="skip"))
    html = admin.get(f"/cameras/upload/{token}").get_data(as_text=True)
    assert re.search(r'data-count="updated">[^<]*<b>1</b>', html)
    assert 'id="gw-cfile-skip-note"' in html and 'id="gw-cfile-commit"' in html
    r = _post(admin, f"/cameras/upload/{token}/commit", f"/cameras/upload/{token}")
    assert r.status_code == 303
    (az2, ver2), = _q(demo_db, "SELECT azimuth, version FROM cameras WHERE device_id = :d", d=did)
    assert az2 == pytest.approx(new_az) and ver2 == ver + 1
    (action, actor, before, after), = _q(demo_db, "SELECT action, actor, before, after FROM audit_log "
                                                  "WHERE object_type = 'camera' AND object_id = :d AND actor = 'admin'", d=did)
    assert action == "update" and actor == "admin"
    assert before["azimuth"] == pytest.approx(float(az)) and after["azimuth"] == pytest.approx(new_az)
    assert 'id="gw-cfile-skipped"' in admin.get(f"/cameras/upload/{token}").get_data(as_text=True)


def test_skip_button_of_a_reject_upload(admin, demo_db):
    token = _token(_upload(admin, _csv_bytes([_new(demo_db, 1), _new(demo_db, 2, fov="0")])))
    html = admin.get(f"/cameras/upload/{token}").get_data(as_text=True)
    assert 'id="gw-cfile-commit-skip"' in html
    r = _post(admin, f"/cameras/upload/{token}/commit", f"/cameras/upload/{token}", on_error="skip")
    assert r.status_code == 303 and _count(demo_db) == 1
    r = _post(admin, f"/cameras/upload/{token}/commit", f"/cameras/upload/{token}", on_error="all")
    assert r.status_code in (303, 422)  # committed already: shown, not run again
    assert _count(demo_db) == 1


def test_a_camera_changed_after_the_dry_run_is_a_conflict_and_nothing_is_written(admin, demo_db):
    (did,), = _q(demo_db, "SELECT min(device_id) FROM cameras")
    with demo_db.Session() as s:
        from camera_registry.exporter import cameras_frame
        frame = cameras_frame(s, device_ids=[did])
    stored = {"device_id": did, "name": "改名后的点位", "lon": f"{frame.geometry.x[0]:.8f}", "lat": f"{frame.geometry.y[0]:.8f}"}
    token = _token(_upload(admin, _csv_bytes([stored])))
    with demo_db.Session() as s:  # someone else edits it meanwhile
        s.execute(text("UPDATE cameras SET address = 'elsewhere', version = version + 1, updated_by = 'planner' "
                       "WHERE device_id = :d"), {"d": did})
        s.commit()
    r = _post(admin, f"/cameras/upload/{token}/commit", f"/cameras/upload/{token}")
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and 'id="gw-cfile-conflict"' in html and f'data-device="{did}"' in html
    assert "planner" in html
    assert _q(demo_db, "SELECT name <> '改名后的点位' FROM cameras WHERE device_id = :d", d=did)[0][0]
    assert _q(demo_db, "SELECT count(*) FROM audit_log WHERE object_id = :d AND actor = 'admin'", d=did)[0][0] == 0


def test_a_new_bad_row_since_the_dry_run_writes_nothing(admin, demo_db):
    rows = [_new(demo_db, 1), _new(demo_db, 3)]
    token = _token(_upload(admin, _csv_bytes(rows), on_error="skip"))
    # a camera stored 0.5 m from the second row after the dry run: that row is now a probable duplicate
    with demo_db.Session() as s:
        s.execute(text("INSERT INTO cameras (device_id, name, programme, status, geom) VALUES "
                       "(:d, 'x', 'skynet', 'ON', ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
                  {"d": f"{NEW_PREFIX}0099", "x": float(rows[1]["lon"]) + 5e-6, "y": float(rows[1]["lat"])})
        s.commit()
    r = _post(admin, f"/cameras/upload/{token}/commit", f"/cameras/upload/{token}")
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="gw-cfile-new-errors"' in html and 'data-line="3"' in html
    assert _count(demo_db) == 1  # only the camera inserted above: the good row was not written either


def test_unreadable_file_is_reported_in_the_page(admin, demo_db):
    token = _token(_upload(admin, b"name,azimuth\nx,1\n"))
    html = admin.get(f"/cameras/upload/{token}").get_data(as_text=True)
    assert 'id="gw-cfile-fatal"' in html and 'data-field="device_id"' in html and "设备编码" in html
    assert 'id="gw-cfile-commit"' not in html


def test_ignored_columns_are_listed(admin, demo_db):
    token = _token(_upload(admin, _csv_bytes([dict(_new(demo_db, 1), colour="red")])))
    html = admin.get(f"/cameras/upload/{token}").get_data(as_text=True)
    assert 'id="gw-cfile-ignored"' in html and "<code>colour</code>" in html


# -- every format the importer reads ----------------------------------------------------------------------
def _frame(demo_db, n=3):
    rows = [_new(demo_db, i) for i in range(1, n + 1)]
    df = pd.DataFrame(rows)
    return gpd.GeoDataFrame(df.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(
        df.lon.astype(float), df.lat.astype(float)), crs="EPSG:4326")


@pytest.mark.parametrize("suffix", [".xlsx", ".geojson", ".gpkg", ".zip"])
def test_every_format_is_dry_run_and_committed(admin, demo_db, tmp_path, suffix):
    from gis.io import write_frame

    gdf = _frame(demo_db)
    if suffix == ".zip":
        gdf = gdf.rename(columns={"point_class": "pt_class", "install_date": "inst_date", "management_unit": "mgmt_unit",
                                  "record_days": "rec_days", "function_types": "func_types"})
        write_frame(gdf, tmp_path / "cams.shp")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for p in tmp_path.glob("cams.*"):
                z.write(p, p.name)
        data = buf.getvalue()
    else:
        data = write_frame(gdf, tmp_path / f"cams{suffix}", layer="cameras").read_bytes()
    token = _token(_upload(admin, data, f"摄像机{suffix}"))
    html = admin.get(f"/cameras/upload/{token}").get_data(as_text=True)
    assert re.search(r'data-count="added">[^<]*<b>3</b>', html), html[:3000]
    assert _post(admin, f"/cameras/upload/{token}/commit", f"/cameras/upload/{token}").status_code == 303
    assert _count(demo_db) == 3 and len(_audit(demo_db)) == 3
    note, = _q(demo_db, "SELECT note FROM camera_events WHERE device_id = :d", d=f"{NEW_PREFIX}0001")[0]
    assert note == f"imported from 摄像机{suffix}"


def test_crs_option_is_applied(admin, demo_db):
    from gis.crs import wgs84_to_gcj02

    r = _new(demo_db, 1)
    x, y = wgs84_to_gcj02(float(r["lon"]), float(r["lat"]))
    token = _token(_upload(admin, _csv_bytes([dict(r, lon=f"{float(x):.8f}", lat=f"{float(y):.8f}")]), crs="gcj02"))
    assert _post(admin, f"/cameras/upload/{token}/commit", f"/cameras/upload/{token}").status_code == 303
    (lon, lat), = _q(demo_db, "SELECT ST_X(geom), ST_Y(geom) FROM cameras WHERE device_id = :d", d=r["device_id"])
    assert lon == pytest.approx(float(r["lon"]), abs=1e-7) and lat == pytest.approx(float(r["lat"]), abs=1e-7)


# -- the upload's life: its account, its hour, cancel ---------------------------------------------------
def test_upload_belongs_to_its_account(admin, demo_db, app):
    token = _token(_upload(admin, _csv_bytes([_new(demo_db, 1)])))
    with demo_db.Session() as s:
        from app.accounts.service import add_user
        add_user(s, "admin2", "a-long-password-2", role="admin")
        s.commit()
    other = app.test_client()
    r = other.post("/login", data={"username": "admin2", "password": "a-long-password-2", "csrf_token": csrf(other)})
    assert r.status_code == 302
    assert other.get(f"/cameras/upload/{token}").status_code == 404
    assert _post(other, f"/cameras/upload/{token}/commit", "/cameras/upload").status_code == 404
    assert _post(other, f"/cameras/upload/{token}/cancel", "/cameras/upload").status_code == 404
    assert _count(demo_db) == 0 and admin.get(f"/cameras/upload/{token}").status_code == 200


@pytest.mark.parametrize("token", ["x" * 32, "../../etc/passwd", "a" * 31, "%2e%2e"])
def test_unknown_tokens_are_404(admin, token):
    assert admin.get(f"/cameras/upload/{token}").status_code == 404


def test_cancel_deletes_the_file(admin, demo_db, settings):
    token = _token(_upload(admin, _csv_bytes([_new(demo_db, 1)])))
    r = _post(admin, f"/cameras/upload/{token}/cancel", f"/cameras/upload/{token}")
    assert r.status_code == 303 and r.headers["Location"].endswith("/cameras/upload?cancelled=1")
    assert not list(service.upload_store(settings).root.iterdir())
    assert admin.get(f"/cameras/upload/{token}").status_code == 404
    assert _post(admin, f"/cameras/upload/{token}/commit", "/cameras/upload").status_code == 404
    assert _count(demo_db) == 0
    assert 'id="gw-cfile-cancelled"' in admin.get("/cameras/upload?cancelled=1").get_data(as_text=True)


def test_uploads_expire_after_an_hour_and_are_swept(admin, demo_db, settings):
    token = _token(_upload(admin, _csv_bytes([_new(demo_db, 1)])))
    store = service.upload_store(settings)
    meta = store.root / token / "meta.json"
    data = json.loads(meta.read_text())
    data["created"] = (datetime.now(timezone.utc) - timedelta(seconds=store.ttl_s + 1)).isoformat()
    meta.write_text(json.dumps(data))
    assert admin.get(f"/cameras/upload/{token}").status_code == 404
    assert _post(admin, f"/cameras/upload/{token}/commit", "/cameras/upload").status_code == 404
    fresh = _token(_upload(admin, _csv_bytes([_new(demo_db, 2)])))  # any upload sweeps the old ones
    assert [p.name for p in store.root.iterdir()] == [fresh]
    later = datetime.now(timezone.utc) + timedelta(seconds=store.ttl_s + 1)
    assert store.sweep(now=later) == 1 and not list(store.root.iterdir())


def test_upload_over_the_request_limit_is_413(admin, app):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    r = _upload(admin, b"device_id,name\n" + b"x" * 2000)
    assert r.status_code == 413


def test_filename_is_checked(settings):
    store = service.upload_store(settings)
    assert store.check_filename("C:\\Users\\me\\摄像机 2024.xlsx") == "摄像机 2024.xlsx"
    assert store.check_filename("../../x/cams.GeoJSON") == "cams.GeoJSON"
    for bad in ("", "..", ".csv", "cams.shp", "cams", "a\u202eb.csv", "x" * 200 + ".csv"):
        with pytest.raises(service.InvalidData) as exc:
            store.check_filename(bad)
        assert exc.value.errors[0].field == "file"


# -- export of the selection -------------------------------------------------------------------------------
def _selection(app, demo_db, args, account="admin"):
    """The list's own answer for these filters (``app.cameras.service``), as the oracle."""
    from app.accounts.auth import user_by_name
    from app.cameras.service import filtered_ids, parse_filters
    from werkzeug.datastructures import MultiDict

    with app.test_request_context():
        from app import web
        s = web.db_session()
        return sorted(filtered_ids(s, parse_filters(MultiDict(args)), user_by_name(s, account)))


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "geojson", "gpkg"])
def test_export_is_exactly_the_selection(admin, app, demo_db, tmp_path, fmt):
    from gis.io import read_table

    args = [("status", "ON"), ("programme", "skynet")]
    want = _selection(app, demo_db, args)
    assert 0 < len(want) < _q(demo_db, "SELECT count(*) FROM cameras")[0][0]
    r = admin.get(f"/cameras/export.{fmt}", query_string=args)
    assert r.status_code == 200
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert r.headers["Content-Disposition"].endswith(f".{fmt}")
    path = tmp_path / f"out.{fmt}"
    path.write_bytes(r.data)
    table = read_table(path)
    assert sorted(table.frame["device_id"]) == want


def test_export_chinese_headers_and_formula_escape(admin, demo_db, tmp_path):
    (did,), = _q(demo_db, "SELECT min(device_id) FROM cameras WHERE status = 'ON'")
    with demo_db.Session() as s:
        s.execute(text("UPDATE cameras SET address = '=HYPERLINK(\"http://x\")' WHERE device_id = :d"), {"d": did})
        s.commit()
    r = admin.get("/cameras/export.csv?headers=zh")
    body = r.data.decode("utf-8-sig")
    header = body.splitlines()[0].split(",")
    assert "设备编码" in header and "经度" in header and "device_id" not in header
    assert "'=HYPERLINK" in body and ",=HYPERLINK" not in body
    path = tmp_path / "zh.csv"
    path.write_bytes(r.data)
    from gis.io import read_table
    assert '=HYPERLINK("http://x")' in set(read_table(path).frame["安装地址"])


def test_export_round_trips_through_the_upload(admin, demo_db):
    r = admin.get("/cameras/export.csv?programme=skynet")
    token = _token(_upload(admin, r.data, "export.csv"))
    html = admin.get(f"/cameras/upload/{token}").get_data(as_text=True)
    n = r.data.decode("utf-8-sig").count("\r\n") - 1
    assert re.search(rf'data-count="unchanged">[^<]*<b>{n}</b>', html)
    assert 'id="gw-cfile-nothing"' in html


@pytest.mark.parametrize("account, status", [("admin", 200), ("operator", 200), ("planner", 200), ("lead", 403),
                                             ("member", 403)])
def test_export_needs_camera_export(client, lead_grid, account, status):
    login(client, account)
    assert client.get("/cameras/export.csv").status_code == status


@pytest.mark.parametrize("path, field", [("/cameras/export.shp", "format"), ("/cameras/export.csv?headers=x", "headers")])
def test_export_bad_parameters_are_422(admin, path, field):
    r = admin.get(path, headers={"Accept": "application/json"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == field


def test_empty_selection_exports_a_header(admin):
    r = admin.get("/cameras/export.csv?q=no-such-camera-anywhere")
    assert r.status_code == 200 and r.data.decode("utf-8-sig").startswith("device_id,")
    for fmt in ("xlsx", "geojson", "gpkg"):
        assert admin.get(f"/cameras/export.{fmt}?q=no-such-camera-anywhere").status_code == 200


# -- the map editor's frame -----------------------------------------------------------------------------
def _cone(frame, azimuth, fov, range_m):
    """The view sector drawn as camera-map.js draws it (the frame's quadratic in metres), for the oracle test."""
    n = max(int(np.ceil(fov / frame["arc_step_deg"])), 2)
    ang = np.radians(azimuth - fov / 2 + fov * np.linspace(0, 1, n + 1))
    dx, dy = np.r_[0, range_m * np.sin(ang)], np.r_[0, range_m * np.cos(ang)]
    f = {k: np.asarray(frame[k]) for k in ("east", "north", "ee", "en", "nn")}
    return (np.array([frame["lon"], frame["lat"]]) + np.outer(dx, f["east"]) + np.outer(dy, f["north"])
            + 0.5 * (np.outer(dx * dx, f["ee"]) + 2 * np.outer(dx * dy, f["en"]) + np.outer(dy * dy, f["nn"])))


@pytest.mark.parametrize("azimuth, fov, range_m", [(0, 60, 50), (123.4, 90, 300), (359, 10, 2000), (200, 180, 80)])
def test_the_frame_draws_the_servers_view_sector(admin, demo_db, azimuth, fov, range_m):
    from gis.coverage import view_sectors

    lon, lat = _spot(demo_db)
    frame = admin.get(f"/api/camera-map/frame?lon={lon}&lat={lat}").get_json()
    assert frame["lon"] == pytest.approx(lon, abs=1e-12)
    cams = gpd.GeoDataFrame({"azimuth": [azimuth], "fov": [fov], "range_m": [range_m], "status": ["ON"]},
                            geometry=[shapely.Point(lon, lat)], crs="EPSG:4326")
    server = shapely.get_coordinates(view_sectors(cams, include_offline=True).iloc[0].exterior)[:-1]
    mine = _cone(frame, azimuth, fov, range_m)
    assert mine.shape == server.shape
    # 1e-8° ≈ 1 mm: the browser's cone is the server's, vertex by vertex
    assert np.abs(mine - server).max() < 1e-8


@pytest.mark.parametrize("query", ["", "lon=abc&lat=29", "lon=104.7&lat=95", "lon=nan&lat=29.3"])
def test_frame_parameters_are_checked(admin, query):
    r = admin.get(f"/api/camera-map/frame?{query}")
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] in ("lon", "lat")


def test_frame_needs_log_in(client):
    assert client.get("/api/camera-map/frame?lon=104.7&lat=29.3").status_code == 401


def test_the_list_links_its_selection_and_the_camera_page_has_the_editor(admin, demo_db, client):
    html = admin.get("/cameras?status=ON&programme=skynet&sort=-name&page=2").get_data(as_text=True)
    links = re.findall(r'href="(/cameras/export\.[a-z]+\?[^"]*)" data-format="([a-z-]+)"', html)
    assert {f for _h, f in links} == {"csv", "xlsx", "geojson", "gpkg", "xlsx-zh"}
    for href, _f in links:
        assert "status=ON" in href and "programme=skynet" in href and "page=" not in href and "sort=" not in href
    assert 'id="gw-upload-link"' in html
    (did,), = _q(demo_db, "SELECT min(device_id) FROM cameras")
    page = admin.get(f"/cameras/{did}").get_data(as_text=True)
    assert 'id="gw-cam-editor"' in page and 'id="gw-cam-map-messages"' in page and "js/camera-map.js" in page
    blocks = re.findall(r'<script type="application/json" id="gw-cam-map-messages" nonce="[^"]+">(.*?)</script>', page)
    assert json.loads(blocks[0])["cfile_map_save"] == "保存"


def test_field_roles_see_no_export_or_upload_links(client, lead_grid):
    login(client, "lead")
    html = client.get("/cameras").get_data(as_text=True)
    assert 'id="gw-export"' not in html and 'id="gw-upload-link"' not in html


# -- the lifecycle: exported, never read back; a retired camera is read-only to a file ------------------------------
def test_a_retired_camera_exported_renamed_and_uploaded_is_refused(admin, demo_db):
    from camera_registry.history import retire_camera

    (did,), = _q(demo_db, "SELECT min(device_id) FROM cameras WHERE lifecycle = 'active'")
    with demo_db.Session() as s:
        retire_camera(s, did, "admin", "拆除")
        s.commit()
    (name, version), = _q(demo_db, "SELECT name, version FROM cameras WHERE device_id = :d", d=did)
    r = admin.get("/cameras/export.csv", query_string={"lifecycle": "retired", "q": did})
    one = pd.read_csv(io.BytesIO(r.data), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(one["device_id"]) == [did] and list(one["lifecycle"]) == ["retired"]
    one.loc[0, "name"] = "改名的退役点位"
    token = _token(_upload(admin, _csv_bytes(one.to_dict("records"))))
    html = admin.get(f"/cameras/upload/{token}").get_data(as_text=True)
    bad = re.findall(r'<tr data-line="(\d+)" data-field="([^"]*)">(.*?)</tr>', html, re.S)
    assert [(b[0], b[1]) for b in bad] == [("2", "device_id")] and "read-only" in bad[0][2]
    assert 'id="gw-cfile-commit"' not in html
    r = _post(admin, f"/cameras/upload/{token}/commit", f"/cameras/upload/{token}")
    assert r.status_code == 422
    assert _q(demo_db, "SELECT name, lifecycle, version FROM cameras WHERE device_id = :d", d=did) == \
        [(name, "retired", version)]
    assert _q(demo_db, "SELECT count(*) FROM audit_log WHERE object_id = :d AND actor = 'admin' AND "
                       "after ? 'name'", d=did)[0][0] == 0


def test_a_planned_camera_round_trips_as_planned(admin, demo_db):
    from camera_registry import planned
    from tests.settings import TEST_SETTINGS

    lon, lat = _spot(demo_db)
    with demo_db.Session() as s:
        did = planned.adopt_site(s, lon, lat, range_m=60.0, actor="planner", district=TEST_SETTINGS.district).device_id
        s.commit()
    r = admin.get("/cameras/export.csv?headers=zh")  # planned and active: the list's default selection
    sheet = pd.read_csv(io.BytesIO(r.data), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert dict(zip(sheet["设备编码"], sheet["生命周期"]))[did] == "planned"
    token = _token(_upload(admin, r.data, "export.csv"))
    html = admin.get(f"/cameras/upload/{token}").get_data(as_text=True)
    assert re.search(rf'data-count="unchanged">[^<]*<b>{len(sheet)}</b>', html) and 'id="gw-cfile-ignored"' not in html
    # a status change of the planned camera by file is refused (it is put into service on its page)
    sheet.loc[sheet["设备编码"] == did, "在线状态"] = "OFF"
    token = _token(_upload(admin, sheet.to_csv(index=False).encode("utf-8")))
    html = admin.get(f"/cameras/upload/{token}").get_data(as_text=True)
    bad = re.findall(r'<tr data-line="(\d+)" data-field="([^"]*)">(.*?)</tr>', html, re.S)
    assert [b[1] for b in bad] == ["status"] and "replace-id" in bad[0][2]
    assert _q(demo_db, "SELECT lifecycle, status FROM cameras WHERE device_id = :d", d=did) == [("planned", "ON")]
