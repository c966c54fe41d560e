"""Every action of the loop over HTTP, as the detail panel takes it (issue 12): for every role in every state
the answer is what ``permissions.actions_for`` says (the oracle), each action carries the incident's version
(a stale one is 409 and changes nothing), the notes ``workflow.ACTION_RULES`` requires, dispatch and reassign
to a chosen member of the grid, after-photos with resolve in the same transaction, and the timeline's system
notes in the reader's language."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import text

from app.accounts.models import User
from app.incidents import permissions, workflow
from app.incidents.models import STATES, Incident
from tests.app.dash_helpers import csrf, lead_grid, login  # noqa: F401  (fixture)

ROLES = ("member", "lead", "operator", "admin", "planner")


def _post(client, iid, body, token, **kw):
    return client.post(f"/api/incidents/{iid}/actions", json=body, headers={"X-CSRF-Token": token}, **kw)


def _post_form(client, iid, data):
    """A multipart action (the panel's form with photos), CSRF token from a page, JSON answer."""
    return client.post(f"/api/incidents/{iid}/actions", data=data, content_type="multipart/form-data",
                       headers={"X-CSRF-Token": csrf(client, "/dashboard/stats"), "Accept": "application/json"})


def _fields(r) -> set:
    return {e["field"] for e in (r.get_json() or {}).get("errors", [])}


def _row(s, iid):
    """What an action may change: state, version, assignee, grid, duplicate flag, number of events."""
    s.expire_all()
    return s.execute(text(
        "SELECT state, version, assignee_id, grid_code, duplicate_status, "
        "(SELECT count(*) FROM incident_events e WHERE e.incident_id = i.id) FROM incidents i WHERE id = :i"),
        {"i": iid}).one()


def _user(s, name) -> User:
    return s.get(User, s.execute(text("SELECT id FROM users WHERE username = :u"), {"u": name}).scalar())


@pytest.fixture
def loop(demo_session, lead_grid):
    """An incident of the lead's grid (which the member works in too), a second one it may duplicate, an
    interior point of the grid, the grid's lead and the demo member's member id, and a member of no role in
    the grid."""
    s = demo_session
    iid, other = s.execute(text("SELECT min(id), max(id) FROM incidents WHERE grid_code = :g"), {"g": lead_grid}).one()
    x, y = s.execute(text("SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM grids "
                          "WHERE code = :g"), {"g": lead_grid}).one()
    lead = s.execute(text("SELECT member_id FROM member_roles WHERE grid_code = :g AND role = 'lead'"),
                     {"g": lead_grid}).scalar()
    member = s.execute(text("SELECT member_id FROM users WHERE username = 'member'")).scalar()
    outsider = s.execute(text("SELECT min(id) FROM members m WHERE NOT EXISTS (SELECT 1 FROM member_roles r "
                              "WHERE r.member_id = m.id AND r.grid_code = :g)"), {"g": lead_grid}).scalar()
    assert iid != other and lead and member and member != lead and outsider
    return {"id": iid, "other": other, "grid": lead_grid, "lon": x, "lat": y, "lead": lead, "member": member,
            "outsider": outsider}


def _set(s, loop, state, *, suspected=False, resolver="member"):
    """Put the incident in ``state`` (flagged as a suspected duplicate of the other one when asked; when
    resolved or closed, ``resolver`` wrote its last resolve); returns its version."""
    iid = loop["id"]
    s.execute(text("DELETE FROM incident_events WHERE incident_id = :i AND action = 'resolve'"), {"i": iid})
    if state in ("resolved", "closed"):
        s.execute(text("INSERT INTO incident_events (incident_id, actor, action, from_state, to_state, at) "
                       "VALUES (:i, :a, 'resolve', 'in_progress', 'resolved', now())"), {"i": iid, "a": resolver})
    version = s.execute(text(
        "UPDATE incidents SET state = :st, grid_code = :g, duplicate_of_id = :d, duplicate_status = :ds, "
        "assignee_id = :lead, deadline = now() + interval '1 day', version = version + 1 WHERE id = :i "
        "RETURNING version"),
        {"st": state, "g": loop["grid"], "d": loop["other"] if suspected else None,
         "ds": "suspected" if suspected else None, "lead": loop["lead"], "i": iid}).scalar()
    s.commit()  # the test's outer transaction still rolls it back
    return version


def _body(action, version, loop, **extra):
    """What the detail panel sends for ``action``: the version, a note, the member, the spot."""
    body = {"action": action, "version": version, "note": "seen to"}
    if action in ("dispatch", "reassign"):
        body["member_id"] = loop["member"]
    if action == "move":
        body.update(lon=loop["lon"], lat=loop["lat"])
    return {**body, **extra}


@pytest.mark.parametrize("account", ROLES)
def test_each_role_takes_exactly_the_actions_the_rule_gives_it_in_every_state(client, demo_session, loop, account):
    s = demo_session
    login(client, account)
    token = csrf(client, "/dashboard/stats")
    user = _user(s, account)
    taken = set()
    for state in STATES:
        for action in workflow.ACTIONS:
            version = _set(s, loop, state, suspected=action in workflow.NEEDS_SUSPECTED_DUPLICATE)
            allowed = action in permissions.actions_for(s, user, [s.get(Incident, loop["id"])])[loop["id"]]
            before = _row(s, loop["id"])
            r = _post(client, loop["id"], _body(action, version, loop), token)
            after = _row(s, loop["id"])
            if allowed:
                assert r.status_code == 200, (state, action, r.get_data(as_text=True))
                assert r.get_json() == {"id": loop["id"], "state": after[0], "version": after[1]}
                assert after[0] == workflow.next_state(state, action) and after[1] == before[1] + 1
                assert after[5] == before[5] + 1  # one event, the action's
                taken.add(action)
            else:
                assert r.status_code in (403, 409), (state, action, r.get_data(as_text=True))
                assert after == before, (state, action)
    # the role table as the issue states it, independently of the rule's code
    expected = {"member": {"start", "resolve", "comment"}, "lead": {"start", "resolve", "comment", "reassign"},
                "operator": set(workflow.ACTIONS) - {"start", "resolve"}, "admin": set(workflow.ACTIONS),
                "planner": set()}[account]
    assert taken == expected


def test_the_check_is_never_by_whoever_resolved(client, demo_session, loop):
    login(client, "admin")
    token = csrf(client, "/dashboard/stats")
    for action in sorted(permissions.CHECK_ACTIONS):
        version = _set(demo_session, loop, "resolved", resolver="admin")
        before = _row(demo_session, loop["id"])
        r = _post(client, loop["id"], _body(action, version, loop), token)
        assert r.status_code == 403 and "someone" in r.get_json()["message"]
        assert _row(demo_session, loop["id"]) == before


def test_two_pages_act_on_one_version_one_wins_the_other_gets_409_and_changes_nothing(app, demo_session, loop):
    first, second = app.test_client(), app.test_client()
    login(first, "operator")
    login(second, "admin")
    version = _set(demo_session, loop, "reported")
    shown = [c.get(f"/api/incidents/{loop['id']}").get_json()["incident"]["version"] for c in (first, second)]
    assert shown == [version, version]  # both pages show the same version
    r = _post(first, loop["id"], _body("accept", version, loop), csrf(first, "/dashboard/stats"))
    assert r.status_code == 200 and r.get_json()["version"] == version + 1
    won = _row(demo_session, loop["id"])
    token = csrf(second, "/dashboard/stats")
    for action in ("void", "comment", "move"):  # legal or not now, a stale page is told to reload
        r = _post(second, loop["id"], _body(action, version, loop), token)
        assert r.status_code == 409 and "reload" in r.get_json()["message"], r.get_data(as_text=True)
        assert _row(demo_session, loop["id"]) == won
    # reloaded, the second page acts on what is there now
    fresh = second.get(f"/api/incidents/{loop['id']}").get_json()
    assert fresh["incident"]["version"] == version + 1 and "dispatch" in fresh["actions"]
    r = _post(second, loop["id"], _body("dispatch", fresh["incident"]["version"], loop), token)
    assert r.status_code == 200 and r.get_json()["state"] == "dispatched"


@pytest.mark.parametrize("body, field", [({"action": "comment", "note": "x"}, "version"),
                                         ({"action": "comment", "note": "x", "version": "two"}, "version"),
                                         ({"action": "comment", "note": "x", "version": 0}, "version"),
                                         ({"action": "comment", "note": "x", "version": True}, "version")])
def test_an_action_without_a_usable_version_is_a_422_naming_it(client, demo_session, loop, body, field):
    login(client, "operator")
    _set(demo_session, loop, "reported")
    before = _row(demo_session, loop["id"])
    r = _post(client, loop["id"], body, csrf(client, "/dashboard/stats"))
    assert r.status_code == 422 and _fields(r) == {field}, r.get_data(as_text=True)
    assert _row(demo_session, loop["id"]) == before


@pytest.mark.parametrize("action, state, account", [
    ("void", "reported", "operator"), ("resolve", "in_progress", "member"), ("fail_check", "resolved", "operator"),
    ("move", "dispatched", "operator"), ("comment", "dispatched", "lead")])
@pytest.mark.parametrize("note", [None, "", "   \n "])
def test_the_actions_that_need_a_note_refuse_none(client, demo_session, loop, action, state, account, note):
    assert workflow.note_required(action)  # the table the service and the page read
    login(client, account)
    version = _set(demo_session, loop, state)
    before = _row(demo_session, loop["id"])
    r = _post(client, loop["id"], _body(action, version, loop, note=note), csrf(client, "/dashboard/stats"))
    assert r.status_code == 422 and _fields(r) == {"note"}, r.get_data(as_text=True)
    assert workflow.note_required(action) in r.get_json()["message"]
    assert _row(demo_session, loop["id"]) == before


def test_notes_are_required_exactly_where_the_table_says():
    assert {a for a in workflow.ACTIONS if workflow.note_required(a)} == \
        {"void", "resolve", "fail_check", "move", "comment"}
    assert set(workflow.ACTION_RULES) == set(workflow.ACTIONS)


def test_the_assignees_are_the_grids_members_lead_first(client, demo_session, loop):
    login(client, "lead")
    out = client.get(f"/api/incidents/{loop['id']}/assignees").get_json()
    want = demo_session.execute(text(
        "SELECT m.id, m.name, array_agg(r.role ORDER BY r.role) FROM member_roles r JOIN members m ON m.id = r.member_id "
        "WHERE r.grid_code = :g AND m.active GROUP BY m.id, m.name"), {"g": loop["grid"]}).all()
    assert {(m["id"], m["name"], tuple(m["roles"])) for m in out["members"]} == {(i, n, tuple(r)) for i, n, r in want}
    assert out["default"] == loop["lead"] == out["members"][0]["id"] and out["members"][0]["lead"]
    assert out["grid"] == loop["grid"] and len(out["members"]) >= 2
    other = demo_session.execute(text("SELECT min(id) FROM incidents WHERE grid_code <> :g"), {"g": loop["grid"]}).scalar()
    assert client.get(f"/api/incidents/{other}/assignees").status_code == 404  # not their grid: does not exist
    login(client, "member")
    assert client.get(f"/api/incidents/{loop['id']}/assignees").status_code == 403  # a member assigns nobody
    login(client, "planner")
    assert client.get(f"/api/incidents/{loop['id']}/assignees").status_code == 403


def test_dispatch_to_a_chosen_member_names_them_in_both_languages(client, demo_session, loop):
    login(client, "operator")
    version = _set(demo_session, loop, "accepted")
    r = _post(client, loop["id"], {"action": "dispatch", "version": version, "member_id": loop["member"]},
              csrf(client, "/dashboard/stats"))
    assert r.status_code == 200 and _row(demo_session, loop["id"])[2] == loop["member"]
    name = demo_session.execute(text("SELECT name FROM members WHERE id = :m"), {"m": loop["member"]}).scalar()
    zh = client.get(f"/api/incidents/{loop['id']}?lang=zh").get_json()
    en = client.get(f"/api/incidents/{loop['id']}?lang=en").get_json()
    assert zh["timeline"][-1]["note"] == f"派给 {name}" and en["timeline"][-1]["note"] == f"to {name}"
    assert zh["incident"]["assignee"] == name and zh["incident"]["assignee_id"] == loop["member"]
    stored = demo_session.execute(text("SELECT note, note_key, note_args FROM incident_events WHERE incident_id = :i "
                                       "ORDER BY id DESC LIMIT 1"), {"i": loop["id"]}).one()
    assert stored == (f"派给 {name}", "loop_note_to_member", {"member": name, "member_id": loop["member"]})


def test_a_lead_reassigns_only_within_the_incidents_grid(client, demo_session, loop):
    login(client, "lead")
    token = csrf(client, "/dashboard/stats")
    version = _set(demo_session, loop, "dispatched")
    before = _row(demo_session, loop["id"])
    r = _post(client, loop["id"], _body("reassign", version, loop, member_id=loop["outsider"]), token)
    assert r.status_code == 403 and "not an active member of grid" in r.get_json()["message"]
    assert _row(demo_session, loop["id"]) == before
    r = _post(client, loop["id"], _body("reassign", version, loop, member_id=loop["member"]), token)
    assert r.status_code == 200 and _row(demo_session, loop["id"])[2] == loop["member"]
    # nor the operator: a member outside the grid could neither see nor take it (it would stall)
    login(client, "operator")
    before = _row(demo_session, loop["id"])
    r = _post(client, loop["id"], _body("reassign", before[1], loop, member_id=loop["outsider"]),
              csrf(client, "/dashboard/stats"))
    assert r.status_code == 403 and "not an active member of grid" in r.get_json()["message"]
    assert _row(demo_session, loop["id"]) == before


def _jpeg(colour=(200, 30, 30)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG")
    return out.getvalue()


def test_resolve_with_after_photos_in_one_request(client, demo_session, loop):
    login(client, "member")
    version = _set(demo_session, loop, "in_progress")
    r = _post_form(client, loop['id'], {"action": "resolve", "version": str(version), "note": "swept and washed",
                          "photos": [(io.BytesIO(_jpeg()), "after-1.jpg"), (io.BytesIO(_jpeg((0, 90, 0))), "after-2.jpg")]})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["state"] == "resolved"
    detail = client.get(f"/api/incidents/{loop['id']}").get_json()
    after = detail["photos"]["after"]
    assert len(after) == 2 and detail["photos"]["before"] == []
    stored = demo_session.execute(text("SELECT p.id, e.action, e.note FROM incident_photos p JOIN incident_events e "
                                       "ON e.id = p.event_id WHERE p.incident_id = :i ORDER BY p.id"),
                                  {"i": loop["id"]}).all()
    assert [(a, n) for _id, a, n in stored] == [("resolve", "swept and washed")] * 2
    event = detail["timeline"][-1]
    assert event["action"] == "resolve" and [p["id"] for p in event["photos"]] == [p[0] for p in stored]
    thumb = client.get(after[0]["thumb_url"])
    assert thumb.status_code == 200 and thumb.mimetype.startswith("image/")


def test_a_bad_photo_leaves_the_incident_unresolved(client, demo_session, loop):
    login(client, "member")
    version = _set(demo_session, loop, "in_progress")
    before = _row(demo_session, loop["id"])
    r = _post_form(client, loop['id'], {"action": "resolve", "version": str(version), "note": "done",
                          "photos": [(io.BytesIO(_jpeg()), "ok.jpg"), (io.BytesIO(b"not an image"), "x.jpg")]})
    assert r.status_code == 422 and _fields(r) == {"photos[1]"}, r.get_data(as_text=True)
    assert _row(demo_session, loop["id"]) == before
    assert demo_session.execute(text("SELECT count(*) FROM incident_photos WHERE incident_id = :i"),
                                {"i": loop["id"]}).scalar() == 0


def test_photos_come_only_with_resolve(client, demo_session, loop):
    login(client, "member")
    version = _set(demo_session, loop, "dispatched")
    before = _row(demo_session, loop["id"])
    r = _post_form(client, loop['id'], {"action": "start", "version": str(version), "photos": [(io.BytesIO(_jpeg()), "a.jpg")]})
    assert r.status_code == 422 and _fields(r) == {"photos"}
    assert _row(demo_session, loop["id"]) == before


def test_system_notes_of_a_move_and_a_duplicate_read_in_the_readers_language(client, demo_session, loop):
    from app.incidents import service
    from tests.settings import TEST_SETTINGS

    s = demo_session
    # a move into the neighbouring grid re-dispatches to its lead
    nx, ny, grid2 = s.execute(text(
        "SELECT ST_X(ST_PointOnSurface(b.geom)), ST_Y(ST_PointOnSurface(b.geom)), b.code FROM grids a JOIN grids b "
        "ON ST_Touches(a.geom, b.geom) AND b.code <> a.code WHERE a.code = :g AND EXISTS (SELECT 1 FROM member_roles "
        "r WHERE r.grid_code = b.code AND r.role = 'lead') ORDER BY b.code LIMIT 1"), {"g": loop["grid"]}).one()
    lead2 = s.execute(text("SELECT m.id, m.name FROM member_roles r JOIN members m ON m.id = r.member_id "
                           "WHERE r.grid_code = :g AND r.role = 'lead'"), {"g": grid2}).one()
    login(client, "operator")
    version = _set(s, loop, "dispatched")
    r = _post(client, loop["id"], _body("move", version, loop, lon=nx, lat=ny, note="wrong street"),
              csrf(client, "/dashboard/stats"))
    assert r.status_code == 200 and r.get_json()["version"] == version + 2  # the move and the re-dispatch
    zh = client.get(f"/api/incidents/{loop['id']}?lang=zh").get_json()["timeline"][-2:]
    en = client.get(f"/api/incidents/{loop['id']}?lang=en").get_json()["timeline"][-2:]
    assert [e["action"] for e in en] == ["move", "dispatch"]
    assert en[0]["note"] == f"wrong street (grid {loop['grid']} → {grid2})"
    assert zh[0]["note"] == f"wrong street（网格 {loop['grid']} → {grid2}）"
    assert en[1]["note"] == f"re-dispatched to {lead2[1]}, lead of grid {grid2}, after the move"
    assert zh[1]["note"] == f"移动后重新派给网格 {grid2} 的网格长 {lead2[1]}"
    # a report near an open one of its category is flagged: the note names the other by its number
    first = service.report_incident(s, category="city_appearance", source="patrol", description="a", lon=nx, lat=ny,
                                    actor="t", settings=TEST_SETTINGS)
    again = service.report_incident(s, category="city_appearance", source="patrol", description="b", lon=nx, lat=ny,
                                     actor="t", settings=TEST_SETTINGS)
    s.commit()
    no = first.external_id or str(first.id)
    assert again.duplicate_of_id == first.id
    zh = client.get(f"/api/incidents/{again.id}?lang=zh").get_json()
    en = client.get(f"/api/incidents/{again.id}?lang=en").get_json()
    assert zh["timeline"][0]["note"] == f"疑似与事件 {no} 重复"
    assert en["timeline"][0]["note"] == f"suspected duplicate of incident {no}"
    assert en["incident"]["duplicate_of_id"] == first.id and en["incident"]["duplicate_of_no"] == no
    assert "confirm_duplicate" in en["actions"] and "reject_duplicate" in en["actions"]


def test_a_note_key_without_its_values_falls_back_to_the_stored_text():
    from app.dashboards.details import note_text

    assert note_text("loop_note_to_member", {}, "派给 某人", "en") == "派给 某人"
    assert note_text("no_such_key", {"a": 1}, "as written", "en") == "as written"
    assert note_text(None, None, "a person's words", "zh") == "a person's words"
    assert note_text("loop_note_to_member", {"member": "王五"}, "x", "en") == "to 王五"
