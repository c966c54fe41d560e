"""Strict GeoReport v2 (issue 15): discovery, every error as Open311 errors in the URL's format, unknown
services 404, XML written by ElementTree and always well formed, keys never from the query string, CORS for
configured origins, multipart media stored as the incident's photo, jurisdiction_id, W3C dates."""
from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import jsonschema
import pytest
from PIL import Image
from sqlalchemy import text

from app.open311.params import parse_datetime
from tests.app.test_open311 import key, keyed, spot  # noqa: F401  (fixtures)
from tests.settings import DISTRICT

ERRORS_SCHEMA = {"type": "array", "minItems": 1, "items": {
    "type": "object", "required": ["code", "description"], "additionalProperties": False,
    "properties": {"code": {"type": "integer"}, "description": {"type": "string", "minLength": 1}}}}
FMTS = ("json", "xml")


def _error(resp, status: int, fmt: str) -> str:
    """The first description of an Open311 error response, checked for its shape in ``fmt``."""
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    if fmt == "json":
        assert resp.content_type.startswith("application/json")
        body = resp.get_json()
        jsonschema.validate(body, ERRORS_SCHEMA)
        assert all(e["code"] == status for e in body)
        return body[0]["description"]
    assert resp.content_type.startswith("text/xml")
    root = ET.fromstring(resp.data)
    assert root.tag == "errors" and root.find("error/code").text == str(status)
    return root.find("error/description").text


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


# -- discovery ------------------------------------------------------------------------------------------
def test_discovery_json_and_xml_name_the_endpoint_and_formats(client):
    doc = client.get("/open311/v2/discovery.json").get_json()
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(doc)
    (ep,) = doc["endpoints"]
    assert ep["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert ep["url"] == "http://localhost/open311/v2" and ep["type"] == "production"
    assert set(ep["formats"]) == {"text/xml", "application/json"}
    assert doc["jurisdiction_id"] == DISTRICT.code
    # the URL it names is the API: its services answer
    assert client.get(ep["url"].replace("http://localhost", "") + "/services.json").status_code == 200
    r = client.get("/open311/v2/discovery.xml")
    root = ET.fromstring(r.data)
    assert root.tag == "discovery" and root.findtext("changeset") == doc["changeset"]
    endpoint = root.find("endpoints/endpoint")
    assert endpoint.findtext("specification") == ep["specification"]
    assert sorted(f.text for f in endpoint.findall("formats/format")) == ["application/json", "text/xml"]
    _error(client.get("/open311/v2/discovery.yaml"), 404, "json")


# -- errors ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FMTS)
def test_unknown_paths_and_methods_are_open311_errors(client, fmt):
    assert "not found" in _error(client.get(f"/open311/v2/nothing.{fmt}"), 404, fmt).lower()
    r = client.delete(f"/open311/v2/requests.{fmt}")
    _error(r, 405, fmt)
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    _error(client.put(f"/open311/v2/services.{fmt}"), 405, fmt)


@pytest.mark.parametrize("fmt", FMTS)
def test_unknown_service_code_is_404_for_a_definition_and_a_list_filter(keyed, fmt):
    assert "potholes" in _error(keyed.get(f"/open311/v2/services/potholes.{fmt}"), 404, fmt)
    assert "potholes" in _error(keyed.get(f"/open311/v2/requests.{fmt}", query_string={"service_code": "potholes"}),
                                404, fmt)


@pytest.mark.parametrize("fmt", FMTS)
def test_a_body_over_the_limit_is_413_as_an_open311_error(app, client, key, fmt):
    app.config["MAX_CONTENT_LENGTH"] = 2000
    r = client.post(f"/open311/v2/requests.{fmt}", data={"api_key": key, "description": "x" * 5000})
    _error(r, 413, fmt)


@pytest.mark.parametrize("fmt", FMTS)
def test_missing_and_wrong_keys_are_401_in_the_format(client, fmt):
    _error(client.get(f"/open311/v2/requests.{fmt}"), 401, fmt)
    _error(client.get(f"/open311/v2/requests.{fmt}", headers={"X-API-Key": "wrong"}), 401, fmt)
    _error(client.post(f"/open311/v2/requests.{fmt}", data={"service_code": "other"}), 401, fmt)


@pytest.mark.parametrize("fmt", FMTS)
def test_a_key_in_the_query_string_is_not_read_even_on_post(client, key, spot, fmt):
    form = {"service_code": "other", "lat": str(spot[2]), "long": str(spot[1])}
    _error(client.post(f"/open311/v2/requests.{fmt}?api_key={key}", data=form), 401, fmt)
    r = client.post(f"/open311/v2/requests.{fmt}", data=form, headers={"X-API-Key": key})
    assert r.status_code == 201


# -- XML is always well formed -----------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FMTS)
def test_control_characters_are_refused_at_input(client, key, spot, fmt):
    form = {"api_key": key, "service_code": "other", "lat": str(spot[2]), "long": str(spot[1]),
            "description": "井盖\x1b[31m缺失"}
    assert "description" in _error(client.post(f"/open311/v2/requests.{fmt}", data=form), 400, fmt)


def test_stored_control_characters_never_make_xml_malformed(keyed, demo_db):
    """Text written by SQL (past the input checks) with an ESC, a NUL-free C0 and a lone surrogate-free U+FFFF
    still gives a well-formed document for the request and for the list that holds it."""
    with demo_db.session() as s:
        rid = s.execute(text("SELECT max(id) FROM incidents")).scalar()
        s.execute(text("UPDATE incidents SET description = :d, address = :a, reported_at = now() WHERE id = :i"),
                  {"d": "坏\x1b字\x07符 <b>&", "a": "路\x0b号\uffff", "i": rid})
        s.commit()
    one = keyed.get(f"/open311/v2/requests/{rid}.xml")
    el = ET.fromstring(one.data).find("request")
    assert el.findtext("description") == "坏\ufffd字\ufffd符 <b>&"
    assert el.findtext("address") == "路\ufffd号\ufffd"
    listed = ET.fromstring(keyed.get("/open311/v2/requests.xml").data)
    assert str(rid) in [r.findtext("service_request_id") for r in listed.findall("request")]
    # JSON carries the text as stored (JSON can)
    assert keyed.get(f"/open311/v2/requests/{rid}.json").get_json()[0]["description"] == "坏\x1b字\x07符 <b>&"


# -- CORS -----------------------------------------------------------------------------------------------
@pytest.fixture
def cors_client(app):
    ext = app.extensions
    ext["gridwatch.settings"] = ext["gridwatch.settings"].replace(open311_cors_origins=["https://civic.example"])
    return app.test_client()


def test_cors_preflight_and_responses_for_a_listed_origin_only(cors_client, key):
    c = cors_client
    pre = c.options("/open311/v2/requests.json", headers={
        "Origin": "https://civic.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "X-API-Key"})
    assert pre.status_code in (200, 204)
    assert pre.headers["Access-Control-Allow-Origin"] == "https://civic.example"
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert "X-API-Key" in pre.headers["Access-Control-Allow-Headers"]
    assert int(pre.headers["Access-Control-Max-Age"]) > 0 and "Origin" in pre.headers["Vary"]
    got = c.get("/open311/v2/services.json", headers={"Origin": "https://civic.example"})
    assert got.headers["Access-Control-Allow-Origin"] == "https://civic.example"
    # an error carries it too, so the app can read the reason
    err = c.get("/open311/v2/requests.json", headers={"Origin": "https://civic.example"})
    assert err.status_code == 401 and err.headers["Access-Control-Allow-Origin"] == "https://civic.example"
    for other in ("https://evil.example", "https://civic.example.evil", "null"):
        r = c.get("/open311/v2/services.json", headers={"Origin": other})
        assert "Access-Control-Allow-Origin" not in r.headers
    assert "Access-Control-Allow-Origin" not in c.get("/api/incidents",
                                                      headers={"Origin": "https://civic.example"}).headers


def test_no_cors_headers_without_the_setting(client):
    r = client.get("/open311/v2/services.json", headers={"Origin": "https://civic.example"})
    assert "Access-Control-Allow-Origin" not in r.headers


# -- media ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FMTS)
def test_a_multipart_media_upload_is_stored_and_its_url_returned(client, key, spot, demo_db, fmt):
    form = {"api_key": key, "service_code": "other", "lat": str(spot[2]), "long": str(spot[1]),
            "description": "附照片", "media": (io.BytesIO(_jpeg()), "photo.jpg", "image/jpeg")}
    r = client.post(f"/open311/v2/requests.{fmt}", data=form, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_data(as_text=True)
    if fmt == "json":
        row = r.get_json()[0]
        rid, media_url = row["service_request_id"], row["media_url"]
    else:
        el = ET.fromstring(r.data).find("request")
        rid, media_url = el.findtext("service_request_id"), el.findtext("media_url")
    with demo_db.session() as s:
        photo = s.execute(text("SELECT id, kind, width, height FROM incident_photos WHERE incident_id = :i"),
                          {"i": int(rid)}).one()
    assert (photo.kind, photo.width, photo.height) == ("before", 64, 48)
    assert media_url.endswith(f"/media/photos/{photo.id}")
    # GET shows the same url, and the key opens it
    got = client.get(f"/open311/v2/requests/{rid}.json", headers={"X-API-Key": key}).get_json()[0]
    assert got["media_url"] == media_url
    img = client.get(media_url.replace("http://localhost", ""), headers={"X-API-Key": key})
    assert img.status_code == 200 and img.content_type == "image/jpeg"


@pytest.mark.parametrize("fmt", FMTS)
def test_a_bad_media_file_is_400_naming_media_and_nothing_is_written(client, key, spot, demo_db, fmt):
    with demo_db.session() as s:
        before = s.execute(text("SELECT count(*) FROM incidents")).scalar()
    form = {"api_key": key, "service_code": "other", "lat": str(spot[2]), "long": str(spot[1]),
            "media": (io.BytesIO(b"not an image at all"), "x.jpg", "image/jpeg")}
    r = client.post(f"/open311/v2/requests.{fmt}", data=form, content_type="multipart/form-data")
    assert _error(r, 400, fmt).startswith("media")
    with demo_db.session() as s:
        assert s.execute(text("SELECT count(*) FROM incidents")).scalar() == before


# -- jurisdiction ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FMTS)
def test_jurisdiction_id_must_be_the_districts(keyed, key, spot, fmt):
    ok = keyed.get(f"/open311/v2/services.{fmt}", query_string={"jurisdiction_id": DISTRICT.code})
    assert ok.status_code == 200
    assert "jurisdiction_id" in _error(keyed.get(f"/open311/v2/services.{fmt}",
                                                 query_string={"jurisdiction_id": "440306"}), 404, fmt)
    assert "jurisdiction_id" in _error(keyed.get(f"/open311/v2/requests.{fmt}",
                                                 query_string={"jurisdiction_id": "city.example"}), 404, fmt)
    form = {"api_key": key, "service_code": "other", "lat": str(spot[2]), "long": str(spot[1]),
            "jurisdiction_id": "440306"}
    _error(keyed.post(f"/open311/v2/requests.{fmt}", data=form), 404, fmt)
    form["jurisdiction_id"] = DISTRICT.code
    assert keyed.post(f"/open311/v2/requests.{fmt}", data=form).status_code == 201


# -- W3C dates ------------------------------------------------------------------------------------------
TZ = DISTRICT.timezone
CST = timezone(timedelta(hours=8))


@pytest.mark.parametrize("value, start, end", [
    ("2025", datetime(2025, 1, 1, tzinfo=CST), datetime(2026, 1, 1, tzinfo=CST)),
    ("2025-02", datetime(2025, 2, 1, tzinfo=CST), datetime(2025, 3, 1, tzinfo=CST)),
    ("2024-02", datetime(2024, 2, 1, tzinfo=CST), datetime(2024, 3, 1, tzinfo=CST)),
    ("2025-12", datetime(2025, 12, 1, tzinfo=CST), datetime(2026, 1, 1, tzinfo=CST)),
    ("2025-03-01", datetime(2025, 3, 1, tzinfo=CST), datetime(2025, 3, 2, tzinfo=CST)),
])
def test_w3c_periods_start_and_end(value, start, end):
    """A period as start_date is its first instant, as end_date its last (all of it is taken in)."""
    assert parse_datetime(value, "start_date", TZ) == start
    assert parse_datetime(value, "end_date", TZ, end=True) == end - timedelta(microseconds=1)


@pytest.mark.parametrize("value, expected", [
    ("2025-03-01T08:30+08:00", datetime(2025, 3, 1, 0, 30, tzinfo=timezone.utc)),
    ("2025-03-01T08:30:15Z", datetime(2025, 3, 1, 8, 30, 15, tzinfo=timezone.utc)),
    ("2025-03-01T08:30:15.45-05:00", datetime(2025, 3, 1, 13, 30, 15, 450000, tzinfo=timezone.utc)),
    ("2025-03-01T08:30", datetime(2025, 3, 1, 0, 30, tzinfo=timezone.utc)),   # the district's zone
])
def test_w3c_date_times(value, expected):
    assert parse_datetime(value, "start_date", TZ) == expected
    assert parse_datetime(value, "end_date", TZ, end=True) == expected  # a time is an instant, not a period


def test_9999_as_an_end_is_the_latest_instant():
    assert parse_datetime("9999", "end_date", TZ, end=True).year == 9999


@pytest.mark.parametrize("fmt", FMTS)
def test_a_month_filter_lists_exactly_that_months_requests(keyed, demo_db, fmt):
    with demo_db.session() as s:
        month = s.execute(text("SELECT to_char(max(reported_at) AT TIME ZONE :tz, 'YYYY-MM') FROM incidents"),
                          {"tz": TZ}).scalar()
        expected = {str(i) for i in s.execute(text(
            "SELECT id FROM incidents WHERE to_char(reported_at AT TIME ZONE :tz, 'YYYY-MM') = :m "
            "ORDER BY reported_at DESC, id DESC LIMIT 1000"), {"tz": TZ, "m": month}).scalars()}
    r = keyed.get(f"/open311/v2/requests.{fmt}", query_string={"start_date": month, "end_date": month,
                                                               "page_size": "1000"})
    assert r.status_code == 200
    if fmt == "json":
        got = {row["service_request_id"] for row in r.get_json()}
    else:
        got = {el.findtext("service_request_id") for el in ET.fromstring(r.data).findall("request")}
    assert got == expected and got
    assert _error(keyed.get(f"/open311/v2/requests.{fmt}", query_string={"start_date": "2025-13"}), 400, fmt
                  ).startswith("start_date")


def test_discovery_and_services_are_json_serialisable_utf8(client):
    body = client.get("/open311/v2/services.json").get_data(as_text=True)
    assert "\\u" not in body and json.loads(body)
