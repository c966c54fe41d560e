"""Workflow actions a user hit (issue 11): a move takes the new spot, a comment needs its text, every
note is checked text, deadlines show in the district's zone, and one permission rule."""
from __future__ import annotations

import inspect
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from app.accounts.models import User
from app.incidents import service, workflow
from app.incidents.workflow import ACTIONS
from gis.errors import InvalidData
from tests.app.dash_helpers import csrf, lead_grid, login  # noqa: F401  (fixture)


def _version(iid) -> int:
    """The incident's version as a page would have shown it (read through the app's own database)."""
    from flask import current_app

    with current_app.extensions["gridwatch.db"].session() as s:
        return s.execute(text("SELECT version FROM incidents WHERE id = :i"), {"i": iid}).scalar()


def _post(client, iid, body, token):
    """POST an action as the detail panel does: with the incident's current version unless ``body`` is not
    a dict or names its own."""
    if isinstance(body, dict) and "version" not in body:
        with client.application.app_context():
            v = _version(iid)
        if v is not None:
            body = {**body, "version": v}
    return client.post(f"/api/incidents/{iid}/actions", json=body, headers={"X-CSRF-Token": token})


def _fields(r) -> set:
    return {e["field"] for e in r.get_json().get("errors", [])}


def _state(s, iid):
    return s.execute(text(
        "SELECT i.state, i.grid_code, i.community_code, ST_X(i.geom), ST_Y(i.geom), "
        "(SELECT count(*) FROM incident_events e WHERE e.incident_id = i.id) FROM incidents i WHERE i.id = :i"),
        {"i": iid}).one()


@pytest.fixture
def move_case(demo_session, lead_grid):
    """A reported incident of the lead's grid and an interior point of a neighbouring grid."""
    iid = demo_session.execute(text(
        "UPDATE incidents SET state = 'reported', duplicate_status = NULL, deadline = NULL WHERE id = "
        "(SELECT min(id) FROM incidents WHERE grid_code = :g) RETURNING id"), {"g": lead_grid}).scalar()
    demo_session.commit()  # the test's outer transaction still rolls it back
    code, community, x, y = demo_session.execute(text(
        "SELECT b.code, b.community_code, ST_X(ST_PointOnSurface(b.geom)), ST_Y(ST_PointOnSurface(b.geom)) "
        "FROM grids a JOIN grids b ON ST_Touches(a.geom, b.geom) AND b.code <> a.code WHERE a.code = :g "
        "ORDER BY b.code LIMIT 1"), {"g": lead_grid}).one()
    assert iid is not None
    return {"id": iid, "grid": code, "community": community, "lon": x, "lat": y}


def test_move_from_the_api_regeocodes_to_the_new_spot(client, move_case, demo_session):
    login(client, "operator")
    token = csrf(client, "/dashboard/stats")
    iid = move_case["id"]
    r = _post(client, iid, {"action": "move", "note": "wrong pin", "lon": move_case["lon"], "lat": move_case["lat"]},
              token)
    assert r.status_code == 200, r.get_data(as_text=True)
    state, grid, community, x, y, _n = _state(demo_session, iid)
    # an independent answer: the grid PostGIS says covers the spot
    want = demo_session.execute(text("SELECT code, community_code FROM grids WHERE ST_Covers(geom, "
                                     "ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
                                {"x": move_case["lon"], "y": move_case["lat"]}).one()
    assert (grid, community) == tuple(want) == (move_case["grid"], move_case["community"])
    assert (x, y) == pytest.approx((move_case["lon"], move_case["lat"]), abs=1e-9) and state == "reported"
    last = demo_session.execute(text("SELECT action, note FROM incident_events WHERE incident_id = :i "
                                     "ORDER BY id DESC LIMIT 1"), {"i": iid}).one()
    assert last[0] == "move" and "wrong pin" in last[1] and move_case["grid"] in last[1]


@pytest.mark.parametrize("body, fields", [
    ({"action": "move", "note": "why"}, {"lon", "lat"}),
    ({"action": "move", "note": "why", "lat": 29.3}, {"lon"}),
    ({"action": "move", "note": "why", "lon": "east", "lat": 29.3}, {"lon"}),
    ({"action": "move", "note": "why", "lon": "nan", "lat": 29.3}, {"lon"}),
    ({"action": "move", "note": "why", "lon": 110.0, "lat": 20.0}, {"location"}),  # outside every grid
    ({"action": "move", "lon": 104.75, "lat": 29.35}, {"note"}),                    # a move says why
])
def test_a_move_without_a_usable_spot_is_a_422_and_changes_nothing(client, move_case, demo_session, body, fields):
    login(client, "operator")
    before = _state(demo_session, move_case["id"])
    r = _post(client, move_case["id"], body, csrf(client, "/dashboard/stats"))
    assert r.status_code == 422, r.get_data(as_text=True)
    assert _fields(r) == fields
    demo_session.expire_all()
    assert _state(demo_session, move_case["id"]) == before


def test_a_move_on_an_amap_basemap_takes_gcj02_coordinates(settings, demo_db, demo_session, move_case):
    """The page sends the spot in display coordinates; on Amap those are GCJ-02, stored as WGS-84."""
    from app import create_app
    from gis.crs import wgs84_to_gcj02

    client = create_app(settings.replace(basemap="amap"), database=demo_db).test_client()
    login(client, "operator")
    gx, gy = wgs84_to_gcj02(move_case["lon"], move_case["lat"])
    assert abs(float(gx) - move_case["lon"]) > 1e-3  # the shift is real here
    r = _post(client, move_case["id"], {"action": "move", "note": "amap", "lon": float(gx), "lat": float(gy)},
              csrf(client, "/dashboard/stats"))
    assert r.status_code == 200, r.get_data(as_text=True)
    _s, grid, _c, x, y, _n = _state(demo_session, move_case["id"])
    assert abs(x - move_case["lon"]) < 1e-5 and abs(y - move_case["lat"]) < 1e-5 and grid == move_case["grid"]


def test_move_through_transition_without_a_spot_names_lon_and_lat(demo_session, move_case):
    user = demo_session.execute(text("SELECT id FROM users WHERE username = 'operator'")).scalar()
    op = demo_session.get(User, user)
    with pytest.raises(InvalidData) as err:
        service.transition(demo_session, move_case["id"], "move", op, "why")  # was KeyError: 'lon'
    assert {e.field for e in err.value.errors} == {"lon", "lat"}


@pytest.mark.parametrize("note, reason", [(None, "needs its text"), ("", "needs its text"),
                                          ("  \n\t ", "needs its text"), ("a\x00b", "U+0000"),
                                          ("\u202egnp.exe", "U+202E"), (["x"], "must be text"), (7, "must be text")])
def test_a_comment_needs_checked_text(client, move_case, demo_session, note, reason):
    login(client, "operator")
    before = _state(demo_session, move_case["id"])
    r = _post(client, move_case["id"], {"action": "comment", "note": note}, csrf(client, "/dashboard/stats"))
    assert r.status_code == 422 and _fields(r) == {"note"} and reason in r.get_data(as_text=True)
    demo_session.expire_all()
    assert _state(demo_session, move_case["id"]) == before


def test_a_comment_with_text_is_recorded_stripped(client, move_case, demo_session):
    login(client, "operator")
    r = _post(client, move_case["id"], {"action": "comment", "note": "  called the reporter\nno answer "},
              csrf(client, "/dashboard/stats"))
    assert r.status_code == 200
    note = demo_session.execute(text("SELECT note FROM incident_events WHERE incident_id = :i AND action = 'comment' "
                                     "ORDER BY id DESC LIMIT 1"), {"i": move_case["id"]}).scalar()
    assert note == "called the reporter\nno answer"


def test_every_actions_note_is_checked(demo_session, move_case):
    """Not only comments: a NUL or a bidi override in any action's note is refused, nothing changes."""
    op = demo_session.get(User, demo_session.execute(text("SELECT id FROM users WHERE username = 'operator'")).scalar())
    for action, note in (("accept", "ok\x00"), ("void", "\u2067x"), ("accept", "\x1b[31m")):
        with pytest.raises(InvalidData) as err:
            service.transition(demo_session, move_case["id"], action, op, note)
        assert [e.field for e in err.value.errors] == ["note"]
        assert _state(demo_session, move_case["id"])[0] == "reported"
    service.transition(demo_session, move_case["id"], "accept", op, "line one\nline two\tok")
    assert _state(demo_session, move_case["id"])[0] == "accepted"


def test_unknown_or_missing_action_is_a_422_naming_action(client, move_case):
    login(client, "operator")
    token = csrf(client, "/dashboard/stats")
    for body in ({"note": "x"}, {"action": "fly"}, {"action": ["accept"]}, ["accept"]):
        r = _post(client, move_case["id"], body, token)
        assert r.status_code == 422 and "action" in _fields(r), (body, r.get_data(as_text=True))
    r = _post(client, move_case["id"], {"action": "accept", "member_id": "nobody"}, token)
    assert r.status_code == 422 and _fields(r) == {"member_id"}
    r = client.post("/api/incidents/99999999999999999999/actions", json={"action": "accept", "version": 1},
                    headers={"X-CSRF-Token": token})
    assert r.status_code == 404


# -- deadlines in the district's zone -----------------------------------------------------------------
DEADLINE = datetime(2026, 5, 1, 7, 7, tzinfo=timezone.utc)


@pytest.mark.parametrize("tz, shown", [("Asia/Shanghai", "2026-05-01 15:07"), ("UTC", "2026-05-01 07:07")])
def test_grid_lead_table_and_detail_show_the_deadline_in_the_district_zone(settings, demo_db, lead_grid, tz, shown):
    import re

    from app import create_app

    with demo_db.session() as s:
        iid = s.execute(text(
            "UPDATE incidents SET state = 'dispatched', deadline = :d WHERE id = (SELECT min(id) FROM incidents "
            "WHERE grid_code = :g) RETURNING id"), {"d": DEADLINE, "g": lead_grid}).scalar()
    client = create_app(settings.replace(timezone=tz), database=demo_db).test_client()
    login(client, "lead")
    html = client.get("/dashboard/grid?max=10").get_data(as_text=True)
    row = re.search(rf'<tr[^>]*data-incident="{iid}">(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    assert cells[3].startswith(shown), cells[3]
    detail = client.get(f"/api/incidents/{iid}").get_json()["incident"]["deadline"]
    assert detail[:16].replace("T", " ") == shown  # the panel's text is the table's


def test_localtime_filter_is_the_one_time_format(app):
    from flask import render_template_string

    with app.test_request_context():
        assert render_template_string("{{ t|localtime }}", t=DEADLINE) == "2026-05-01 15:07"
        assert render_template_string("{{ t|localtime }}", t=None) == "—"
    from pathlib import Path

    templates = Path(__file__).resolve().parents[2] / "app" / "templates"
    for path in templates.rglob("*.html"):
        assert "strftime" not in path.read_text(), f"{path.name} formats a time itself; use |localtime"


# -- one permission rule -----------------------------------------------------------------------------
def test_one_permission_rule(demo_session, move_case, lead_grid):
    """allowed_actions is exactly the actions refusal() lets through, and workflow holds data, not the rule."""
    assert "import" not in inspect.getsource(workflow).replace("from app.incidents.models import", "") \
        .replace("from __future__ import", "")
    assert not hasattr(workflow, "allowed_actions")
    inc = demo_session.get(service.Incident, move_case["id"])
    users = demo_session.scalars(text("SELECT id FROM users")).all()
    for uid in users:
        user = demo_session.get(User, uid)
        got = service.allowed_actions(inc, user)
        assert got == [a for a in ACTIONS if service.refusal(inc, a, user) is None]
        for action in ACTIONS:
            problem = service.refusal(inc, action, user)
            assert (problem is None) == (action in got)


@pytest.mark.parametrize("next_", ["//evil.example/x", "/\\evil.example", "/\t/evil.example", "https://evil.example/",
                                   "/dashboard/grid\r\nSet-Cookie: x=1"])
def test_a_form_post_of_an_action_takes_its_note_and_version_and_stays_on_site(client, lead_grid, demo_session,
                                                                                 next_):
    """A page without scripts may post a plain form (fields csrf_token, action, version, note, next)."""
    iid, version = demo_session.execute(text(
        "UPDATE incidents SET state = 'dispatched' WHERE id = (SELECT min(id) FROM incidents WHERE grid_code = :g) "
        "RETURNING id, version"), {"g": lead_grid}).one()
    demo_session.commit()
    login(client, "lead")
    r = client.post(f"/api/incidents/{iid}/actions", data={"action": "comment", "note": "checked on site",
                                                           "csrf_token": csrf(client, "/dashboard/stats"),
                                                           "version": str(version), "next": next_})
    # on site, by the log-in's rule: a bad target goes to the grid page, a CR/LF one is only cleaned of them
    where = r.headers["Location"].removeprefix("http://localhost")
    assert r.status_code == 302 and where.startswith("/dashboard/grid") and not where.startswith("//")
    assert "\r" not in where and "\n" not in where and "evil" not in where
    assert demo_session.execute(text("SELECT note FROM incident_events WHERE incident_id = :i ORDER BY id DESC "
                                     "LIMIT 1"), {"i": iid}).scalar() == "checked on site"
