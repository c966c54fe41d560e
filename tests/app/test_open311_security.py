"""Open311 hardening: keys belong to accounts, reads need a key, anonymous reads are masked, and
nothing a client sends answers 500 or is stored other than as sent."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import text

from app.accounts.keys import add_api_key
from tests.app.dash_helpers import lead_grid  # noqa: F401  (fixture)

REQUESTS = "/open311/v2/requests.json"


def _errors(resp, code):
    """The descriptions of an Open311 JSON error answer with HTTP ``code``."""
    assert resp.status_code == code, resp.get_data(as_text=True)[:300]
    body = resp.get_json()
    assert isinstance(body, list) and body and all(set(b) == {"code", "description"} for b in body)
    assert {b["code"] for b in body} == {code}
    return [b["description"] for b in body]


def _keys(demo_db, **accounts):
    """Keys named after accounts created by ``lead_grid``: ``_keys(db, lead="lead")`` → {"lead": key}."""
    with demo_db.session() as s:
        return {name: add_api_key(s, f"{name}-key", user) for name, user in accounts.items()}


@pytest.fixture
def keys(demo_db, lead_grid):
    return _keys(demo_db, operator="operator", planner="planner", lead="lead")


@pytest.fixture
def spot(demo_db):
    """A point inside the first grid that does not lie on the 0.001° grid (so rounding must move it)."""
    with demo_db.session() as s:
        code, lon, lat = s.execute(text("SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
                                        "FROM grids ORDER BY code LIMIT 1")).one()
    assert round(lon, 3) != lon and round(lat, 3) != lat
    return code, lon, lat


def _incident_count(demo_db) -> int:
    with demo_db.session() as s:
        return s.execute(text("SELECT count(*) FROM incidents")).scalar()


def _post(client, key, spot, **fields):
    form = {"service_code": "other", "lat": repr(spot[2]), "long": repr(spot[1]), "description": "路灯不亮",
            **fields}
    return client.post(REQUESTS, data=form, headers={"X-API-Key": key})


def _anonymous_client(tmp_path, demo_db):
    from app import create_app
    from app.config import Settings

    settings = Settings({"var_dir": str(tmp_path / "var"), "secret_key": "t", "open311_anonymous_reads": True},
                        environ={}, config_file=tmp_path / "none.toml")
    return create_app(settings, database=demo_db).test_client()


def _metres(lon1, lat1, lon2, lat2) -> float:
    """Haversine distance on a 6,371,008.8 m sphere (good to 0.5 % here; the test allows 110 m)."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(a))


# -- reads need a key ---------------------------------------------------------------------------
def test_reads_without_a_key_are_401_in_json_and_xml(client, demo_db):
    some_id = _first_incident(demo_db)
    for path in (REQUESTS, f"/open311/v2/requests/{some_id}.json"):
        resp = client.get(path)
        assert "api_key" in _errors(resp, 401)[0]
        assert resp.headers["WWW-Authenticate"].startswith("APIKey")
    for path in ("/open311/v2/requests.xml", f"/open311/v2/requests/{some_id}.xml"):
        resp = client.get(path)
        assert resp.status_code == 401 and resp.content_type.startswith("text/xml")
        root = ET.fromstring(resp.data)
        assert root.tag == "errors" and root.find("error").findtext("code") == "401"
    assert _errors(client.get(REQUESTS, headers={"X-API-Key": "not-a-key"}), 401) == ["api_key is not valid"]
    # the catalogue stays public
    assert client.get("/open311/v2/services.json").status_code == 200


def _first_incident(demo_db) -> int:
    with demo_db.session() as s:
        return s.execute(text("SELECT min(id) FROM incidents")).scalar()


def test_key_in_the_header_never_in_the_query_string(client, keys, demo_db):
    """A key in a query string ends up in proxy and access logs: it is never read (401 as without a key)."""
    rid = _first_incident(demo_db)
    path = f"/open311/v2/requests/{rid}.json"
    assert client.get(path, headers={"X-API-Key": keys["operator"]}).status_code == 200
    assert client.get(path, query_string={"api_key": keys["operator"]}).status_code == 401
    assert client.get("/open311/v2/requests.xml", query_string={"api_key": keys["operator"]}).status_code == 401


def test_revoked_key_and_disabled_account_are_403(client, keys, lead_grid, demo_db, cli):
    with demo_db.session() as s:
        rid = s.execute(text("SELECT min(id) FROM incidents WHERE grid_code = :g"), {"g": lead_grid}).scalar()
    path = f"/open311/v2/requests/{rid}.json"
    assert cli(demo_db, "api-keys", "revoke", "planner-key").exit_code == 0
    assert "revoked" in _errors(client.get(path, headers={"X-API-Key": keys["planner"]}), 403)[0]
    assert client.get(path, headers={"X-API-Key": keys["lead"]}).status_code == 200
    with demo_db.session() as s:
        s.execute(text("UPDATE users SET active = false WHERE username = 'lead'"))
    assert "disabled" in _errors(client.get(path, headers={"X-API-Key": keys["lead"]}), 403)[0]
    # and a disabled account's key cannot report either
    assert "disabled" in _errors(client.post(REQUESTS, data={}, headers={"X-API-Key": keys["lead"]}), 403)[0]


def test_key_without_an_account_is_403(client, demo_db):
    """A key issued before keys had accounts (user_id null) reads nothing and reports nothing."""
    from app.accounts.keys import digest

    with demo_db.session() as s:
        s.execute(text("INSERT INTO api_keys (name, key_sha256) VALUES ('legacy', :d)"), {"d": digest("old-key")})
    assert "no account" in _errors(client.get(REQUESTS, headers={"X-API-Key": "old-key"}), 403)[0]
    assert "no account" in _errors(client.post(REQUESTS, data={"api_key": "old-key"}), 403)[0]


def test_grid_lead_key_sees_only_their_grids(client, keys, lead_grid, demo_db):
    with demo_db.session() as s:
        mine = s.execute(text("SELECT min(id) FROM incidents WHERE grid_code = :g"), {"g": lead_grid}).scalar()
        other = s.execute(text("SELECT min(id) FROM incidents WHERE grid_code <> :g"), {"g": lead_grid}).scalar()
        span = s.execute(text("SELECT min(reported_at), max(reported_at), count(*) FILTER (WHERE grid_code = :g) "
                              "FROM incidents"), {"g": lead_grid}).one()
    lead = {"X-API-Key": keys["lead"]}
    got = client.get(REQUESTS, query_string={"service_request_id": f"{mine},{other}"}, headers=lead).get_json()
    assert [r["service_request_id"] for r in got] == [str(mine)]
    _errors(client.get(f"/open311/v2/requests/{other}.json", headers=lead), 404)
    window = {"start_date": span[0].isoformat(), "end_date": span[1].isoformat()}
    rows = client.get(REQUESTS, query_string=window, headers=lead).get_json()
    assert len(rows) == span[2] > 0 and {r["agency_responsible"].split()[-1] for r in rows} == {lead_grid}
    # the operator's key sees the other grid's incident
    op = client.get(f"/open311/v2/requests/{other}.json", headers={"X-API-Key": keys["operator"]})
    assert op.status_code == 200


def test_planner_key_sees_no_reporter_details(client, keys, spot):
    resp = _post(client, keys["operator"], spot, first_name="王", last_name="小明", phone="13912345678",
                 email="wxm@example.org")
    rid = resp.get_json()[0]["service_request_id"]
    for fmt in ("json", "xml"):
        one = client.get(f"/open311/v2/requests/{rid}.{fmt}", headers={"X-API-Key": keys["planner"]})
        raw = one.get_data(as_text=True)
        assert one.status_code == 200 and "路灯不亮" in raw
        assert not any(v in raw for v in ("小明", "13912345678", "5678", "wxm@example.org", "wxm"))


# -- anonymous reads (a setting) ----------------------------------------------------------------
def test_anonymous_reads_mask_sensitive_categories_and_round_spots(tmp_path, demo_db, keys, spot, client):
    made = {}
    for code in ("dispute", "safety_hazard", "other"):
        resp = _post(client, keys["operator"], spot, service_code=code, description=f"{code} 张三家门口",
                     address_string="幸福路 12 号 3 单元", media_url="https://example.org/p.jpg")
        made[code] = resp.get_json()[0]["service_request_id"]
    anon = _anonymous_client(tmp_path, demo_db)
    rows = {r["service_request_id"]: r for r in anon.get(REQUESTS).get_json()}
    for code, rid in made.items():
        r = rows[rid]
        assert (r["lat"], r["long"]) != (spot[2], spot[1])
        assert _metres(spot[1], spot[2], r["long"], r["lat"]) < 110
        assert (r["lat"], r["long"]) == (round(r["lat"], 3), round(r["long"], 3))
        if code == "other":
            assert r["description"] == "other 张三家门口" and r["address"] == "幸福路 12 号 3 单元"
        else:
            assert (r["description"], r["address"], r["media_url"]) == (None, None, None)
            assert r["service_code"] == code and r["status"] == "open"
    xml = anon.get(f"/open311/v2/requests/{made['dispute']}.xml").get_data(as_text=True)
    assert "张三" not in xml and "幸福路" not in xml and repr(spot[2])[:9] not in xml
    # a key still reads everything exactly, and a wrong key is refused rather than masked
    (exact,) = anon.get(f"/open311/v2/requests/{made['dispute']}.json", headers={"X-API-Key": keys["planner"]}
                        ).get_json()
    assert exact["description"] == "dispute 张三家门口" and exact["lat"] == pytest.approx(spot[2], abs=1e-12)
    _errors(anon.get(REQUESTS, headers={"X-API-Key": "typo"}), 401)
    # posting still needs a key
    _errors(anon.post(REQUESTS, data={"service_code": "other", "lat": spot[2], "long": spot[1]}), 401)


# -- the CLI --------------------------------------------------------------------------------------
def test_api_keys_add_needs_a_known_active_account(cli, demo_db, lead_grid):
    missing = cli(demo_db, "api-keys", "add", "app")
    assert missing.exit_code == 2 and "--user" in missing.output
    unknown = cli(demo_db, "api-keys", "add", "app", "--user", "nobody")
    assert unknown.exit_code != 0 and "nobody" in unknown.output
    with demo_db.session() as s:
        s.execute(text("UPDATE users SET active = false WHERE username = 'planner'"))
    assert "disabled" in cli(demo_db, "api-keys", "add", "app", "--user", "planner").output
    ok = cli(demo_db, "api-keys", "add", "app", "--user", "lead")
    assert ok.exit_code == 0
    with demo_db.session() as s:
        owner = s.execute(text("SELECT u.username FROM api_keys k JOIN users u ON u.id = k.user_id "
                               "WHERE k.name = 'app'")).scalar()
    assert owner == "lead"
    listed = cli(demo_db, "api-keys", "list").output
    assert "app\tlead\tactive" in listed and ok.stdout.strip().splitlines()[0] not in listed
    assert cli(demo_db, "api-keys", "add", "bad\u202ename", "--user", "lead").exit_code != 0
    assert cli(demo_db, "api-keys", "revoke", "nope").exit_code != 0
