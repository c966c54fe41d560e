"""Who reads what through /ogc: session cookie, API keys (Bearer, X-API-Key), HTTP Basic with the log-in
throttle, 401 challenges, per-collection capabilities and grid scoping for the field roles."""
from __future__ import annotations

import base64

import pytest
from sqlalchemy import text

from app.accounts import keys
from app.accounts.service import set_active
from app.demo import DEMO_ACCOUNTS
from app.ogc import collections as cols
from tests.app.dash_helpers import lead_grid, login  # noqa: F401  (fixture)

ROUTES = ("/ogc/", "/ogc/conformance", "/ogc/api", "/ogc/collections", "/ogc/collections/cameras",
          "/ogc/collections/cameras/items", "/ogc/collections/cameras/queryables",
          "/ogc/collections/cameras/items/51030400001320000001")


def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def account(name: str) -> dict:
    return basic(name, DEMO_ACCOUNTS[name][1])


def key_for(demo_db, username: str, name: str = "qgis") -> str:
    with demo_db.session() as s:
        return keys.add_api_key(s, f"{name}-{username}", username)


def challenges(r) -> list[str]:
    return r.headers.getlist("WWW-Authenticate")


@pytest.mark.parametrize("route", ROUTES)
def test_anonymous_is_a_401_with_both_challenges(client, lead_grid, route):
    r = client.get(route)
    assert r.status_code == 401
    assert 'Basic realm="gridwatch", charset="UTF-8"' in challenges(r)
    assert any(c.startswith("Bearer") for c in challenges(r))
    assert r.get_json()["code"] == "Unauthenticated"


def test_session_cookie(client, lead_grid):
    login(client, "operator")
    assert client.get("/ogc/collections").status_code == 200
    # a cookie request keeps the CSRF rules: a write without the token is refused before anything else
    assert client.post("/ogc/collections").status_code == 400


def test_keys_by_bearer_and_x_api_key(client, lead_grid, demo_db):
    key = key_for(demo_db, "planner")
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
        r = client.get("/ogc/collections/blind_spots", headers=headers)
        assert r.status_code == 200, r.get_data(as_text=True)
    for headers in ({"Authorization": "Bearer not-a-key"}, {"X-API-Key": "not-a-key"}, {"X-API-Key": ""},
                    {"Authorization": "Token abc"}, {"Authorization": "Bearer"}):
        r = client.get("/ogc/collections", headers=headers)
        assert r.status_code == 401 and challenges(r), headers


def test_revoked_key_and_disabled_account(client, lead_grid, demo_db):
    key = key_for(demo_db, "operator")
    with demo_db.session() as s:
        keys.revoke_api_key(s, "qgis-operator")
    r = client.get("/ogc/collections", headers={"X-API-Key": key})
    assert r.status_code == 403 and "revoked" in r.get_json()["description"]
    other = key_for(demo_db, "member")
    with demo_db.session() as s:
        set_active(s, "member", False)
    assert client.get("/ogc/collections", headers={"Authorization": f"Bearer {other}"}).status_code == 403
    assert client.get("/ogc/collections", headers=account("member")).status_code == 401


def test_basic_right_and_wrong_passwords_are_recorded_and_throttled(client, lead_grid, demo_db, settings):
    assert client.get("/ogc/collections", headers=account("planner")).status_code == 200
    for header in (basic("planner", "wrong"), basic("nobody", "x"), {"Authorization": "Basic !!!"}, basic("plan\x00ner", "x"),
                   {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}):
        r = client.get("/ogc/collections", headers=header)
        assert r.status_code == 401 and challenges(r)
    with demo_db.session() as s:
        reasons = s.execute(text("SELECT username, reason FROM login_attempts WHERE NOT success ORDER BY id")).all()
    assert ("planner", "basic_wrong_password") in reasons and ("nobody", "basic_unknown_user") in reasons
    for _ in range(settings.login_max_failures):
        client.get("/ogc/collections", headers=basic("planner", "guess"))
    r = client.get("/ogc/collections", headers=account("planner"))  # even the right password, until the wait ends
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def _readable_ids(client, headers) -> list[str]:
    return [c["id"] for c in client.get("/ogc/collections", headers=headers).get_json()["collections"]]


@pytest.mark.parametrize("name", list(DEMO_ACCOUNTS))
def test_each_role_lists_what_it_may_read_and_no_more(client, lead_grid, name):
    role = DEMO_ACCOUNTS[name][0]
    headers = account(name)
    shown = _readable_ids(client, headers)
    assert shown == [c.id for c in cols.COLLECTIONS.values() if role in c.readers]
    api_paths = client.get("/ogc/api", headers=headers).get_json()["paths"]
    for c in cols.COLLECTIONS.values():
        if c.id in shown:
            assert f"/collections/{c.id}/items" in api_paths
            continue
        assert f"/collections/{c.id}" not in api_paths
        for url in (f"/ogc/collections/{c.id}", f"/ogc/collections/{c.id}/items",
                    f"/ogc/collections/{c.id}/queryables", f"/ogc/collections/{c.id}/items/1"):
            r = client.get(url, headers=headers)
            assert r.status_code == 403 and r.get_json()["code"] == "Forbidden", url


def test_planner_reads_planning_layers_not_patrols(client, lead_grid):
    shown = _readable_ids(client, account("planner"))
    assert {"blind_spots", "proposed_sites", "incidents", "cameras"} <= set(shown)
    assert "patrol_tracks" not in shown
    assert "blind_spots" not in _readable_ids(client, account("lead"))


@pytest.mark.parametrize("name", ["lead", "member"])
def test_field_roles_see_their_grids_rows_only(client, lead_grid, demo_db, name):
    from app.accounts.auth import visible_grid_codes, user_by_name

    with demo_db.session() as s:
        grids = visible_grid_codes(user_by_name(s, name), s)
        assert grids
        outside = s.execute(text("SELECT device_id FROM gis.cameras WHERE NOT grid_code = ANY(:g) "
                                 "ORDER BY device_id LIMIT 1"), {"g": sorted(grids)}).scalar_one()
        want = {cid: s.execute(text(f'SELECT count(*) FROM gis.{cid} WHERE "{col}" = ANY(:g)'),
                               {"g": sorted(grids)}).scalar_one()
                for cid, col in (("cameras", "grid_code"), ("incidents", "grid_code"), ("grids", "code"),
                                 ("patrol_tracks", "grid_code"), ("planned_cameras", "grid_code"))}
    headers = account(name)
    for cid, count in want.items():
        fc = client.get(f"/ogc/collections/{cid}/items?limit=10000", headers=headers).get_json()
        assert fc["numberMatched"] == count == len(fc["features"]), cid
        col = cols.COLLECTIONS[cid].grid_column
        assert all(f["properties"][col] in grids for f in fc["features"]), cid
    r = client.get(f"/ogc/collections/cameras/items/{outside}", headers=headers)
    assert r.status_code == 404
    assert client.get(f"/ogc/collections/cameras/items/{outside}", headers=account("operator")).status_code == 200
    views = client.get("/ogc/collections/camera_views/items?limit=10000", headers=headers).get_json()
    assert all(f["properties"]["grid_code"] in grids for f in views["features"])


def test_no_reporter_or_phone_fields_anywhere(client, lead_grid):
    headers = account("admin")
    for c in cols.COLLECTIONS:
        props = client.get(f"/ogc/collections/{c}/queryables", headers=headers).get_json()["properties"]
        assert not [p for p in props if "phone" in p or "reporter" in p or p == "contact"], c


def test_a_browser_without_credentials_is_sent_to_log_in(client, lead_grid):
    r = client.get("/ogc/collections?f=html")
    assert r.status_code == 302 and "/login?next=" in r.headers["Location"]
    assert "WWW-Authenticate" not in r.headers
    # wrong credentials from a browser still get the challenge (it asked with them)
    r = client.get("/ogc/collections?f=html", headers=basic("planner", "wrong"))
    assert r.status_code == 401 and challenges(r) and r.mimetype == "text/html"


def test_the_audit_actor_is_named_by_key_or_account(client, lead_grid, demo_db):
    from flask import g

    key = key_for(demo_db, "operator", name="script")
    with client:
        assert client.get("/ogc/collections", headers={"X-API-Key": key}).status_code == 200
        assert g.audit_actor == "key:script-operator"
    with client:
        assert client.get("/ogc/collections", headers=account("planner")).status_code == 200
        assert g.audit_actor == "planner"
