"""Grid boundary upload (/grids/upload): dry run with topology report and change preview, commit, cancel.

The preview's incident and camera moves are checked against PostGIS (ST_Covers of the stored points by
the uploaded layer, min code on shared edges, as the geocoder breaks ties); every write's audit rows are
asserted; the upload is bound to its account and expires.
"""
from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
import shapely
from sqlalchemy import text

from app.boundaries.views import upload_store
from gis.errors import NotFound
from tests.app.dash_helpers import TOKEN, csrf, lead_grid, login  # noqa: F401 (lead_grid: a fixture)

TOKEN_URL = re.compile(r"/grids/upload/([A-Za-z0-9_-]{32})$")


def community_features(session, community: str) -> list[dict]:
    rows = session.execute(text(
        "SELECT code, name, households, population, ST_AsGeoJSON(geom, 15) FROM grids WHERE community_code = :c "
        "ORDER BY code"), {"c": community}).all()
    return [{"type": "Feature", "properties": {"code": c, "name": n, "households": h, "population": p},
             "geometry": json.loads(g)} for c, n, h, p, g in rows]


def fc(features) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def merge_two(features: list[dict]) -> tuple[list[dict], str, str]:
    """The community's first two neighbouring grids merged into the first: (features, kept, gone)."""
    shapes = [shapely.geometry.shape(f["geometry"]) for f in features]
    for j in range(1, len(shapes)):
        shared = shapely.intersection(shapes[0].boundary, shapes[j].boundary).length
        if shared > 0:
            break
    merged = shapely.union(shapes[0], shapes[j])
    out = [dict(features[0], geometry=shapely.geometry.mapping(merged))] + [f for k, f in enumerate(features)
                                                                            if k not in (0, j)]
    return out, features[0]["properties"]["code"], features[j]["properties"]["code"]


def post_upload(client, data: bytes, *, name="grids.geojson", **form):
    fields = {"csrf_token": csrf(client, "/grids/upload"), "scope_kind": "community", "tolerance_m": "1",
              **form, "file": (io.BytesIO(data), name)}
    return client.post("/grids/upload", data=fields, content_type="multipart/form-data")


def token_of(response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return TOKEN_URL.search(response.headers["Location"]).group(1)


def oracle_moves(session, layer_sql: str, params: dict) -> dict[str, int]:
    """Points whose stored grid differs from the one PostGIS finds in the layer ``layer_sql`` (code, geom):
    ST_Covers, the smallest code on a shared edge (the geocoder's tie rule). Cameras on the map only
    (planned and active): a retired record is re-geocoded but its move is not counted."""
    return {kind: session.execute(text(
        f"WITH layer AS ({layer_sql}) SELECT count(*) FROM {table} p WHERE p.grid_code IS DISTINCT FROM "
        f"(SELECT min(l.code) FROM layer l WHERE ST_Covers(l.geom, p.geom)){where}"), params).scalar()
        for kind, table, where in (("incident", "incidents", ""),
                                   ("camera", "cameras", " AND p.lifecycle <> 'retired'"))}


@pytest.fixture
def admin(client, lead_grid):
    login(client, "admin")
    return client


def pick_community(session, n: int = 3) -> str:
    """A community with at least ``n`` grids and incidents in its first two grids."""
    return session.execute(text(
        "SELECT g.community_code FROM grids g GROUP BY 1 HAVING count(*) >= :n AND "
        "(SELECT count(*) FROM incidents i WHERE i.grid_code IN (SELECT code FROM grids WHERE community_code = "
        "g.community_code ORDER BY code LIMIT 2)) > 0 ORDER BY 1 LIMIT 1"), {"n": n}).scalar()


def audit(session, object_id: str | None = None, object_type: str = "grid"):
    sql = "SELECT actor, action, changed, before, after, object_id FROM audit_log WHERE object_type = :t"
    if object_id is not None:
        sql += " AND object_id = :o"
    return session.execute(text(sql + " ORDER BY id"), {"t": object_type, "o": object_id}).mappings().all()


def preview_of(app, token: str) -> dict:
    folder = upload_store(app.extensions["gridwatch.settings"]).root / token
    meta = json.loads((folder / "meta.json").read_text())
    pv = json.loads((folder / "preview.json").read_text())
    return {"meta": meta, **pv}


def test_merge_previews_exactly_what_the_commit_moves(app, admin, demo_db):
    """Two grids merged into one: preview = PostGIS oracle = what the commit moves; audit rows; nothing
    written before the commit."""
    with demo_db.Session() as s:
        community = pick_community(s)
        features, kept, gone = merge_two(community_features(s, community))
        s.execute(text("DELETE FROM member_roles WHERE grid_code = :g"), {"g": gone})   # the grid is left empty
        for device, lifecycle in (("51030499991310000011", "retired"), ("51030499991310000012", "planned")):
            s.execute(text("INSERT INTO cameras (device_id, name, lifecycle, grid_code, community_code, geom) "
                           "SELECT :d, '生命周期测试', :l, code, community_code, ST_PointOnSurface(geom) FROM grids "
                           "WHERE code = :g"), {"d": device, "l": lifecycle, "g": gone})
        s.commit()
        merged = json.dumps(features[0]["geometry"])
        layer = ("SELECT code, geom FROM grids WHERE code NOT IN (:k, :g) UNION ALL "
                 "SELECT CAST(:k AS text), ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(:m), 4326))")
        expected = oracle_moves(s, layer, {"k": kept, "g": gone, "m": merged})
        in_gone = s.execute(text("SELECT count(*) FROM incidents WHERE grid_code = :g"), {"g": gone}).scalar()
        audit_before = len(audit(s))
        stored_before = s.execute(text("SELECT count(*), max(updated_at) FROM grids")).one()
    assert expected["incident"] >= in_gone > 0 and expected["camera"] >= 1   # the planned camera, not the retired

    token = token_of(post_upload(admin, fc(features), community=community))
    pv = preview_of(app, token)
    assert pv["removed"] == [gone] and [r["code"] for r in pv["reshaped"]] == [kept]
    assert pv["reshaped"][0]["area_after_m2"] > pv["reshaped"][0]["area_before_m2"]
    assert pv["summary"]["incidents_moved"] == expected["incident"]
    assert pv["summary"]["cameras_moved"] == expected["camera"]
    assert {(m["kind"], m["before"], m["after"]) for m in pv["moves"]} >= {("incident", gone, kept)}
    assert pv["meta"]["committable"] and not pv["problems"] and not pv["holders"]
    html = admin.get(f"/grids/upload/{token}").get_data(as_text=True)
    assert 'id="bnd-commit"' in html and f'data-code="{gone}"' in html and "bnd-moves" in html
    with demo_db.Session() as s:   # the dry run wrote nothing (its SAVEPOINT was rolled back)
        assert s.execute(text("SELECT count(*), max(updated_at) FROM grids")).one() == stored_before
        assert len(audit(s)) == audit_before
        assert s.execute(text("SELECT count(*) FROM incidents WHERE grid_code = :g"), {"g": gone}).scalar() == in_gone

    r = admin.post(f"/grids/upload/{token}/commit", data={"csrf_token": csrf(admin, f"/grids/upload/{token}")})
    assert r.status_code == 303
    page = admin.get(f"/grids/upload/{token}").get_data(as_text=True)
    assert 'id="bnd-result"' in page and 'id="bnd-commit"' not in page
    result = preview_of(app, token)["meta"]["result"]
    assert (result["incidents_moved"], result["cameras_moved"]) == (expected["incident"], expected["camera"])
    assert result["removed"] == 1 and result["updated"] == 1
    with demo_db.Session() as s:
        assert s.execute(text("SELECT count(*) FROM grids WHERE code = :g"), {"g": gone}).scalar() == 0
        assert s.execute(text("SELECT ST_Equals(geom, ST_SetSRID(ST_GeomFromGeoJSON(:m), 4326)) FROM grids "
                              "WHERE code = :k"), {"m": merged, "k": kept}).scalar()
        wrong = s.execute(text("SELECT count(*) FROM incidents i WHERE grid_code IS DISTINCT FROM "
                               "(SELECT min(code) FROM grids g WHERE ST_Covers(g.geom, i.geom))")).scalar()
        assert wrong == 0
        # every camera re-geocoded, the retired record too (right when it is put back in service)
        assert s.execute(text("SELECT lifecycle, grid_code FROM cameras WHERE device_id LIKE '5103049999131000001_' "
                              "ORDER BY device_id")).all() == [("retired", kept), ("planned", kept)]
        deleted, = audit(s, gone)[-1:]
        assert (deleted["action"], deleted["actor"]) == ("delete", "admin") and deleted["before"]["code"] == gone
        updated = audit(s, kept)[-1]
        assert updated["action"] == "update" and updated["changed"] == ["geom"] and updated["actor"] == "admin"
        assert updated["after"]["geom"]["type"] == "MultiPolygon"
        moved = s.execute(text("SELECT count(*) FROM audit_log WHERE object_type = 'incident' AND actor = 'admin' "
                               "AND 'grid_code' = ANY(changed)")).scalar()
        assert moved == expected["incident"]
    kept = upload_store(app.extensions["gridwatch.settings"]).root / token
    assert not (kept / "file").exists() and (kept / "meta.json").is_file()   # the file gone, the record kept
    # a second commit (a reload, a double click) writes nothing more
    with demo_db.Session() as s:
        rows = s.execute(text("SELECT count(*) FROM audit_log")).scalar()
    r = admin.post(f"/grids/upload/{token}/commit", data={"csrf_token": csrf(admin, f"/grids/upload/{token}")})
    assert r.status_code == 303
    with demo_db.Session() as s:
        assert s.execute(text("SELECT count(*) FROM audit_log")).scalar() == rows


def test_removed_grid_with_members_is_refused_naming_them(app, admin, demo_db):
    with demo_db.Session() as s:
        community = pick_community(s)
        features, kept, gone = merge_two(community_features(s, community))
        holders = s.execute(text("SELECT m.name FROM member_roles r JOIN members m ON m.id = r.member_id "
                                 "WHERE r.grid_code = :g ORDER BY m.name"), {"g": gone}).scalars().all()
        roles_before = s.execute(text("SELECT count(*) FROM member_roles")).scalar()
    assert holders
    token = token_of(post_upload(admin, fc(features), community=community))
    pv = preview_of(app, token)
    assert sorted(h["name"] for h in pv["holders"]) == holders and not pv["meta"]["committable"]
    assert pv["summary"]["incidents_moved"] > 0   # the preview still says where the grid's points would go
    html = admin.get(f"/grids/upload/{token}").get_data(as_text=True)
    assert 'id="bnd-holders"' in html and all(n in html for n in holders) and 'id="bnd-commit"' not in html
    r = admin.post(f"/grids/upload/{token}/commit", data={"csrf_token": csrf(admin, f"/grids/upload/{token}")})
    body = r.get_data(as_text=True)
    assert r.status_code == 409 and all(n in body for n in holders) and 'id="bnd-conflict"' in body
    with demo_db.Session() as s:
        assert s.execute(text("SELECT count(*) FROM member_roles")).scalar() == roles_before
        assert s.execute(text("SELECT count(*) FROM grids WHERE code = :g"), {"g": gone}).scalar() == 1


def test_topology_problems_are_listed_and_drawn_and_block_the_commit(app, admin, demo_db):
    with demo_db.Session() as s:
        community = pick_community(s)
        features = community_features(s, community)
        before = s.execute(text("SELECT count(*), max(updated_at) FROM grids")).one()
    grown = shapely.geometry.shape(features[0]["geometry"]).buffer(0.0003)           # ≈ 30 m into its neighbours
    features[0]["geometry"] = shapely.geometry.mapping(grown)
    b = shapely.geometry.shape(features[1]["geometry"]).bounds                        # a bow-tie: invalid ring
    features[1]["geometry"] = {"type": "Polygon", "coordinates": [[[b[0], b[1]], [b[2], b[3]], [b[2], b[1]],
                                                                    [b[0], b[3]], [b[0], b[1]]]]}
    token = token_of(post_upload(admin, fc(features), community=community))
    pv = preview_of(app, token)
    kinds = {p["kind"] for p in pv["problems"]}
    assert {"overlap", "invalid", "outside"} <= kinds and not pv["meta"]["committable"]
    drawn = {f["properties"]["i"] for f in pv["map"]["problems"]["features"]}
    assert drawn == {p["i"] for p in pv["problems"] if p["on_map"]} and drawn
    html = admin.get(f"/grids/upload/{token}").get_data(as_text=True)
    assert html.count('class="bnd-problem"') == len(pv["problems"]) and 'id="bnd-commit"' not in html
    assert "重叠" in html and "无效环" in html           # kinds by their names
    r = admin.post(f"/grids/upload/{token}/commit", data={"csrf_token": csrf(admin, f"/grids/upload/{token}")})
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="bnd-commit-errors"' in body
    errors = body[body.index('id="bnd-commit-errors"'):]
    errors = errors[:errors.index("</div>")]
    assert "重叠" in errors and "无效环" in errors and 'data-field="overlap"' in errors   # problems by their names
    assert "field 'overlap'" not in errors and "<td>overlap</td>" not in errors
    with demo_db.Session() as s:
        assert s.execute(text("SELECT count(*), max(updated_at) FROM grids")).one() == before
    # repaired on request: the overlap is wider than a 1 m tolerance, so it stays; the bow-tie is made valid
    token = token_of(post_upload(admin, fc(features), community=community, repair="1", tolerance_m="1"))
    pv = preview_of(app, token)
    assert "invalid" not in {p["kind"] for p in pv["problems"]} and "overlap" in {p["kind"] for p in pv["problems"]}
    assert any("made valid" in c for c in pv["changes"])


def test_stale_preview_is_a_conflict_showing_the_other_change(app, admin, demo_db):
    with demo_db.Session() as s:
        community = pick_community(s)
        features = community_features(s, community)
    features[0]["properties"]["name"] = "改名网格"
    token = token_of(post_upload(admin, fc(features), community=community))
    pv = preview_of(app, token)
    assert pv["renamed"] == [{"code": features[0]["properties"]["code"], "before": pv["renamed"][0]["before"],
                              "after": "改名网格"}]
    assert pv["summary"]["incidents_moved"] == 0 and pv["meta"]["committable"]
    other = features[1]["properties"]["code"]
    with demo_db.Session() as s:     # someone else changes a grid meanwhile
        s.execute(text("SELECT set_config('gridwatch.actor', 'planner-x', true)"))
        s.execute(text("UPDATE grids SET households = households + 1 WHERE code = :c"), {"c": other})
        s.commit()
    r = admin.post(f"/grids/upload/{token}/commit", data={"csrf_token": csrf(admin, f"/grids/upload/{token}")})
    body = r.get_data(as_text=True)
    assert r.status_code == 409 and 'id="bnd-since"' in body and "planner-x" in body and other in body
    since = body[body.index('id="bnd-since"'):body.index("</table>", body.index('id="bnd-since"'))]
    assert "<td>修改</td>" in since and "update" not in since   # the action by its name
    with demo_db.Session() as s:
        assert s.execute(text("SELECT name FROM grids WHERE code = :c"),
                         {"c": features[0]["properties"]["code"]}).scalar() != "改名网格"


def test_upload_answers_only_its_account_until_it_expires(app, admin, demo_db, settings):
    from types import SimpleNamespace

    with demo_db.Session() as s:
        community = pick_community(s)
        features = community_features(s, community)
    token = token_of(post_upload(admin, fc(features), community=community))
    store = upload_store(settings)
    up = store.load(SimpleNamespace(id=preview_of(app, token)["meta"]["user_id"], username="admin"), token)
    for stranger in (SimpleNamespace(id=up.meta["user_id"] + 1000, username="admin"),
                     SimpleNamespace(id=up.meta["user_id"], username="someone")):
        with pytest.raises(NotFound):
            store.load(stranger, token)
    owner = SimpleNamespace(id=up.meta["user_id"], username="admin")
    with pytest.raises(NotFound):
        store.load(owner, token, now=up.expires + timedelta(seconds=1))
    assert not (store.root / token).exists()          # expired: forgotten
    assert admin.get(f"/grids/upload/{token}").status_code == 404
    for bad in ("x" * 32, "../../etc", "%00", "a" * 200):
        assert admin.get(f"/grids/upload/{bad}").status_code == 404
    # cancel forgets it
    token = token_of(post_upload(admin, fc(features), community=community))
    r = admin.post(f"/grids/upload/{token}/cancel", data={"csrf_token": csrf(admin, f"/grids/upload/{token}")})
    assert r.status_code == 303 and "cancelled=1" in r.headers["Location"]
    assert admin.get(f"/grids/upload/{token}").status_code == 404
    assert 'id="bnd-cancelled"' in admin.get(r.headers["Location"]).get_data(as_text=True)
    # a sweep removes what has expired, only that
    kept = token_of(post_upload(admin, fc(features), community=community))
    assert store.sweep(now=datetime.now(timezone.utc)) == 0
    assert store.sweep(now=datetime.now(timezone.utc) + timedelta(seconds=store.ttl_s + 1)) == 1
    assert not (store.root / kept).exists()


def test_form_errors_name_each_field(admin, demo_db):
    with demo_db.Session() as s:
        community = pick_community(s)
        features = community_features(s, community)
    cases = [
        ({"scope_kind": "community"}, b"", "x.geojson", {"file", "community"}),
        ({"scope_kind": "everything", "crs": "mars", "tolerance_m": "1e9"}, fc(features), "g.csv",
         {"scope_kind", "crs", "tolerance_m", "file"}),
        ({"scope_kind": "community", "community": "510304999999", "tolerance_m": "abc"}, fc(features), "g.geojson", {"community", "tolerance_m"}),
        ({"scope_kind": "community", "community": community, "repair": "maybe"}, fc(features), "g\u202e.geojson", {"repair", "file"}),
    ]
    for form, data, name, fields in cases:
        fields_sent = {"csrf_token": csrf(admin, "/grids/upload"), "tolerance_m": "1", **form}
        if data:
            fields_sent["file"] = (io.BytesIO(data), name)
        r = admin.post("/grids/upload", data=fields_sent, content_type="multipart/form-data")
        html = r.get_data(as_text=True)
        assert r.status_code == 422, html[:500]
        assert set(re.findall(r'<tr data-field="([^"]*)"', html)) == fields, (form, name)
    # rows that cannot be read: each named by line and field
    features[1]["properties"]["name"] = "网" * 81
    features[2]["properties"]["households"] = "-1"
    r = post_upload(admin, fc(features), community=community)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert re.search(r'<tr data-field="name"><td>2</td>', html) and re.search(r'<tr data-field="households"><td>3</td>', html)
    features[1]["properties"]["name"], features[2]["properties"]["households"] = "ok", 1
    features[2]["properties"]["code"] = "123"
    r = post_upload(admin, fc(features), community=community)
    assert r.status_code == 422 and re.search(r'<tr data-field="code"><td>3</td>', r.get_data(as_text=True))
    # a grid of another community in a one-community upload
    with demo_db.Session() as s:
        stranger = s.execute(text("SELECT code FROM grids WHERE community_code <> :c LIMIT 1"), {"c": community}).scalar()
        features = community_features(s, community) + [
            {"type": "Feature", "properties": {"code": stranger}, "geometry": json.loads(s.execute(text(
                "SELECT ST_AsGeoJSON(geom) FROM grids WHERE code = :g"), {"g": stranger}).scalar())}]
    r = post_upload(admin, fc(features), community=community)
    assert r.status_code == 422 and f"grid {stranger} is not in community {community}" in r.get_data(as_text=True)


def test_zipped_shapefile_of_the_stored_grids_changes_nothing(app, admin, demo_db, tmp_path):
    import zipfile

    import geopandas as gpd

    with demo_db.Session() as s:
        community = pick_community(s)
        frame = gpd.read_postgis(text("SELECT code, name, households, population, geom FROM grids "
                                      "WHERE community_code = :c"), s.connection(), params={"c": community},
                                 geom_col="geom", crs=4326)
    frame.to_file(tmp_path / "grids.shp", encoding="utf-8")
    with zipfile.ZipFile(tmp_path / "grids.zip", "w") as z:
        for part in tmp_path.glob("grids.*"):
            if part.suffix != ".zip":
                z.write(part, part.name)
    token = token_of(post_upload(admin, (tmp_path / "grids.zip").read_bytes(), name="grids.zip", community=community))
    pv = preview_of(app, token)
    assert pv["summary"]["unchanged"] == len(frame) and not pv["reshaped"] and not pv["removed"]
    assert not pv["meta"]["committable"]   # nothing to write
    assert 'id="bnd-nothing"' in admin.get(f"/grids/upload/{token}").get_data(as_text=True)


def test_layer_scope_refuses_a_community_left_without_grids(demo_session):
    """The whole layer uploaded without one community: that community becomes one gap (refused)."""
    import tempfile
    from pathlib import Path

    import geopandas as gpd

    from app.grids.service import LAYER, plan_import

    s = demo_session
    frame = gpd.read_postgis(text("SELECT code, name, geom FROM grids"), s.connection(), geom_col="geom", crs=4326)
    community = sorted(frame["code"].str[:12].unique())[-1]

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "layer.gpkg"
        frame[frame["code"].str[:12] != community].to_file(path)
        result = plan_import(s, path, scope=LAYER)
    assert set(result.removed) == set(frame.loc[frame["code"].str[:12] == community, "code"])
    gaps = [p for p in result.report.errors if p.kind == "gap"]
    assert [p.codes for p in gaps] == [(community,)] and not result.report.ok


@pytest.mark.parametrize("account", ["operator", "planner", "lead", "member"])
def test_only_the_boundary_capability_may_upload(client, lead_grid, account):
    login(client, account)
    assert client.get("/grids/upload").status_code == 403
    token = TOKEN.search(client.get("/", follow_redirects=True).get_data(as_text=True)).group(1)
    r = client.post("/grids/upload", data={"csrf_token": token, "scope_kind": "layer"},
                    content_type="multipart/form-data")
    assert r.status_code == 403


def test_anonymous_is_sent_to_log_in(client):
    r = client.get("/grids/upload")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


NASTY = ["", " ", "-1", "1e308", "nan", "inf", "a\x00b", "\u202egnp", "<script>alert(1)</script>", "' OR 1=1 --",
         "../../etc/passwd", "x" * 5000, "５１０３０４", "EPSG:99999", "EPSG:4544\x00"]
JUNK = [(b"", "g.geojson"), (b"\x00\x01garbage", "g.geojson"), (b"{}", "g.json"), (b"PK\x03\x04junk", "g.zip"),
        (b"SQLite format 3\x00junk", "g.gpkg"), (b'{"type":"FeatureCollection","features":[]}', "g.geojson"),
        (b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"510304001001001"},'
         b'"geometry":{"type":"Point","coordinates":[104.77,29.36]}}]}', "g.geojson"),
        (b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"x"},'
         b'"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}', "g.geojson")]


def test_no_5xx_for_nasty_fields_files_and_tokens(admin, demo_db, tmp_path):
    import zipfile

    with demo_db.Session() as s:
        community = pick_community(s)
    empty_zip = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty_zip, "w") as z:
        z.writestr("readme.txt", "no shapefile here")
    files = JUNK + [(empty_zip.read_bytes(), "g.zip")]
    token = csrf(admin, "/grids/upload")
    for data, name in files:
        r = admin.post("/grids/upload", data={"csrf_token": token, "scope_kind": "community", "community": community,
                                              "file": (io.BytesIO(data), name)}, content_type="multipart/form-data")
        assert r.status_code == 422, (name, data[:40], r.status_code, r.get_data(as_text=True)[:300])
        assert 'id="bnd-form-errors"' in r.get_data(as_text=True)
    for field in ("scope_kind", "community", "crs", "repair", "tolerance_m"):
        for value in NASTY:
            form = {"csrf_token": token, "scope_kind": "community", "community": community, field: value,
                    "file": (io.BytesIO(JUNK[-1][0]), "g.geojson")}
            r = admin.post("/grids/upload", data=form, content_type="multipart/form-data")
            assert r.status_code == 422, (field, value, r.status_code)
    for value in NASTY[1:] + ["A" * 32]:
        for suffix, method in (("", "get"), ("/commit", "post"), ("/cancel", "post")):
            path = "/grids/upload/" + value.replace("%", "%25").replace("/", "%2F").replace("?", "%3F") + suffix
            r = getattr(admin, method)(path, data={"csrf_token": token} if method == "post" else None)
            assert r.status_code in (404, 405), (path, r.status_code)
    r = admin.get("/grids/upload", query_string={"community": "<script>", "cancelled": "2"})
    assert r.status_code == 200     # a bad preselection is ignored: the form is shown without it
    assert "<script>" not in r.get_data(as_text=True).split("</form>")[0].split('id="bnd-form"')[-1]
