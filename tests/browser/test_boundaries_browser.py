"""Grid boundary upload in headless Chromium: the dry run's busy indicator, the topology report drawn on
the map (a click on a problem zooms to it), cancel; on a phone, a rename committed through the page.

The database is shared by every browser test: these tests use one community no other test edits (the
middle one by code), commit only a grid's name, and put the name back when they finish."""
from __future__ import annotations

import json

import pytest
import shapely
from sqlalchemy import text

pytestmark = pytest.mark.browser


def _clean(w):
    assert w.blocked == [], f"requests left the machine: {w.blocked}"
    assert w.errors == [], f"console errors: {w.errors}"


@pytest.fixture
def community(live_data):
    """(engine, community code, its grids as GeoJSON features); the grids' names restored afterwards."""
    eng = live_data[0]
    with eng.connect() as c:
        codes = c.execute(text("SELECT DISTINCT community_code FROM grids ORDER BY 1")).scalars().all()
        code = codes[len(codes) // 2]
        rows = c.execute(text("SELECT code, name, households, population, ST_AsGeoJSON(geom, 15) FROM grids "
                              "WHERE community_code = :c ORDER BY code"), {"c": code}).all()
    features = [{"type": "Feature", "properties": {"code": g, "name": n, "households": h, "population": p},
                 "geometry": json.loads(geom)} for g, n, h, p, geom in rows]
    yield eng, code, features
    with eng.begin() as c:
        for f in features:
            c.execute(text("UPDATE grids SET name = :n WHERE code = :g"),
                      {"n": f["properties"]["name"], "g": f["properties"]["code"]})


def _file(features) -> dict:
    return {"name": "grids.geojson", "mimeType": "application/geo+json",
            "buffer": json.dumps({"type": "FeatureCollection", "features": features}).encode()}


def _fill(w, code: str, features):
    w.goto("/grids/upload")
    w.page.check("#bnd-scope-community")
    w.page.select_option("#bnd-community", code)
    w.page.set_input_files("#bnd-file", _file(features))


def test_topology_report_on_the_map_then_cancel(web, community):
    eng, code, features = community
    grown = json.loads(json.dumps(features))
    grown[0]["geometry"] = shapely.geometry.mapping(shapely.geometry.shape(grown[0]["geometry"]).buffer(0.0003))
    web.login("admin")
    _fill(web, code, grown)
    # the dry run's busy indicator: a listener added after the page's own keeps this first submit from
    # leaving the page, so what the page's handler did to it stays to be seen
    web.page.evaluate("document.getElementById('bnd-form').addEventListener('submit', e => e.preventDefault())")
    web.page.click("#bnd-submit")
    web.page.wait_for_selector("#bnd-busy:not([hidden])")
    assert web.page.is_disabled("#bnd-submit") and web.page.text_content("#bnd-busy").strip()
    _fill(web, code, grown)
    with web.page.expect_navigation():
        web.page.click("#bnd-submit")
    assert "/grids/upload/" in web.page.url
    web.page.wait_for_selector("#bnd-map[data-ready='1']")
    rows = web.page.locator("tr.bnd-problem[role=button]")
    assert rows.count() >= 2
    assert web.page.locator("#bnd-map path.leaflet-interactive").count() > len(features)
    assert web.page.locator("#bnd-commit").count() == 0
    second = rows.nth(1)
    i = second.get_attribute("data-i")
    second.click()
    web.page.wait_for_selector(f"#bnd-map[data-selected='{i}']")
    assert "bnd-on" in second.get_attribute("class")
    kinds = web.page.locator("tr.bnd-problem td:first-child").all_text_contents()
    assert any("重叠" in k for k in kinds) and not any("overlap" == k.strip() for k in kinds)
    with web.page.expect_navigation():
        web.page.click("#bnd-cancel")
    assert web.page.locator("#bnd-cancelled").is_visible()
    with eng.connect() as c:
        assert c.execute(text("SELECT ST_Equals(geom, ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(:g), 4326))) "
                              "FROM grids WHERE code = :c"),
                         {"g": json.dumps(features[0]["geometry"]), "c": features[0]["properties"]["code"]}).scalar()
    _clean(web)


def test_phone_commits_a_rename(phone, community):
    eng, code, features = community
    renamed = json.loads(json.dumps(features))
    renamed[0]["properties"]["name"] = "边界上传改名测试"
    phone.login("admin")
    _fill(phone, code, renamed)
    with phone.page.expect_navigation():
        phone.page.tap("#bnd-submit")
    phone.page.wait_for_selector("#bnd-map[data-ready='1']")
    box = phone.page.locator("#bnd-map").bounding_box()
    assert box["width"] > 300 and box["height"] > 300          # the map first, at a usable size
    assert phone.page.locator("#bnd-renamed").is_visible() and "边界上传改名测试" in phone.page.text_content("#bnd-renamed")
    button = phone.page.locator("#bnd-commit")
    assert button.bounding_box()["height"] >= 44
    with phone.page.expect_navigation():
        button.tap()
    assert phone.page.locator("#bnd-result").is_visible()
    with eng.connect() as c:
        name = c.execute(text("SELECT name FROM grids WHERE code = :g"), {"g": renamed[0]["properties"]["code"]}).scalar()
        actor, action, changed = c.execute(text(
            "SELECT actor, action, changed FROM audit_log WHERE object_type = 'grid' AND object_id = :g "
            "ORDER BY id DESC LIMIT 1"), {"g": renamed[0]["properties"]["code"]}).one()
    assert name == "边界上传改名测试" and (actor, action, changed) == ("admin", "update", ["name"])
    _clean(phone)
