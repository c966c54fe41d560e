"""gridwatch geocode / regeocode / check-grids / grids import, run in-process on PostGIS."""
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from sqlalchemy import text

from gis.crs import from_metric, to_metric, wgs84_to_gcj02
from tests.geometries import plant_defects

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"


def _oracle(session, lon, lat):
    return session.execute(text(
        "SELECT (SELECT min(code) FROM grids g WHERE ST_Covers(g.geom, ST_SetSRID(ST_MakePoint(x, y), 4326))) "
        "FROM unnest(CAST(:x AS float8[]), CAST(:y AS float8[])) WITH ORDINALITY AS p(x, y, i) ORDER BY i"),
        {"x": list(lon), "y": list(lat)}).scalars().all()


def test_geocode_csv_in_gcj02(cli, demo_db, tmp_path):
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(104.70, 104.85, 300), rng.uniform(29.30, 29.42, 300)
    glon, glat = wgs84_to_gcj02(lon, lat)
    src = tmp_path / "pts.csv"
    pd.DataFrame({"name": [f"p{i}" for i in range(300)], "X": glon, "Y": glat}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    res = cli(demo_db, "geocode", str(src), str(out), "--crs", "gcj02", "--lon-field", "X", "--lat-field", "Y")
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    with demo_db.Session() as s:
        expected = _oracle(s, got["lon"].astype(float), got["lat"].astype(float))
        communities = [s.execute(text("SELECT community_code FROM grids WHERE code = :c"), {"c": c}).scalar()
                       if c else None for c in expected]
    assert [c or None for c in got["grid_code"]] == expected
    assert np.abs(got["lon"].astype(float) - lon).max() < 1e-7
    assert [c or None for c in got["community_code"]][:50] == [c for c in communities][:50]
    assert got["name"].tolist()[:3] == ["p0", "p1", "p2"]


def test_geocode_reports_bad_rows_and_bad_crs(cli, demo_db, tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text("lon,lat\n104.77,29.36\n29.36,104.77\nabc,29.3\n")
    res = cli(demo_db, "geocode", str(src), str(tmp_path / "o.csv"))
    assert res.exit_code == 2
    assert "line 3" in res.output and "swapped" in res.output and "line 4" in res.output
    res = cli(demo_db, "geocode", str(src), str(tmp_path / "o.csv"), "--crs", "mars")
    assert res.exit_code != 0 and "gcj02" in res.output


def test_geocode_geojson_points(cli, demo_db, tmp_path):
    pts = gpd.GeoDataFrame({"id": [1, 2]}, geometry=gpd.points_from_xy([104.7713, 104.60], [29.3665, 29.25]),
                           crs=4326)
    src = tmp_path / "pts.geojson"
    pts.to_file(src)
    out = tmp_path / "out.gpkg"
    res = cli(demo_db, "geocode", str(src), str(out))
    assert res.exit_code == 0, res.output
    got = gpd.read_file(out)
    with demo_db.Session() as s:
        assert [c if isinstance(c, str) else None for c in got["grid_code"]] == _oracle(s, [104.7713, 104.60], [29.3665, 29.25])


def test_regeocode_fixes_stale_codes(cli, demo_db):
    with demo_db.Session() as s:
        s.execute(text("UPDATE incidents SET grid_code = NULL, community_code = NULL WHERE id % 3 = 0"))
        s.execute(text("UPDATE cameras SET grid_code = NULL, street_code = NULL"))
        s.commit()
    res = cli(demo_db, "regeocode")
    assert res.exit_code == 0, res.output
    with demo_db.Session() as s:
        wrong = s.execute(text("SELECT count(*) FROM incidents i WHERE grid_code IS DISTINCT FROM "
                               "(SELECT min(code) FROM grids g WHERE ST_Covers(g.geom, i.geom))")).scalar()
        no_street = s.execute(text("SELECT count(*) FROM cameras WHERE community_code IS NOT NULL AND "
                                   "street_code IS DISTINCT FROM left(community_code, 9)")).scalar()
    assert wrong == 0 and no_street == 0
    assert "incident" in res.output and "camera" in res.output


def test_check_grids_clean_and_broken(cli, demo_db, tmp_path):
    res = cli(demo_db, "check-grids", str(DEMO / "grids.geojson"))
    assert res.exit_code == 0, res.output
    assert "no problems" in res.output
    grids = gpd.read_file(DEMO / "grids.geojson")
    communities = gpd.read_file(DEMO / "communities.geojson")
    broken, planted = plant_defects(grids, communities)
    src = tmp_path / "broken.gpkg"
    broken.to_file(src)
    out = tmp_path / "problems.gpkg"
    res = cli(demo_db, "check-grids", str(src), "--communities", str(DEMO / "communities.geojson"),
              "--out", str(out))
    assert res.exit_code == 1
    for kind in ("invalid", "overlap", "gap", "sliver", "duplicate", "outside"):
        assert f"{kind}:" in res.output
    problems = gpd.read_file(out, layer="problems")
    assert {"overlap", "gap", "sliver"} <= set(problems["kind"]) and problems.crs.to_epsg() == 4326


def _shifted_grid(session):
    """The demo grid at the district's west edge, moved 0.4 m west-east into its neighbours."""
    grids = gpd.read_postgis(text("SELECT code, name, geom FROM grids ORDER BY code"), session.connection(),
                             geom_col="geom", crs=4326)
    return grids


def test_grids_import_refuses_then_repairs(cli, demo_db, tmp_path):
    with demo_db.Session() as s:
        grids = _shifted_grid(s)
    metric = to_metric(grids.geometry)
    target = 10
    grids.loc[target, "geom"] = from_metric(metric.iloc[target].buffer(0.3, join_style="mitre"))
    grids = grids.rename_geometry("geometry")
    grids["households"] = 42
    src = tmp_path / "grids.geojson"
    grids.iloc[[target]].to_file(src)
    res = cli(demo_db, "grids", "import", str(src))
    assert res.exit_code == 2 and "overlap" in res.output and "--repair" in res.output
    res = cli(demo_db, "grids", "import", str(src), "--repair", "--dry-run")
    assert res.exit_code == 0, res.output
    assert "dry run" in res.output and "repaired:" in res.output
    with demo_db.Session() as s:
        assert s.execute(text("SELECT households FROM grids WHERE code = :c"),
                         {"c": grids.loc[target, "code"]}).scalar() != 42
    res = cli(demo_db, "grids", "import", str(src), "--repair")
    assert res.exit_code == 0, res.output
    assert "removed" in res.output or "clipped" in res.output
    assert "0 grid(s) added" in res.output and "updated" in res.output
    with demo_db.Session() as s:
        assert s.execute(text("SELECT households FROM grids WHERE code = :c"),
                         {"c": grids.loc[target, "code"]}).scalar() == 42
        overlaps = s.execute(text("SELECT count(*) FROM grids a JOIN grids b ON a.code < b.code AND "
                                  "ST_Area(ST_Transform(ST_Intersection(a.geom, b.geom), 4544)) > 0.01")).scalar()
    assert overlaps == 0


def test_grids_import_new_grid_and_bad_code(cli, demo_db, tmp_path):
    with demo_db.Session() as s:
        grids = _shifted_grid(s).rename_geometry("geometry")
    bad = grids.iloc[[0]].copy()
    bad["code"] = "123"
    src = tmp_path / "bad.geojson"
    bad.to_file(src)
    res = cli(demo_db, "grids", "import", str(src))
    assert res.exit_code == 2 and "line 1" in res.output and "15 digits" in res.output
    # split a grid in two: the old code keeps the west half, a new code takes the east half
    # split in lon/lat, where the grids are stored and topology is judged (a split made in EPSG:4544 and
    # projected back leaves metre-square overlaps along the grid's long lon/lat edges)
    g = grids.iloc[0]
    minx, miny, maxx, maxy = g.geometry.bounds
    mid = (minx + maxx) / 2
    west = shapely.intersection(g.geometry, shapely.box(minx - 1e-5, miny - 1e-5, mid, maxy + 1e-5))
    east = shapely.intersection(g.geometry, shapely.box(mid, miny - 1e-5, maxx + 1e-5, maxy + 1e-5))
    new_code = g["code"][:12] + "900"
    layer = gpd.GeoDataFrame({"code": [g["code"], new_code], "name": ["west", "east"]},
                             geometry=[west, east], crs=4326)
    src = tmp_path / "split.gpkg"
    layer.to_file(src)
    res = cli(demo_db, "grids", "import", str(src))
    assert res.exit_code == 0, res.output
    assert "1 grid(s) added, 1 updated" in res.output
    with demo_db.Session() as s:
        wrong = s.execute(text("SELECT count(*) FROM incidents i WHERE grid_code IS DISTINCT FROM "
                               "(SELECT min(code) FROM grids g WHERE ST_Covers(g.geom, i.geom))")).scalar()
    assert wrong == 0


def _grid_features(session, n):
    """The first ``n`` stored grids as GeoJSON features (code, name, households, population)."""
    import json

    rows = session.execute(text("SELECT code, name, households, population, ST_AsGeoJSON(geom) FROM grids "
                                "ORDER BY code LIMIT :n"), {"n": n}).all()
    return [{"type": "Feature", "properties": {"code": c, "name": nm, "households": h, "population": p},
             "geometry": json.loads(g)} for c, nm, h, p, g in rows]


def _write_fc(path, features):
    import json

    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def _stored_grids(db):
    with db.Session() as s:
        return s.execute(text("SELECT code, name, households, ST_AsBinary(geom) FROM grids ORDER BY code")).all()


def test_grids_import_names_every_bad_row_and_limit(cli, demo_db, tmp_path):
    with demo_db.Session() as s:
        features = _grid_features(s, 5)
    before = _stored_grids(demo_db)
    features[0]["properties"]["name"] = "网" * 81                       # longer than grids.name String(80)
    features[1]["properties"]["households"] = "99999999999"           # overflows the integer column
    features[2]["properties"]["name"] = "a\u0000b"                   # was stored as 'a' with exit 0
    features[3]["properties"]["name"] = "北\u202e路"                  # right-to-left override
    features[4]["properties"]["population"] = "-5"
    res = cli(demo_db, "grids", "import", str(_write_fc(tmp_path / "bad.geojson", features)))
    assert res.exit_code == 2, res.output
    assert "line 1, field 'name': is 81 characters long; at most 80 allowed" in res.output
    assert "line 2, field 'households': 99999999999 is larger than the column holds (at most 2147483647)" in res.output
    assert "line 3, field 'name': contains U+0000 (NUL) at position 2" in res.output
    assert "line 4, field 'name': contains U+202E (right-to-left override)" in res.output
    assert "line 5, field 'population': '-5' is not a whole number" in res.output
    assert "Traceback" not in res.output
    assert _stored_grids(demo_db) == before


def test_grids_import_unclosed_ring_is_a_row_error(cli, demo_db, tmp_path):
    with demo_db.Session() as s:
        features = _grid_features(s, 2)
    ring = features[1]["geometry"]["coordinates"][0][0] if features[1]["geometry"]["type"] == "MultiPolygon" \
        else features[1]["geometry"]["coordinates"][0]
    ring.pop()                                                        # last point ≠ first
    res = cli(demo_db, "grids", "import", str(_write_fc(tmp_path / "open.geojson", features)))
    assert res.exit_code == 2 and "line 2, field 'geometry': a ring is not closed" in res.output
    assert "Traceback" not in res.output


def test_projected_grids_without_a_crs_get_the_hint(cli, demo_db, tmp_path):
    import json

    with demo_db.Session() as s:
        code, metric = s.execute(text("SELECT code, ST_AsGeoJSON(ST_Transform(geom, 4544)) FROM grids "
                                      "ORDER BY code LIMIT 1")).one()
    path = _write_fc(tmp_path / "metres.geojson", [{"type": "Feature", "properties": {"code": code},
                                                    "geometry": json.loads(metric)}])
    hint = "coordinates look projected (e.g. EPSG:4544 metres); pass --crs EPSG:4544 or set the file's CRS"
    for command in (["grids", "import"], ["check-grids"]):
        res = cli(demo_db, *command, str(path))
        assert res.exit_code == 2 and f"line 1, field 'geometry': (" in res.output and hint in res.output, res.output
        assert "Valid Geometry" not in res.output
    res = cli(demo_db, "grids", "import", str(path), "--crs", "EPSG:4544", "--dry-run")
    assert res.exit_code == 0, res.output


def _community_with_members(session):
    return session.execute(text("SELECT g.community_code FROM grids g GROUP BY 1 HAVING count(*) >= 3 "
                                "ORDER BY 1 LIMIT 1")).scalar()


def test_grids_import_replace_community_removes_and_audits(cli, demo_db, tmp_path):
    """--replace-community: a community's grid missing from the file is removed (once it has no members),
    its incidents re-geocoded into the grid that took its area; every written grid has its audit row."""
    with demo_db.Session() as s:
        community = _community_with_members(s)
        rows = s.execute(text("SELECT code FROM grids WHERE community_code = :c ORDER BY code"), {"c": community}
                         ).scalars().all()
        grids = gpd.read_postgis(text("SELECT code, name, households, population, geom FROM grids "
                                      "WHERE community_code = :c ORDER BY code"), s.connection(),
                                 params={"c": community}, geom_col="geom", crs=4326)
    shapes = list(grids.geometry)
    j = next(k for k in range(1, len(shapes)) if shapely.intersection(shapes[0].boundary, shapes[k].boundary).length)
    kept, gone = rows[0], rows[j]
    grids.loc[0, "geom"] = shapely.union(shapes[0], shapes[j])
    src = tmp_path / "community.gpkg"
    grids.drop(index=j).rename_geometry("geometry").to_file(src)
    res = cli(demo_db, "grids", "import", str(src), "--replace-community", community)
    assert res.exit_code == 6 and "still have members" in res.output and gone in res.output, res.output
    with demo_db.Session() as s:
        s.execute(text("DELETE FROM member_roles WHERE grid_code = :g"), {"g": gone})
        s.commit()
        in_gone = s.execute(text("SELECT count(*) FROM incidents WHERE grid_code = :g"), {"g": gone}).scalar()
        mark = s.execute(text("SELECT max(id) FROM audit_log")).scalar()
    res = cli(demo_db, "grids", "import", str(src), "--replace-community", community, "--dry-run")
    assert res.exit_code == 0 and f"would remove: grid {gone}" in res.output and "nothing written" in res.output
    res = cli(demo_db, "grids", "import", str(src), "--replace-community", community)
    assert res.exit_code == 0, res.output
    assert f"removed: grid {gone}" in res.output and "1 updated" in res.output and "1 removed" in res.output
    with demo_db.Session() as s:
        assert s.execute(text("SELECT count(*) FROM grids WHERE code = :g"), {"g": gone}).scalar() == 0
        assert s.execute(text("SELECT count(*) FROM incidents WHERE grid_code = :g"), {"g": kept}).scalar() >= in_gone
        log = s.execute(text("SELECT object_id, action, changed, actor FROM audit_log WHERE object_type = 'grid' "
                             "AND object_id IN (:k, :g) AND id > :m ORDER BY id"), {"k": kept, "g": gone, "m": mark}).all()
    assert sorted((o, a) for o, a, _, _ in log) == sorted([(kept, "update"), (gone, "delete")])
    assert all(actor.startswith("cli:") for *_, actor in log)
    assert [changed for o, a, changed, _ in log if a == "update"] == [["geom"]]


def test_grids_import_scope_options_are_checked(cli, demo_db, tmp_path):
    with demo_db.Session() as s:
        community = _community_with_members(s)
        other = s.execute(text("SELECT code, name, ST_AsGeoJSON(geom) FROM grids WHERE community_code <> :c "
                               "LIMIT 1"), {"c": community}).one()
    import json

    src = _write_fc(tmp_path / "one.geojson", [{"type": "Feature", "properties": {"code": other[0], "name": other[1]},
                                                "geometry": json.loads(other[2])}])
    res = cli(demo_db, "grids", "import", str(src), "--replace", "--replace-community", community)
    assert res.exit_code == 2 and "not both" in res.output
    res = cli(demo_db, "grids", "import", str(src), "--replace-community", community)
    assert res.exit_code == 2 and f"grid {other[0]} is not in community {community}" in res.output
    res = cli(demo_db, "grids", "import", str(src), "--replace-community", "5103049999")
    assert res.exit_code == 2 and "scope" in res.output
    # the whole layer replaced by one grid: every other community loses its grids (gaps) and members
    res = cli(demo_db, "grids", "import", str(src), "--replace", "--dry-run")
    assert res.exit_code == 2 and "gap" in res.output
