"""Every parameter of every dashboard route is checked into a 4xx that names it (issue 11: no 500 for
anything a client sends): dates in a sane range, finite ordered boxes, code lists, ints in range, text."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from tests.app.dash_helpers import csrf, lead_grid, login  # noqa: F401  (fixture)

BAD = [
    # /api/incidents (the operator and grid pages read the same filter)
    ("/api/incidents", {"end": "9999-12-31"}, "end"),
    ("/api/incidents", {"start": "0001-01-01"}, "start"),
    ("/api/incidents", {"start": "2026-13-01"}, "start"),
    ("/api/incidents", {"start": "2026-05-02", "end": "2026-05-01"}, "end"),
    ("/api/incidents", {"start": "2026-05-01\x00"}, "start"),
    ("/api/incidents", {"since": "9999-12-31T23:00:00-12:00"}, "since"),
    ("/api/incidents", {"since": "0001-01-01T00:00:00"}, "since"),
    ("/api/incidents", {"since": "yesterday"}, "since"),
    ("/api/incidents", {"bbox": "nan,29,105,30"}, "bbox"),
    ("/api/incidents", {"bbox": "104,29,inf,30"}, "bbox"),
    ("/api/incidents", {"bbox": "105,29,104,30"}, "bbox"),
    ("/api/incidents", {"bbox": "104,29,105"}, "bbox"),
    ("/api/incidents", {"bbox": "-999,29,105,30"}, "bbox"),
    ("/api/incidents", {"state": "lost"}, "state"),
    ("/api/incidents", {"category": "nope"}, "category"),
    ("/api/incidents", {"category": "a\x00b"}, "category"),
    ("/api/incidents", {"street": "abc"}, "street"),
    ("/api/incidents", {"community": "1" * 40}, "community"),
    ("/dashboard/operator", {"max": "99999999999999999999"}, "max"),
    ("/dashboard/operator", {"max": "-1"}, "max"),
    ("/dashboard/operator", {"max": "1e3"}, "max"),
    ("/dashboard/operator", {"max": "１０"}, "max"),      # full-width digits: int() would take them
    ("/dashboard/operator", {"max": "1_0"}, "max"),       # so would it take an underscore
    ("/api/cameras/seeing", {"lon": "１０４.７７", "lat": "29.36"}, "lon"),
    ("/dashboard/operator", {"end": "9999-12-31"}, "end"),
    ("/dashboard/grid", {"grid": "abc"}, "grid"),
    ("/dashboard/grid", {"grid": "5103040020010011\x00"}, "grid"),
    ("/dashboard/grid", {"bbox": "1,1,1,1"}, "bbox"),
    # search, spots, planning
    ("/api/search", {"q": "a\x00b"}, "q"),
    ("/api/search", {"q": "\u202eabc"}, "q"),
    ("/api/search", {"q": "x" * 101}, "q"),
    ("/api/cameras/seeing", {"lon": "1e999", "lat": "29.3"}, "lon"),
    ("/api/cameras/seeing", {"lon": "104.7", "lat": "-inf"}, "lat"),
    ("/api/coverage/plan", {"k": "0"}, "k"),
    ("/api/coverage/plan", {"k": "99999999999999999999"}, "k"),
    ("/api/coverage/plan", {"k": "2.5"}, "k"),
    ("/dashboard/planner/coverage.exe", {}, "format"),
]


@pytest.mark.parametrize("path, query, field", BAD, ids=[f"{p}-{f}-{i}" for i, (p, _q, f) in enumerate(BAD)])
def test_a_bad_parameter_is_a_422_naming_it(client, lead_grid, path, query, field):
    login(client, "admin")  # admin may use every route
    r = client.get(path, query_string=query, headers={"Accept": "application/json"})
    assert r.status_code == 422, (r.status_code, r.get_data(as_text=True)[:500])
    body = r.get_json()
    assert body["error"] == "InvalidData" and field in {e["field"] for e in body["errors"]}, body


def test_every_bad_parameter_is_named_at_once(client, lead_grid):
    login(client, "operator")
    r = client.get("/api/incidents", query_string={"end": "9999-12-31", "bbox": "x", "state": "lost",
                                                   "since": "never"})
    assert r.status_code == 422
    assert {e["field"] for e in r.get_json()["errors"]} == {"end", "bbox", "state", "since"}


def test_an_impossible_incident_number_is_not_found(client, lead_grid):
    login(client, "operator")
    for iid in ("99999999999999999999", str(2**31)):
        r = client.get(f"/api/incidents/{iid}")
        assert r.status_code == 404 and r.is_json


def test_good_values_still_answer(client, lead_grid, demo_session):
    login(client, "operator")
    today = datetime.now(timezone.utc).date()
    since = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    for query in ({"start": "2010-01-01", "end": today.isoformat()}, {"since": since},
                  {"bbox": "104.5,29.2,105.0,29.6"}, {"state": ["all"], "category": ["dispute", "other"]},
                  {"end": (today + timedelta(days=300)).isoformat()}):
        r = client.get("/api/incidents", query_string=query)
        assert r.status_code == 200, (query, r.get_data(as_text=True)[:300])
    hits = client.get("/api/search", query_string={"q": "  5103040  "}).get_json()
    assert hits and all(h["kind"] in ("incident", "camera", "grid") for h in hits)


@pytest.mark.parametrize("tz, included", [("Asia/Shanghai", True), ("UTC", False)])
def test_a_date_filter_means_that_day_in_the_district(settings, demo_db, demo_session, lead_grid, tz, included):
    """An incident reported at 17:30 UTC on 1 May is on 2 May in Shanghai: ``start=end=2026-05-02``
    finds it with the Shanghai zone and not with UTC."""
    from app import create_app

    at = datetime(2026, 5, 1, 17, 30, tzinfo=timezone.utc)
    with demo_db.session() as s:
        iid = s.execute(text("UPDATE incidents SET reported_at = :t WHERE id = (SELECT min(id) FROM incidents) "
                             "RETURNING id"), {"t": at}).scalar()
    client = create_app(settings.replace(timezone=tz), database=demo_db).test_client()
    login(client, "operator")
    body = client.get("/api/incidents", query_string={"state": "all", "start": "2026-05-02",
                                                      "end": "2026-05-02"}).get_json()
    assert (iid in {f["properties"]["id"] for f in body["features"]}) is included


# -- yes-or-no values and JSON bodies (one reader each, shared by every area) ---------------------------
@pytest.mark.parametrize("value, want", [
    (True, True), (False, False), (1, True), (0, False), ("true", True), (" Yes ", True), ("ON", True),
    ("1", True), ("false", False), ("no", False), ("off", False), ("0", False),
])
def test_a_flag_reads_the_words_booleans_and_digits(value, want):
    from app.dashboards.params import Params, parse_flag

    assert parse_flag(value) is want
    p = Params({"f": value})
    assert p.flag("f") is want and p.errors == []


@pytest.mark.parametrize("value", ["maybe", 2, -1, 0.5, 1.0, [True], {"x": 1}, "truee", "y"])
def test_a_flag_refuses_anything_else_naming_it(value):
    from app.dashboards.params import Params, parse_flag

    with pytest.raises(ValueError):
        parse_flag(value)
    p = Params({"f": value})
    assert p.flag("f", default=False) is None and [e.field for e in p.errors] == ["f"]


def test_an_absent_or_blank_flag_is_its_default():
    from app.dashboards.params import Params

    p = Params({"blank": "  ", "none": None})
    assert p.flag("blank", default=False) is False and p.flag("none") is None and p.flag("absent", default=True)
    assert p.errors == []


def _writes(demo_db, grid: str) -> list[tuple[str, str]]:
    """(method, path) of every JSON write of the console, on objects of the demo district."""
    with demo_db.session() as s:
        one = lambda sql, **p: s.execute(text(sql), p).scalar()  # noqa: E731
        device = one("SELECT min(device_id) FROM cameras WHERE lifecycle = 'active'")
        member = one("SELECT min(member_id) FROM member_roles WHERE grid_code = :g", g=grid)
        category, programme = one("SELECT min(code) FROM categories"), one("SELECT min(code) FROM programmes")
    return [("POST", "/api/coverage/planned"), ("POST", f"/api/coverage/planned/{'5' * 20}/drop"),
            ("PATCH", f"/api/cameras/{device}"), ("POST", f"/api/cameras/{device}/status"),
            ("POST", f"/api/cameras/{device}/retire"), ("POST", "/api/cameras"),
            ("POST", "/api/members"), ("POST", f"/api/grids/{grid}/members"),
            ("PATCH", f"/api/grids/{grid}/members/{member}"), ("DELETE", f"/api/grids/{grid}/members/{member}"),
            ("POST", f"/api/grids/{grid}/members/{member}/move"),
            ("POST", "/api/reference/categories"), ("PATCH", f"/api/reference/categories/{category}"),
            ("PATCH", f"/api/reference/programme/{programme}")]


def test_every_json_write_refuses_a_body_that_is_no_json_object_naming_body(app, demo_db, lead_grid):
    """One reader (``app.web.json_body``): a JSON array, a form or no body at all is a 422 naming ``body``,
    whichever area the endpoint is in, and nothing is written."""
    client = app.test_client()
    login(client, "admin")
    token = csrf(client, "/dashboard/stats")
    with demo_db.session() as s:
        mark = s.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar()
    wrong = []
    for method, path in _writes(demo_db, lead_grid):
        for kind, body in (("array", {"data": "[1, 2]", "content_type": "application/json"}),
                           ("form", {"data": {"version": "1", "lon": "104.8"}}), ("nothing", {})):
            r = client.open(path, method=method, headers={"X-CSRF-Token": token, "Accept": "application/json"},
                            **body)
            fields = [e.get("field") for e in (r.get_json() or {}).get("errors", [])]
            if r.status_code != 422 or fields != ["body"]:
                wrong.append(f"{method} {path} ({kind}): {r.status_code} {fields}")
    assert wrong == [], "\n".join(wrong)
    with demo_db.session() as s:
        assert s.execute(text("SELECT count(*) FROM audit_log WHERE id > :m"), {"m": mark}).scalar() == 0
