"""gridwatch coverage … on the demo district (PostGIS), with PostGIS as the oracle for the per-area union."""
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from sqlalchemy import text

from app.coverage import service
from app.layers_db import read_layer
from gis import coverage
from gis.crs import METRIC_CRS


def _postgis_covered(session, views: gpd.GeoSeries) -> dict[str, float]:
    """Naive union of every view, intersected with each grid, in PostGIS (EPSG:4544 areas)."""
    rows = session.execute(text(
        "WITH v AS (SELECT ST_Union(ST_Transform(ST_GeomFromWKB(w, 4326), 4544)) AS u "
        "           FROM unnest(CAST(:wkb AS bytea[])) AS w) "
        "SELECT g.code, ST_Area(ST_Intersection(ST_Transform(g.geom, 4544), v.u)) FROM grids g, v"),
        {"wkb": [shapely.to_wkb(g) for g in views]}).all()
    return dict(rows)


def test_report_matches_postgis_and_writes_csv(cli, demo_db, tmp_path):
    out = tmp_path / "grid.csv"
    res = cli(demo_db, "coverage", "report", "--by", "grid", "--out", str(out))
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out, dtype={"code": str})
    with demo_db.Session() as s:
        n_grids = s.execute(text("SELECT count(*) FROM grids")).scalar()
        cams = read_layer(s, "cameras")
        oracle = _postgis_covered(s, coverage.view_sectors(cams))
    assert len(got) == n_grids and {"lon", "lat", "ratio", "redundant_m2", "seen_share"} <= set(got.columns)
    expected = got["code"].map(oracle).fillna(0.0).to_numpy()
    assert np.allclose(got["covered_m2"].to_numpy(), expected, rtol=1e-6, atol=0.01)
    assert got["covered_m2"].sum() > 1e6  # the demo's cameras do see something
    assert (got["redundant_m2"] <= got["covered_m2"] + 1e-6).all() and (got["ratio"] <= 1 + 1e-9).all()
    assert f"{n_grids} area(s) recomputed" in res.output


def test_cache_recomputes_only_the_areas_a_camera_change_touches(demo_session, settings):
    cache = settings.var_path / "cache" / "coverage"
    first = service.coverage_report(demo_session, cache_dir=cache)
    assert first.attrs["recomputed"] == len(first)
    again = service.coverage_report(demo_session, cache_dir=cache)
    assert again.attrs["recomputed"] == 0
    pd.testing.assert_frame_equal(pd.DataFrame(first.drop(columns="geom")), pd.DataFrame(again.drop(columns="geom")))
    cams = read_layer(demo_session, "cameras", where="status = 'ON' AND ptz_type = 3")
    cam = cams.iloc[[0]]
    grids = read_layer(demo_session, "grids")
    before = coverage.view_sectors(cam).to_crs(METRIC_CRS)
    demo_session.execute(text("UPDATE cameras SET range_m = range_m * 3, version = version + 1, azimuth = "
                              "CASE WHEN azimuth >= 180 THEN azimuth - 180 ELSE azimuth + 180 END "
                              "WHERE device_id = :d"), {"d": cam["device_id"].iloc[0]})
    after = coverage.view_sectors(read_layer(demo_session, "cameras", where="device_id = :d",
                                             params={"d": cam["device_id"].iloc[0]})).to_crs(METRIC_CRS)
    tree = shapely.STRtree(grids.geometry.to_crs(METRIC_CRS).to_numpy())
    touched = set(tree.query(before.to_numpy())[1]) | set(tree.query(after.to_numpy())[1])
    changed = service.coverage_report(demo_session, cache_dir=cache)
    assert changed.attrs["recomputed"] == len(touched) >= 1
    fresh = service.coverage_report(demo_session, cache_dir=None)
    assert np.allclose(changed["covered_m2"], fresh["covered_m2"]) and np.allclose(changed["redundant_m2"],
                                                                                   fresh["redundant_m2"])
    assert not np.allclose(changed["covered_m2"], first["covered_m2"])


def test_offline_cameras_excluded_unless_asked(demo_session):
    dome = read_layer(demo_session, "cameras", where="status = 'ON' AND ptz_type = 1").iloc[0]
    demo_session.execute(text("UPDATE cameras SET status = 'VLOST', version = version + 1 WHERE device_id = :d"),
                         {"d": dome["device_id"]})
    base = service.coverage_report(demo_session, by="street")
    with_off = service.coverage_report(demo_session, by="street", include_offline=True)
    assert with_off["covered_m2"].sum() > base["covered_m2"].sum()
    seen = service.cameras_seeing(demo_session, dome.geom.x, dome.geom.y)
    assert dome["device_id"] not in set(seen["device_id"])
    seen = service.cameras_seeing(demo_session, dome.geom.x, dome.geom.y, include_offline=True)
    assert seen["device_id"].iloc[0] == dome["device_id"] and seen["distance_m"].iloc[0] < 1e-6


def test_blind_spots_and_coverage_add_up(cli, demo_db, tmp_path):
    out = tmp_path / "blind.gpkg"
    res = cli(demo_db, "coverage", "blind-spots", "--by", "community", "--out", str(out), "--min-area", "0")
    assert res.exit_code == 0, res.output
    spots = gpd.read_file(out, engine="pyogrio")
    assert pyogrio.list_layers(out)[0][0] == "blind_spots"
    assert (np.diff(spots["area_m2"].to_numpy()) <= 0).all()
    with demo_db.Session() as s:
        rep = service.coverage_report(s, by="community")
    per = spots.groupby("code")["area_m2"].sum().reindex(rep["code"]).fillna(0).to_numpy()
    assert np.allclose(per + rep["covered_m2"].to_numpy(), rep["area_m2"].to_numpy(), rtol=1e-6, atol=1.0)


def test_occlusion_reduces_coverage_on_the_demo(demo_session):
    plain = service.coverage_report(demo_session, by="street")
    blocked = service.coverage_report(demo_session, by="street", occlusion=True)
    assert (blocked["covered_m2"] <= plain["covered_m2"] + 1e-6).all()
    assert blocked["covered_m2"].sum() < 0.98 * plain["covered_m2"].sum()


def test_plan_and_target(cli, demo_db, tmp_path):
    out = tmp_path / "sites.geojson"
    res = cli(demo_db, "coverage", "plan", "--add", "3", "--target", "0.2", "--out", str(out))
    assert res.exit_code == 0, res.output
    sites = gpd.read_file(out)
    assert len(sites) == 3 and (np.diff(sites["share"]) > 0).all() and sites["code"].str.len().eq(15).all()
    assert "reach 20%" in res.output
    with demo_db.Session() as s:
        direct = service.plan(s, 3)
    assert np.allclose(sites["gain"], direct.sites["gain"])
    res = cli(demo_db, "coverage", "plan", "--add", "2", "--demand", "area")
    assert res.exit_code == 0 and "2 new site(s) for area demand" in res.output


def test_sees_planted_spot_and_errors(cli, demo_db, tmp_path):
    with demo_db.Session() as s:
        cam = read_layer(s, "cameras", where="status = 'ON' AND ptz_type = 3").iloc[0]
    # a spot 10 m along the camera's azimuth
    from gis.crs import from_metric, to_metric

    p = to_metric(cam.geom)
    az = np.radians(cam["azimuth"])
    spot = from_metric(shapely.Point(p.x + 10 * np.sin(az), p.y + 10 * np.cos(az)))
    res = cli(demo_db, "coverage", "sees", str(spot.x), str(spot.y))
    assert res.exit_code == 0, res.output
    line = next(ln for ln in res.output.splitlines() if ln.startswith(cam["device_id"]))
    assert "sees" in line and "10.0 m" in line
    res = cli(demo_db, "coverage", "report", "--out", str(tmp_path / "x.txt"))
    assert res.exit_code == 2 and ".csv" in res.output
    res = cli(demo_db, "coverage", "plan")
    assert res.exit_code != 0 and "--add" in res.output
    res = cli(demo_db, "coverage", "sees", "29.37", "104.77")
    assert res.exit_code == 2 and "longitude first" in res.output


def test_replace_id_gives_a_planned_camera_its_device_id(cli, demo_db):
    from app.config import district_of
    from camera_registry import planned
    from tests.settings import TEST_SETTINGS

    with demo_db.Session() as s:
        site = read_layer(s, "grids").geometry.iloc[2].representative_point()
        cam = planned.adopt_site(s, site.x, site.y, range_m=80.0, actor="t", district=district_of(TEST_SETTINGS))
        s.commit()
        prov = cam.device_id
    real = TEST_SETTINGS.camera_centre_code + "001320654321"
    res = cli(demo_db, "coverage", "replace-id", prov, real)
    assert res.exit_code == 0, res.output
    assert real in res.output
    with demo_db.Session() as s:
        assert s.execute(text("SELECT lifecycle FROM cameras WHERE device_id = :d"), {"d": real}).scalar() == "planned"
        assert s.execute(text("SELECT count(*) FROM camera_events WHERE device_id = :d"), {"d": prov}).scalar() == 0
    with demo_db.Session() as s:
        taken = s.execute(text("SELECT min(device_id) FROM cameras WHERE lifecycle = 'active'")).scalar()
    res = cli(demo_db, "coverage", "replace-id", real, taken)
    assert res.exit_code != 0 and "already in the registry" in res.output


def test_report_lists_the_least_covered_in_the_pages_order(cli, demo_db):
    res = cli(demo_db, "coverage", "report", "--by", "grid", "--days", "90")
    assert res.exit_code == 0, res.output
    assert "incidents of 90 days in view" in res.output
    with demo_db.Session() as s:
        want = list(service.least_covered(service.coverage_report(s, days=90), 10)["code"])
    listed = [ln.split()[0] for ln in res.output.splitlines() if ln[:15].isdigit() and len(ln.split()[0]) == 15]
    assert listed == want


def test_demand_incidents_are_the_rows_sql_selects(demo_session, session):
    """One row of arrays, read back into the frame the plan weighs: the same ids, weights and exact
    coordinates as a plain query of the rows; voided and older incidents are not demand."""
    s = demo_session
    s.execute(text("UPDATE categories SET weight = 2.5 WHERE code = (SELECT min(code) FROM categories)"))
    s.execute(text("UPDATE incidents SET state = 'voided' WHERE id IN (SELECT id FROM incidents ORDER BY id DESC "
                   "LIMIT 7)"))
    s.execute(text("UPDATE incidents SET reported_at = reported_at - interval '2 years' WHERE id IN "
                   "(SELECT id FROM incidents ORDER BY id LIMIT 5)"))  # older than the period
    got = service.demand_incidents(s)
    rows = s.execute(text(
        "SELECT i.id, coalesce(k.weight, 1.0), ST_X(i.geom), ST_Y(i.geom) FROM incidents i "
        "LEFT JOIN categories k ON k.code = i.category_code WHERE i.state <> 'voided' AND i.reported_at >= "
        "(SELECT max(reported_at) FROM incidents) - make_interval(days => :d) ORDER BY i.id"),
        {"d": service.DEMAND_DAYS}).all()
    assert len(got) == len(rows) > 1000 and got.crs == 4326
    assert got["code"].tolist() == [r[0] for r in rows] and str(got["code"].dtype) == "int64"
    assert got["weight"].tolist() == [float(r[1]) for r in rows] and 2.5 in set(got["weight"])
    assert got.geometry.x.tolist() == [r[2] for r in rows] and got.geometry.y.tolist() == [r[3] for r in rows]
    metric = service.demand_incidents(s, metric=True)  # projected before the points are made: as geopandas does
    oracle = got.to_crs(METRIC_CRS)
    assert metric.crs == METRIC_CRS and metric["code"].tolist() == got["code"].tolist()
    assert metric["weight"].tolist() == got["weight"].tolist()
    assert metric.geometry.x.tolist() == oracle.geometry.x.tolist()
    assert metric.geometry.y.tolist() == oracle.geometry.y.tolist()
    every = service.demand_incidents(s, days=None)
    assert len(every) == s.execute(text("SELECT count(*) FROM incidents WHERE state <> 'voided'")).scalar() > len(got)
    none = service.demand_incidents(session)  # no incident at all
    assert len(none) == 0 and str(none["code"].dtype) == "int64" and none.crs == 4326


def test_the_view_columns_of_the_cameras_give_the_answers_of_every_column(demo_session, tmp_path):
    """The planner reads only ``gis.coverage.VIEW_COLUMNS`` of the registry: the coverage figures, the
    incidents seen, the cones and the cameras seeing a spot are those of the whole layer. Each view column
    matters (dropping it changes the views), so the set is not merely larger than what is read."""
    from gis.viewshed import PARAMETER_COLUMNS, camera_parameters

    s = demo_session
    full, narrow = service.load_cameras(s), service.load_cameras(s, view_only=True)
    assert list(narrow.columns) == ["code", *coverage.VIEW_COLUMNS, "geom"] and len(narrow) == len(full) > 300
    assert narrow["status"].isin(list(coverage.EXCLUDED_STATUS)).any()  # some cameras do not count
    a = service.coverage_report(s, cache_dir=tmp_path / "a", cameras=full)
    b = service.coverage_report(s, cache_dir=tmp_path / "b", cameras=narrow)
    pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry", errors="ignore")),
                                  pd.DataFrame(b.drop(columns="geometry", errors="ignore")))
    assert (a.attrs["demand_seen"].ids == b.attrs["demand_seen"].ids).all()
    assert (a.attrs["demand_seen"].seen == b.attrs["demand_seen"].seen).all()
    cones_a, cones_b = coverage.view_sector_frame(full), coverage.view_sector_frame(narrow)
    pd.testing.assert_frame_equal(pd.DataFrame(cones_a.drop(columns="geometry")),
                                  pd.DataFrame(cones_b.drop(columns="geometry")))
    assert shapely.equals_exact(cones_a.geometry.to_numpy(), cones_b.geometry.to_numpy(), 0).all()
    lon, lat = full.geometry.x.iloc[7], full.geometry.y.iloc[7]
    pd.testing.assert_frame_equal(coverage.cameras_seeing(full, lon, lat), coverage.cameras_seeing(narrow, lon, lat))
    probe = full.copy()  # the demo's domes all say fov 360: one saying 90 shows that ptz_type is read too
    probe.loc[probe.index[probe["ptz_type"] == 1][:1], "fov"] = 90.0
    params = [np.asarray(p) for p in camera_parameters(probe)]
    assert all((x == y).all() for x, y in zip(params, camera_parameters(probe[list(PARAMETER_COLUMNS)])))
    for col in PARAMETER_COLUMNS:  # each is read: without it some camera's view changes
        assert not all((x == y).all() for x, y in zip(params, camera_parameters(probe.drop(columns=col)))), col
    with pytest.raises(ValueError, match="columns"):
        read_layer(s, "cameras", columns=["status; DROP TABLE cameras"])
