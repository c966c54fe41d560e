"""The live-view link (issue 15): ``app.cameras.live`` (the URL, the template's check where settings are built),
and where the pages put it: the camera page's link, the map pages' data for ``gw.liveLink`` (camera popups, the
spot lists), nothing at all when ``video_url_template`` is empty. The scripts' side is
tests/browser/test_live_view_browser.py."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import text

from app.cameras.live import VIDEO_LIFECYCLES, check_template, live_url
from tests.app.dash_helpers import lead_grid, login  # noqa: F401  (lead_grid: a fixture)

TEMPLATE = "https://video.example/live?deviceId={device_id}&from=gridwatch"
PAGE_DATA = re.compile(r'<script type="application/json" id="gw-page"[^>]*>(.*?)</script>', re.S)


def _data(html: str) -> dict:
    return json.loads(PAGE_DATA.search(html).group(1))["data"]


# -- the URL and the template ------------------------------------------------------------------------------
@pytest.mark.parametrize("template, device_id, expected", [
    (TEMPLATE, "51030400001310000001", "https://video.example/live?deviceId=51030400001310000001&from=gridwatch"),
    ("http://10.1.2.3:18080/#/play/{device_id}/{device_id}", "51030400001310000001",
     "http://10.1.2.3:18080/#/play/51030400001310000001/51030400001310000001"),
    # every character but letters, digits and -._~ percent-encoded (UTF-8), as the scripts do
    ("https://v.example/p/{device_id}", "a b/c?d&e#f", "https://v.example/p/a%20b%2Fc%3Fd%26e%23f"),
    ("https://v.example/p?id={device_id}", "!'()*~._-", "https://v.example/p?id=%21%27%28%29%2A~._-"),
    ("https://v.example/p?id={device_id}", "摄像机", "https://v.example/p?id=%E6%91%84%E5%83%8F%E6%9C%BA"),
])
def test_live_url_replaces_every_placeholder_with_the_quoted_id(template, device_id, expected):
    assert live_url(check_template(template), device_id) == expected


def test_no_template_no_url():
    assert live_url("", "51030400001310000001") is None
    assert check_template("") == ""


@pytest.mark.parametrize("template, why", [
    ("https://video.example/live", "does not contain {device_id}"),
    ("https://video.example/live?id={device}", "does not contain {device_id}"),
    ("https://video.example/{channel}/{device_id}", "field other than {device_id}"),
    ("https://video.example/{device_id}}", "field other than {device_id}"),
    ("ftp://video.example/{device_id}", "not an http or https URL"),
    ("javascript:alert(1)//{device_id}", "not an http or https URL"),
    ("/live/{device_id}", "not an http or https URL"),
    ("https:///live/{device_id}", "no host"),
    ("https://video.example:port/{device_id}", "not a URL"),
    ("https://video.example/live?id={device_id} x", "blank or a control character"),
    ("https://video.example/live?id=\x1b{device_id}", "blank or a control character"),
    ("https://video.example/" + "a" * 2000 + "{device_id}", "longer than 2000"),
])
def test_a_bad_template_is_refused_naming_the_setting(template, why):
    with pytest.raises(ValueError) as exc:
        check_template(template)
    assert "video_url_template" in str(exc.value) and why in str(exc.value)


def test_the_settings_check_the_template_from_every_source(tmp_path):
    from app.config import Settings

    toml = tmp_path / "gridwatch.toml"
    toml.write_text('video_url_template = "https://video.example/{device_id}"\n', encoding="utf-8")
    assert Settings(environ={}, config_file=toml).video_url_template == "https://video.example/{device_id}"
    toml.write_text('video_url_template = "https://video.example/"\n', encoding="utf-8")
    for build in (lambda: Settings(environ={}, config_file=toml),
                  lambda: Settings(environ={"GRIDWATCH_VIDEO_URL_TEMPLATE": "video.example/{device_id}"},
                                   config_file=tmp_path / "none.toml"),
                  lambda: Settings({"video_url_template": "https://v/{x}{device_id}"}, environ={},
                                   config_file=tmp_path / "none.toml"),
                  lambda: Settings(environ={}, config_file=tmp_path / "none.toml").replace(video_url_template="x")):
        with pytest.raises(ValueError, match="video_url_template"):
            build()


# -- the pages -----------------------------------------------------------------------------------------------
@pytest.fixture
def settings(tmp_path):
    from app.config import Settings
    from tests.conftest import ROOT

    return Settings({"var_dir": str(tmp_path / "var"), "secret_key": "test-secret", "data_dir": str(ROOT / "data"),
                     "video_url_template": TEMPLATE}, environ={}, config_file=tmp_path / "none.toml")


@pytest.fixture
def plain(settings, demo_db):
    """A client of the same app without a template."""
    from app import create_app

    application = create_app(settings.replace(video_url_template=""), database=demo_db)
    application.config.update(TESTING=True)
    return application.test_client()


def _camera(demo_db, lifecycle: str) -> str:
    with demo_db.session() as s:
        did = s.execute(text("SELECT device_id FROM cameras WHERE lifecycle = 'active' ORDER BY device_id DESC "
                             "LIMIT 1 OFFSET :o"), {"o": ("active", "planned", "retired").index(lifecycle)}).scalar()
        if lifecycle != "active":
            s.execute(text("UPDATE cameras SET lifecycle = :l WHERE device_id = :d"), {"l": lifecycle, "d": did})
    return did


LINK = re.compile(r'<div id="gw-live-view">(.*?)</div>', re.S)


def test_the_camera_page_links_a_built_camera_to_its_live_view(client, demo_db, lead_grid):
    did = _camera(demo_db, "active")
    login(client, "operator")
    html = client.get(f"/cameras/{did}").get_data(as_text=True)
    a = re.fullmatch(r'<a href="([^"]+)" target="_blank" rel="noopener noreferrer" class="gw-live" id="cam-live" '
                     r'data-device="(\d+)" title="[^"]+">([^<]+)</a>', LINK.search(html).group(1))
    assert a, LINK.search(html).group(1)
    assert a.group(1).replace("&amp;", "&") == live_url(TEMPLATE, did) and a.group(2) == did
    assert a.group(3) == "实时视频"
    en = client.get(f"/cameras/{did}", query_string={"lang": "en"}).get_data(as_text=True)
    assert ">Live view</a>" in LINK.search(en).group(1)
    # the page data hands the template to the scripts as well
    assert _data(html)["live"] == {"template": TEMPLATE, "label": "实时视频", "lifecycles": list(VIDEO_LIFECYCLES)}


@pytest.mark.parametrize("lifecycle", ["planned", "retired"])
def test_a_camera_that_is_not_built_has_no_live_view(client, demo_db, lead_grid, lifecycle):
    did = _camera(demo_db, lifecycle)
    login(client, "admin")
    html = client.get(f"/cameras/{did}").get_data(as_text=True)
    assert '<div id="gw-live-view"></div>' in html and "video.example" not in html.split('id="gw-page"')[0]


def test_without_a_template_no_page_shows_a_link(plain, demo_db, lead_grid):
    did = _camera(demo_db, "active")
    login(plain, "operator")
    html = plain.get(f"/cameras/{did}").get_data(as_text=True)
    assert '<div id="gw-live-view"></div>' in html and 'class="gw-live"' not in html
    assert _data(html)["live"] is None
    for path, account in (("/dashboard/operator", "operator"), ("/dashboard/planner", "planner"),
                          ("/cameras", "operator")):
        login(plain, account)
        page = plain.get(path).get_data(as_text=True)
        assert _data(page)["live"] is None and "video.example" not in page, path


@pytest.mark.parametrize("path, account", [("/dashboard/operator", "operator"), ("/dashboard/planner", "planner"),
                                           ("/dashboard/grid", "lead"), ("/cameras", "planner")])
def test_the_map_pages_hand_the_template_to_the_scripts(client, lead_grid, path, account):
    login(client, account)
    html = client.get(path).get_data(as_text=True)
    assert _data(html)["live"] == {"template": TEMPLATE, "label": "实时视频", "lifecycles": list(VIDEO_LIFECYCLES)}
    if path.startswith("/dashboard"):
        # the camera layer's popups end with the link of their device ID (gw.feature's spec, layers/cameras.py)
        specs = re.findall(r'gw\.feature\((\{.*?\})\)', html)
        camera_specs = [json.loads(sp) for sp in specs if '"live"' in sp and json.loads(sp).get("popup", {}).get("live")]
        assert camera_specs and all(sp["popup"]["live"] == "device_id" for sp in camera_specs)


def test_only_the_camera_layer_asks_for_the_link():
    import folium
    import geopandas as gpd
    from shapely.geometry import Point

    from layers import cameras, popups

    frame = gpd.GeoDataFrame({"device_id": ["51030400001310000001"], "name": ["a"], "status": ["ON"],
                              "lifecycle": ["active"]}, geometry=[Point(104.7, 29.3)], crs=4326)
    m = folium.Map(location=[29.3, 104.7], tiles=None)
    cameras.cameras(frame).add_to(m)
    html = m.get_root().render()
    assert '"live": "device_id"' in html and '"lifecycle":"active"' in html  # the property gw.liveLink reads
    assert '"live": null' in str(popups.feature_js(title="name"))
