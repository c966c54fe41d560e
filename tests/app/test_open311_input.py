"""Open311 input: no client value answers 500; bad values are a 400 naming the field in the URL's format;
over-long or control-character text is refused with nothing written, never cut or cleaned."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import text

from app.incidents.models import Incident
from app.accounts.keys import add_api_key
from app.incidents.models import DESCRIPTION_MAX
from gis.text import column_length

REQUESTS = "/open311/v2/requests.json"
ADDRESS_MAX = column_length(Incident.__table__.c.address)
NAME_MAX = column_length(Incident.__table__.c.reporter_name)
PHONE_MAX = column_length(Incident.__table__.c.reporter_phone)
EMAIL_MAX = column_length(Incident.__table__.c.reporter_email)
MEDIA_MAX = column_length(Incident.__table__.c.media_url)


@pytest.fixture
def keyed(client, demo_db):
    """The test client sending an operator account's key on every request."""
    from app.accounts.service import add_user

    with demo_db.session() as s:
        add_user(s, "open311-app", "app-password-1", role="operator")
        client.environ_base["HTTP_X_API_KEY"] = add_api_key(s, "input-app", "open311-app")
    return client


@pytest.fixture
def form(demo_db):
    with demo_db.session() as s:
        lon, lat = s.execute(text("SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
                                  "FROM grids ORDER BY code LIMIT 1")).one()
    return {"service_code": "other", "lat": repr(lat), "long": repr(lon), "description": "井盖缺失"}


def _count(demo_db) -> int:
    with demo_db.session() as s:
        return s.execute(text("SELECT count(*) FROM incidents")).scalar()


def _errors(resp, code=400):
    assert resp.status_code == code, resp.get_data(as_text=True)[:300]
    body = resp.get_json()
    assert isinstance(body, list) and body and {b["code"] for b in body} == {code}
    return [b["description"] for b in body]


# -- query parameters -----------------------------------------------------------------------------
@pytest.mark.parametrize("query,field", [
    ({"page": "99999999999999999999"}, "page"), ({"page": "1000001"}, "page"), ({"page": "-1"}, "page"),
    ({"page": "1_0"}, "page"), ({"page": "١"}, "page"), ({"page_size": "99999999999999999999"}, "page_size"),
    ({"page_size": "-5"}, "page_size"), ({"page_size": "ten"}, "page_size"), ({"page_size": "0"}, "page_size"),
    ({"page_size": "9" * 5000}, "page_size"), ({"service_request_id": "1,²"}, "service_request_id"),
    ({"service_request_id": ",".join(["1"] * 1001)}, "service_request_id"),
    ({"service_code": "oth\x00er"}, "service_code"),
    ({"status": "op\x00en"}, "status"), ({"status": "pending"}, "status"),
    ({"start_date": "2026-02-30T00:00:00"}, "start_date"), ({"start_date": "2026-03-01T25:00"}, "start_date"),
    ({"end_date": "2026-03-01T00:00:00+24:00"}, "end_date"), ({"end_date": "0000-01-01"}, "end_date"),
    ({"start_date": "20260301"}, "start_date"), ({"start_date": "2026-03-01T00:00:00\x00"}, "start_date"),
    ({"end_date": "１２３４-01-01"}, "end_date")])
def test_bad_query_parameters_are_400_naming_them(keyed, query, field):
    (description,) = _errors(keyed.get(REQUESTS, query_string=query))
    assert description.startswith(f"{field}: ")
    xml = keyed.get("/open311/v2/requests.xml", query_string=query)
    assert xml.status_code == 400 and xml.content_type.startswith("text/xml")
    assert ET.fromstring(xml.data).find("error").findtext("description").startswith(f"{field}: ")


def test_every_bad_parameter_is_named_at_once(keyed):
    described = _errors(keyed.get(REQUESTS, query_string={"page": "x", "page_size": "y", "status": "z"}))
    assert [d.split(":")[0] for d in described] == ["page", "page_size", "status"]


@pytest.mark.parametrize("query", [
    {"end_date": "0001-01-01T00:00:00"}, {"start_date": "9999-12-31T23:00:00-12:00"},
    {"start_date": "0001-01-01T00:00:00+14:00", "end_date": "9999-12-31T23:59:59.999999-12:00"},
    {"start_date": "9999-12-31"}, {"end_date": "0001-01-01T00:00:00Z"}])
def test_far_dates_are_kept_in_range(keyed, query):
    """Dates the calendar allows, however far, answer 200 (a window clamped to years 1–9999), not 500."""
    resp = keyed.get(REQUESTS, query_string={**query, "page_size": "5"})
    assert resp.status_code == 200 and isinstance(resp.get_json(), list)


def test_whole_range_window_finds_the_demo(keyed, demo_db):
    query = {"start_date": "0001-01-01T00:00:00+14:00", "end_date": "9999-12-31T23:59:59-12:00", "page_size": 3}
    with demo_db.session() as s:
        newest = s.execute(text("SELECT id FROM incidents ORDER BY reported_at DESC, id DESC LIMIT 3")).scalars()
        newest = [str(i) for i in newest]
    assert [r["service_request_id"] for r in keyed.get(REQUESTS, query_string=query).get_json()] == newest


def test_odd_request_ids_are_404(keyed):
    for rid in ("²", "１", "1e3", "99999999999999999999", "-1"):
        _errors(keyed.get(f"/open311/v2/requests/{rid}.json"), 404)
    _errors(keyed.get("/open311/v2/services/a%00b.json"), 400)


# -- POST fields ----------------------------------------------------------------------------------
@pytest.mark.parametrize("field,value,limit", [
    ("description", "述" * (DESCRIPTION_MAX + 1), DESCRIPTION_MAX), ("address_string", "路" * (ADDRESS_MAX + 1),
                                                                     ADDRESS_MAX),
    ("first_name", "张" * (NAME_MAX + 1), NAME_MAX), ("last_name", "三" * (NAME_MAX + 1), NAME_MAX),
    ("phone", "1" * (PHONE_MAX + 1), PHONE_MAX), ("email", "a" * EMAIL_MAX + "@x.org", EMAIL_MAX),
    ("media_url", "https://example.org/" + "p" * MEDIA_MAX, MEDIA_MAX)])
def test_over_long_fields_are_refused_with_nothing_written(keyed, form, demo_db, field, value, limit):
    before = _count(demo_db)
    (description,) = _errors(keyed.post(REQUESTS, data={**form, field: value}))
    assert description.startswith(f"{field}: ") and f"at most {limit} allowed" in description
    assert _count(demo_db) == before


def test_first_and_last_name_together_must_fit(keyed, form, demo_db):
    half = NAME_MAX // 2
    before = _count(demo_db)
    (description,) = _errors(keyed.post(REQUESTS, data={**form, "first_name": "张" * half,
                                                         "last_name": "三" * half}))
    assert description.startswith("first_name + last_name: ") and str(NAME_MAX) in description
    assert _count(demo_db) == before
    ok = keyed.post(REQUESTS, data={**form, "first_name": "张" * half, "last_name": "三" * (half - 1)})
    assert ok.status_code == 201


def test_fields_at_their_limits_are_stored_as_sent(keyed, form, demo_db):
    sent = {"description": "第一行\n\t第二行" + "述" * (DESCRIPTION_MAX - 8), "address_string": "路" * ADDRESS_MAX,
            "phone": "1" * PHONE_MAX, "email": "e" * (EMAIL_MAX - 6) + "@x.org",
            "media_url": "https://example.org/" + "p" * (MEDIA_MAX - 20)}
    resp = keyed.post(REQUESTS, data={**form, **sent})
    assert resp.status_code == 201
    with demo_db.session() as s:
        row = s.execute(text("SELECT description, address, reporter_phone, reporter_email, media_url "
                             "FROM incidents WHERE id = :i"), {"i": int(resp.get_json()[0]["service_request_id"])}
                        ).one()
    assert tuple(row) == tuple(sent.values())


TEXT_FIELDS = ("description", "address_string", "first_name", "last_name", "phone", "email", "media_url",
               "service_code")


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\u202e", "\u2066", "\x85"])
@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_control_and_bidi_characters_are_refused(keyed, form, demo_db, field, char):
    before = _count(demo_db)
    value = {"media_url": f"https://example.org/{char}x", "service_code": f"oth{char}er"}.get(field, f"张{char}三")
    (description,) = _errors(keyed.post(REQUESTS, data={**form, field: value}))
    assert description.startswith(f"{field}: ") and f"U+{ord(char):04X}" in description
    assert _count(demo_db) == before


def test_line_breaks_only_in_the_description(keyed, form):
    assert keyed.post(REQUESTS, data={**form, "description": "一\r\n二"}).status_code == 201
    (description,) = _errors(keyed.post(REQUESTS, data={**form, "address_string": "一\n二"}))
    assert description.startswith("address_string: ") and "line feed" in description


@pytest.mark.parametrize("field,value", [
    ("lat", "nan"), ("lat", "NaN"), ("lat", "inf"), ("lat", "-Infinity"), ("lat", "1e400"), ("lat", "90.5"),
    ("long", "181"), ("long", "-180.0001"), ("long", "0x1p3"), ("long", "1_04.5"), ("lat", "٢٩.٤"),
    ("lat", "29.4\x00")])
def test_bad_coordinates_are_400_naming_the_field(keyed, form, demo_db, field, value):
    before = _count(demo_db)
    (description,) = _errors(keyed.post(REQUESTS, data={**form, field: value}))
    assert description.startswith(f"{field}: ") and "decimal degree" in description
    assert _count(demo_db) == before


def test_several_bad_fields_are_all_named_in_xml(keyed, form):
    resp = keyed.post("/open311/v2/requests.xml", data={**form, "lat": "nan", "long": "", "phone": "1\x00",
                                                        "service_code": ""})
    assert resp.status_code == 400 and resp.content_type.startswith("text/xml")
    named = [e.findtext("description").split(":")[0] for e in ET.fromstring(resp.data).findall("error")]
    assert named == ["lat", "phone", "service_code", "long"]
