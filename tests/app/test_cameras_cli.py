"""``gridwatch cameras``: import/export/status/list/near/history in-process, on the demo district."""
from __future__ import annotations

from sqlalchemy import text

from tests.camera_registry.conftest import row, write_csv


def _one(db, sql, **params):
    with db.Session() as s:
        return s.execute(text(sql), params).one()


def _new_row(db, serial=1, **over):
    """A valid camera row placed inside the first grid (so geocoding and spacing pass)."""
    lon, lat = _one(db, "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids "
                        "ORDER BY code DESC LIMIT 1) q")
    return row(serial, device_id=f"5103040001131590{serial:04d}", lon=f"{lon + serial * 1e-4:.7f}",
               lat=f"{lat:.7f}", **over)


def test_import_dry_run_then_real(cli, demo_db, tmp_path):
    path = write_csv(tmp_path / "new.csv", [_new_row(demo_db, 1), _new_row(demo_db, 2)])
    res = cli(demo_db, "cameras", "import", str(path), "--dry-run")
    assert res.exit_code == 0, res.output
    assert "dry run: 2 rows: would add 2" in res.output
    assert _one(demo_db, "SELECT count(*) FROM cameras")[0] == 471
    res = cli(demo_db, "cameras", "import", str(path))
    assert res.exit_code == 0 and "added 2" in res.output
    assert _one(demo_db, "SELECT count(*), min(grid_code) IS NOT NULL FROM cameras WHERE device_id LIKE "
                         "'5103040001131590%'") == (2, True)
    res = cli(demo_db, "cameras", "import", str(path))
    assert "added 0, updated 0, unchanged 2" in res.output


def test_import_rejects_with_line_and_reason_and_exit_code(cli, demo_db, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [_new_row(demo_db, 1), _new_row(demo_db, 2, azimuth="400"),
                                           _new_row(demo_db, 3, fov="0")])
    res = cli(demo_db, "cameras", "import", str(path))
    assert res.exit_code == 2
    assert "line 3, field 'azimuth': 400 is outside [0, 360]" in res.output
    assert "line 4, field 'fov': 0 is outside (0, 360]" in res.output
    assert _one(demo_db, "SELECT count(*) FROM cameras")[0] == 471
    res = cli(demo_db, "cameras", "import", str(path), "--on-error", "skip")
    assert res.exit_code == 0 and "added 1" in res.output and "skipped: line 3" in res.output
    assert _one(demo_db, "SELECT count(*) FROM cameras")[0] == 472


def test_import_gcj02_option(cli, demo_db, tmp_path):
    from gis.crs import wgs84_to_gcj02

    r = _new_row(demo_db, 1)
    glon, glat = wgs84_to_gcj02(float(r["lon"]), float(r["lat"]))
    path = write_csv(tmp_path / "g.csv", [{**r, "lon": f"{glon:.8f}", "lat": f"{glat:.8f}"}])
    assert cli(demo_db, "cameras", "import", str(path), "--crs", "gcj02").exit_code == 0
    d = _one(demo_db, "SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography) "
                      "FROM cameras WHERE device_id = :d", x=float(r["lon"]), y=float(r["lat"]), d=r["device_id"])[0]
    assert d < 0.5


def test_export_with_chinese_headers(cli, demo_db, tmp_path):
    out = tmp_path / "c.xlsx"
    res = cli(demo_db, "cameras", "export", str(out), "--chinese-headers")
    assert res.exit_code == 0 and "471 cameras" in res.output
    from openpyxl import load_workbook

    header = [c.value for c in load_workbook(out).active[1]]
    assert header[0] == "设备编码" and "经度" in header


def test_status_list_near_history(cli, demo_db):
    dev, lon, lat = _one(demo_db, "SELECT device_id, ST_X(geom), ST_Y(geom) FROM cameras WHERE status = 'ON' "
                                  "ORDER BY device_id LIMIT 1")
    res = cli(demo_db, "cameras", "status", dev, "离线", "--note", "断电")
    assert res.exit_code == 0 and f"{dev}" in res.output and "OFF (version 2)" in res.output
    res = cli(demo_db, "cameras", "list", "--status", "OFF", "--programme", "天网")
    assert dev in res.output
    n_off = _one(demo_db, "SELECT count(*) FROM cameras WHERE status = 'OFF' AND programme = 'skynet'")[0]
    assert f"{n_off} camera(s)" in res.output
    res = cli(demo_db, "cameras", "near", str(lon), str(lat), "--within", "1")
    assert res.exit_code == 0 and dev in res.output and "1 camera(s)" in res.output
    res = cli(demo_db, "cameras", "history", dev)
    assert "ADD" in res.output and "OFF" in res.output and "断电" in res.output
    res = cli(demo_db, "cameras", "status", "51030400001329999999", "ON")
    assert res.exit_code == 3 and "no camera" in res.output
    res = cli(demo_db, "cameras", "status", dev, "BROKEN")
    assert res.exit_code == 2 and "is not a status" in res.output
