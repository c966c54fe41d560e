"""Open311 GeoReport v2 endpoints, field by field against the specification (wiki.open311.org/GeoReport_v2)."""
from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from app.accounts.keys import add_api_key
from app.incidents import service

SERVICE_KEYS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST_KEYS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}


@pytest.fixture
def key(demo_db):
    """A key of an operator account (the whole district), for a reporting app."""
    from app.accounts.service import add_user

    with demo_db.session() as s:
        add_user(s, "open311-app", "app-password-1", role="operator")
        return add_api_key(s, "test-app", "open311-app")


@pytest.fixture
def keyed(client, key):
    """The test client sending the operator key in the X-API-Key header on every request."""
    client.environ_base["HTTP_X_API_KEY"] = key
    return client


@pytest.fixture
def spot(demo_db):
    with demo_db.session() as s:
        return s.execute(text("SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
                              "FROM grids ORDER BY code LIMIT 1")).one()


def _errors(resp, code):
    assert resp.status_code == code
    body = resp.get_json()
    assert isinstance(body, list) and len(body) == 1 and set(body[0]) == {"code", "description"}
    assert body[0]["code"] == code and body[0]["description"]
    return body[0]["description"]


def test_services_json_and_xml(client, demo_db):
    with demo_db.session() as s:
        cats = dict(s.execute(text("SELECT code, name_zh FROM categories")).all())
    body = client.get("/open311/v2/services.json").get_json()
    assert {b["service_code"]: b["service_name"] for b in body} == cats
    for b in body:
        assert set(b) == SERVICE_KEYS and b["metadata"] is False and b["type"] == "realtime"
    resp = client.get("/open311/v2/services.xml")
    assert resp.status_code == 200 and resp.content_type.startswith("text/xml")
    root = ET.fromstring(resp.data)
    assert root.tag == "services"
    assert sorted(el.findtext("service_code") for el in root.findall("service")) == sorted(cats)
    assert {el.findtext("metadata") for el in root.findall("service")} == {"false"}


def test_service_definition(client):
    resp = client.get("/open311/v2/services/dispute.json")
    assert resp.status_code == 200 and resp.get_json() == {"service_code": "dispute", "attributes": []}
    assert "not found" in _errors(client.get("/open311/v2/services/potholes.json"), 404)
    assert client.get("/open311/v2/services.yaml").status_code == 404


def test_post_requires_a_valid_api_key(client, spot, demo_db):
    form = {"service_code": "other", "lat": spot[2], "long": spot[1], "description": "x"}
    assert "api_key" in _errors(client.post("/open311/v2/requests.json", data=form), 401)
    _errors(client.post("/open311/v2/requests.json", data={**form, "api_key": "wrong"}), 401)
    with demo_db.session() as s:
        assert s.execute(text("SELECT count(*) FROM incidents WHERE description = 'x'")).scalar() == 0


def test_post_then_get(keyed, key, spot, demo_db):
    client = keyed
    form = {"api_key": key, "service_code": "street_order", "lat": str(spot[2]), "long": str(spot[1]),
            "description": "占道经营 <b>", "first_name": "张", "last_name": "三", "phone": "13800000000",
            "email": "z@example.org", "media_url": "https://example.org/p.jpg", "address_string": "某路 1 号"}
    resp = client.post("/open311/v2/requests.json", data=form)
    assert resp.status_code == 201
    body = resp.get_json()
    assert len(body) == 1 and set(body[0]) == {"service_request_id", "service_notice", "account_id"}
    rid = body[0]["service_request_id"]
    assert body[0]["account_id"] is None and rid.isdigit()
    with demo_db.session() as s:
        row = s.execute(text("SELECT grid_code, source, reporter_name, reporter_phone, reporter_email, state "
                             "FROM incidents WHERE id = :i"), {"i": int(rid)}).one()
        actor = s.execute(text("SELECT actor FROM incident_events WHERE incident_id = :i"), {"i": int(rid)}).scalar()
    assert tuple(row) == (spot[0], "public", "张 三", "13800000000", "z@example.org", "reported")
    assert actor == "open311:test-app"
    one = client.get(f"/open311/v2/requests/{rid}.json")
    assert one.status_code == 200
    (req,) = one.get_json()
    assert set(req) == REQUEST_KEYS
    assert (req["service_request_id"], req["status"], req["status_notes"], req["service_code"]) == (
        rid, "open", "reported", "street_order")
    assert req["description"] == "占道经营 <b>" and req["media_url"] == "https://example.org/p.jpg"
    assert req["lat"] == pytest.approx(spot[2]) and req["long"] == pytest.approx(spot[1])
    assert req["requested_datetime"].endswith("+08:00") and req["expected_datetime"] is None
    raw = one.get_data(as_text=True)
    assert "13800000000" not in raw and "z@example.org" not in raw
    xml = client.get(f"/open311/v2/requests/{rid}.xml")
    el = ET.fromstring(xml.data).find("request")
    assert el.findtext("service_request_id") == rid and el.findtext("description") == "占道经营 <b>"
    assert "13800000000" not in xml.get_data(as_text=True)
    # a second report at the same spot is flagged as a suspected duplicate in service_notice
    again = client.post("/open311/v2/requests.json", data=form).get_json()[0]
    assert again["service_notice"] and rid in again["service_notice"]


@pytest.mark.parametrize("change,needle", [
    ({"service_code": ""}, "service_code"),
    ({"lat": "", "long": ""}, "address_string alone"), ({"lat": "", "long": "", "address_string": ""}, "location"),
    ({"lat": "abc"}, "lat: 'abc' is not a WGS-84 decimal degree"), ({"lat": "20.0", "long": "110.0"}, "outside"),
    ({"media_url": "javascript:alert(1)"}, "media_url")])
def test_post_errors(client, key, spot, change, needle):
    form = {"api_key": key, "service_code": "other", "lat": str(spot[2]), "long": str(spot[1]),
            "address_string": "某路 1 号", **change}
    assert needle in _errors(client.post("/open311/v2/requests.json", data=form), 400)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_with_an_unknown_service_code_is_404(client, key, spot, fmt):
    """Every field well formed, but no such service: the spec's 404 (not a 400), in the URL's format."""
    form = {"api_key": key, "service_code": "potholes", "lat": str(spot[2]), "long": str(spot[1])}
    r = client.post(f"/open311/v2/requests.{fmt}", data=form)
    assert r.status_code == 404
    text = r.get_json()[0]["description"] if fmt == "json" else ET.fromstring(r.data).find("error").findtext("description")
    assert "service_code 'potholes' not found" in text


def test_xml_errors(client):
    resp = client.post("/open311/v2/requests.xml", data={})
    assert resp.status_code == 401 and resp.content_type.startswith("text/xml")
    err = ET.fromstring(resp.data)
    assert err.tag == "errors" and err.find("error").findtext("code") == "401"


@pytest.fixture
def planted(demo_db, spot):
    """Five incidents in a week of 2012 (after data_start_date, years before any demo incident, even a
    demo shifted to today): 3 open, 2 closed."""
    t0 = datetime(2012, 3, 2, 0, 0, tzinfo=timezone.utc)
    settings = type("S", (), {"duplicate_radius_m": 0.0, "duplicate_window_h": 0.0})()
    admin = type("U", (), {"role": "admin", "username": "t-admin", "member_id": None})()
    checker = type("U", (), {"role": "admin", "username": "t-checker", "member_id": None})()  # not who resolved
    ids = []
    with demo_db.session() as s:
        for k, cat in enumerate(["dispute", "dispute", "other", "other", "other"]):
            inc = service.report_incident(s, category=cat, source="hotline", description=f"p{k}", lon=spot[1],
                                          lat=spot[2], actor="t", reported_at=t0 + timedelta(hours=k),
                                          settings=settings)
            ids.append(inc.id)
        for action in ("accept", "dispatch", "start", "resolve", "pass_check"):
            service.transition(s, ids[0], action, checker if action == "pass_check" else admin,
                               "fixed" if action == "resolve" else None, at=t0 + timedelta(hours=10))
        service.transition(s, ids[1], "void", admin, "a test report", at=t0 + timedelta(hours=10))
        service.transition(s, ids[2], "accept", admin)
        service.transition(s, ids[2], "dispatch", admin, at=t0 + timedelta(hours=2))
    return t0, ids


def _ids(resp):
    assert resp.status_code == 200
    return [int(r["service_request_id"]) for r in resp.get_json()]


def test_get_requests_filters_and_paging(keyed, planted):
    client = keyed
    t0, ids = planted
    window = {"start_date": "2012-03-02T08:00:00+08:00", "end_date": "2012-03-02T12:00:00+08:00"}
    assert _ids(client.get("/open311/v2/requests.json", query_string=window)) == ids[::-1]  # newest first
    assert _ids(client.get("/open311/v2/requests.json", query_string={**window, "status": "closed"})) == [
        ids[1], ids[0]]
    assert _ids(client.get("/open311/v2/requests.json", query_string={**window, "status": "open"})) == [
        ids[4], ids[3], ids[2]]
    assert _ids(client.get("/open311/v2/requests.json", query_string={**window, "service_code": "dispute"})) == [
        ids[1], ids[0]]
    narrow = {"start_date": "2012-03-02T00:30:00Z", "end_date": "2012-03-02T02:30:00Z"}
    assert _ids(client.get("/open311/v2/requests.json", query_string=narrow)) == [ids[2], ids[1]]
    pages = [_ids(client.get("/open311/v2/requests.json", query_string={**window, "page_size": 2, "page": p}))
             for p in (1, 2, 3, 4)]
    assert pages == [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]], []]
    # service_request_id overrides every other filter (the spec), and a comma list works
    only = {"service_request_id": f"{ids[0]},{ids[3]},999999999", "status": "open", "start_date": "2020-01-01T00:00Z",
            "end_date": "2020-01-02T00:00Z"}
    assert sorted(_ids(client.get("/open311/v2/requests.json", query_string=only))) == [ids[0], ids[3]]
    by_id = {r["service_request_id"]: r for r in client.get("/open311/v2/requests.json", query_string=window)
             .get_json()}
    assert by_id[str(ids[1])]["status"] == "closed" and by_id[str(ids[1])]["status_notes"] == "voided"
    assert by_id[str(ids[2])]["status_notes"] == "dispatched"
    # expected_datetime = dispatch (t0 + 2 h) + other/normal hours, with the +08:00 offset
    expected = (t0 + timedelta(hours=2 + 72)).astimezone(timezone(timedelta(hours=8))).isoformat()
    assert by_id[str(ids[2])]["expected_datetime"] == expected
    xml = ET.fromstring(client.get("/open311/v2/requests.xml", query_string=window).data)
    assert xml.tag == "service_requests" and len(xml.findall("request")) == 5


def test_get_requests_default_window_is_90_days(keyed, planted, demo_db):
    client = keyed
    t0, ids = planted
    assert _ids(client.get("/open311/v2/requests.json", query_string={"start_date": "2012-03-01T00:00:00+08:00"})
                ) == ids[::-1]
    # end_date only: the 90 days before it; the planted week is 100 days earlier than this end
    late = (t0 + timedelta(days=100)).isoformat()
    assert _ids(client.get("/open311/v2/requests.json", query_string={"end_date": late})) == []


@pytest.mark.parametrize("query,needle", [
    ({"page": "0"}, "page"), ({"page_size": "1001"}, "page_size"), ({"page": "x"}, "whole"),
    ({"status": "pending"}, "status"), ({"start_date": "yesterday"}, "W3C date-time"),
    ({"start_date": "2012-03-02T00:00:00Z", "end_date": "2012-03-01T00:00:00Z"}, "earlier")])
def test_get_requests_errors(keyed, query, needle):
    client = keyed
    assert needle in _errors(client.get("/open311/v2/requests.json", query_string=query), 400)


def test_unknown_request_is_404(keyed):
    client = keyed
    _errors(client.get("/open311/v2/requests/999999999.json"), 404)
    _errors(client.get("/open311/v2/requests/abc.json"), 404)


def test_api_keys_cli_prints_once_and_stores_sha256(cli, demo_db, key):
    result = cli(demo_db, "api-keys", "add", "wechat", "--user", "open311-app")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[0]
    with demo_db.session() as s:
        stored = s.execute(text("SELECT key_sha256 FROM api_keys WHERE name = 'wechat'")).scalar()
    assert stored == hashlib.sha256(key.encode()).hexdigest() and key not in stored
    assert cli(demo_db, "api-keys", "add", "wechat", "--user", "open311-app").exit_code != 0


def test_dates_without_offset_are_read_in_the_district_zone(keyed, planted):
    """Planted at 00:00..04:00 UTC = 08:00..12:00 in the district (UTC+8). Read as UTC, 08:30..10:30
    would lie after every planted incident and the answer would be empty."""
    t0, ids = planted
    naive = {"start_date": "2012-03-02T08:30:00", "end_date": "2012-03-02T10:30"}
    assert _ids(keyed.get("/open311/v2/requests.json", query_string=naive)) == [ids[2], ids[1]]
    # a date alone is midnight in the district: 11:00 local on the 2nd to the 3rd holds the last two
    assert _ids(keyed.get("/open311/v2/requests.json", query_string={"start_date": "2012-03-02T11:00:00",
                                                                     "end_date": "2012-03-03"})) == [ids[4], ids[3]]
    # an unencoded '+08:00' arrives as ' 08:00' and means the same instant
    assert _ids(keyed.get("/open311/v2/requests.json?start_date=2012-03-02T08:30:00+08:00"
                          "&end_date=2012-03-02T10:30:00+08:00")) == [ids[2], ids[1]]


def test_dates_without_offset_follow_the_timezone_setting(tmp_path, demo_db, key, planted):
    """The zone is the setting, not a constant: with timezone = UTC the same clock times select other incidents."""
    from app import create_app
    from app.config import Settings

    t0, ids = planted
    settings = Settings({"var_dir": str(tmp_path / "var"), "secret_key": "t", "timezone": "UTC"}, environ={},
                        config_file=tmp_path / "none.toml")
    client = create_app(settings, database=demo_db).test_client()
    naive = {"start_date": "2012-03-02T00:30:00", "end_date": "2012-03-02T02:30:00"}
    resp = client.get("/open311/v2/requests.json", query_string=naive, headers={"X-API-Key": key})
    assert _ids(resp) == [ids[2], ids[1]]
    assert resp.get_json()[0]["requested_datetime"] == "2012-03-02T02:00:00+00:00"
