"""The first map page: every layer, popups, and no external URL."""
from __future__ import annotations

import json
import re

from sqlalchemy import text

from layers.assets import ASSET_FILES
from tests.maps import collections

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)
URL = re.compile(r"https?://[^\s\"'<>)]+")


def _home(client, demo_db):
    from app.demo import create_demo_accounts
    from tests.app.dash_helpers import login

    with demo_db.session() as s:
        create_demo_accounts(s)
    assert client.get("/").status_code == 302  # the map is behind the log-in
    login(client, "operator")
    return client.get("/dashboard/operator")


def test_home_map_has_every_layer(client, demo_db):
    r = _home(client, demo_db)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for name in ("街道/镇 streets", "社区 communities", "网格 grids", "摄像头 cameras"):
        # the layer control carries the names as JSON, which may escape them
        assert name in html or json.dumps(name)[1:-1] in html, name
    cameras = [fc for fc in collections(html) if fc["features"] and "device_id" in fc["features"][0]["properties"]]
    with demo_db.session() as s:
        n_cameras = s.execute(text("SELECT count(*) FROM cameras")).scalar()
    assert len(cameras) == 1 and len(cameras[0]["features"]) == n_cameras >= 371  # one layer, every camera
    assert "L.control.layers(" in html
    assert "510304001" in html


def test_home_map_loads_nothing_from_outside(client, demo_db):
    html = _home(client, demo_db).get_data(as_text=True)
    assert not EXTERNAL.search(html)
    loaded = re.findall(r"""<(?:script|link)[^>]+(?:src|href)=["']([^"']+)""", html)
    assert loaded and all(u.startswith(("/vendor/", "/static/", "/favicon.ico")) for u in loaded)  # all local
    # No absolute URL at all, except the SVG/XML namespaces some libraries embed as identifiers.
    others = [u for u in URL.findall(html) if "www.w3.org" not in u]
    assert others == []


def test_vendor_assets_are_served(client):
    for name in ASSET_FILES:
        r = client.get(f"/vendor/{name}")
        assert r.status_code == 200, name
        assert len(r.data) > 0
    assert client.get("/vendor/nope.js").status_code == 404


def test_healthz_reports_database(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok", "database": "reachable"}
