"""Work orders (工单): the command centre's list against oracles (a brute-force sort in Python over the
same rows, filters as plain SQL), its counts, the bulk actions (all or nothing, stale 409, refusals),
scoping, and the due-soon/overdue badges."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from app.accounts.models import User
from app.incidents.models import OPEN_STATES, SOURCES
from app.workorders import service
from tests.app.dash_helpers import csrf, lead_grid, login  # noqa: F401  (fixture)
from tests.settings import TEST_SETTINGS

HOURS = TEST_SETTINGS.due_soon_hours


def _user(s, name: str) -> User:
    return s.get(User, s.execute(text("SELECT id FROM users WHERE username = :u"), {"u": name}).scalar())


@pytest.fixture
def spread(demo_session, lead_grid):
    """Every open incident gets a deadline spread around the database's now (some none, some equal: ties),
    and a few more open incidents are made in the lead's grid; returns now."""
    s = demo_session
    now = s.execute(text("SELECT now()")).scalar()
    # reopen some closed ones across states so there are enough rows of each kind
    s.execute(text(
        "UPDATE incidents SET state = (ARRAY['reported','accepted','dispatched','in_progress','resolved'])"
        "[1 + id % 5], closed_at = NULL WHERE id IN (SELECT id FROM incidents WHERE state = 'closed' "
        "ORDER BY id LIMIT 120)"))
    s.execute(text("UPDATE incidents SET state = 'dispatched', closed_at = NULL WHERE id IN (SELECT id FROM incidents "
                   "WHERE state = 'closed' AND grid_code = :g ORDER BY id LIMIT 6)"), {"g": lead_grid})
    s.execute(text(
        "UPDATE incidents SET deadline = CASE WHEN state IN ('reported', 'accepted') OR id % 7 = 0 THEN NULL "
        "ELSE CAST(:now AS timestamptz) + ((id % 13) - 6) * interval '1 hour' END "
        "WHERE state = ANY(:open)"), {"now": now, "open": list(OPEN_STATES)})
    s.commit()  # the test's outer transaction still rolls it back
    return now


def _oracle_rows(s, where: str = "TRUE", args=None):
    return s.execute(text(
        "SELECT i.id, i.state, i.deadline, i.reported_at, i.grid_code, i.source, i.category_code, "
        "i.community_code FROM incidents i WHERE i.state = ANY(:open) AND " + where),
        {"open": list(OPEN_STATES), **(args or {})}).all()


def _oracle_order(rows, now):
    """The list's order, brute force: overdue (deadline passed) first, then due within HOURS, then the rest;
    each by deadline (none last), then reported time, then id."""
    def rank(r):
        if r.deadline is not None and r.deadline < now:
            return 0
        if r.deadline is not None and r.deadline < now + timedelta(hours=HOURS):
            return 1
        return 2
    far = now + timedelta(days=100000)
    return [r.id for r in sorted(rows, key=lambda r: (rank(r), r.deadline or far, r.reported_at, r.id))]


def _list(s, user, flt=None, grids=None, **kw):
    return service.list_work_orders(s, user, flt or service.WorkOrderFilter(), grids, due_soon_hours=HOURS,
                                    basemap="none", tz=TEST_SETTINGS.timezone, **kw)


def _all_ids(s, user, flt=None, grids=None):
    out, offset = [], 0
    while True:
        page = _list(s, user, flt, grids, limit=37, offset=offset)  # pages that do not divide the total
        out += [r["id"] for r in page["rows"]]
        if len(page["rows"]) < 37:
            return out, page
        offset += 37


def test_order_is_overdue_first_then_due_soon_like_a_brute_force_sort(demo_session, spread):
    op = _user(demo_session, "operator")
    got, last_page = _all_ids(demo_session, op)
    want = _oracle_order(_oracle_rows(demo_session), spread)
    assert got == want
    assert len(got) > 100 and last_page["total"] == len(want)
    # the sort had all three kinds and ties in deadline to break
    page = _list(demo_session, op, limit=service.PAGE_MAX)
    kinds = {(r["overdue"], r["due_soon"]) for r in page["rows"]}
    assert kinds == {(True, False), (False, True), (False, False)}
    deadlines = [r["deadline"] for r in page["rows"] if r["deadline"]]
    assert len(deadlines) > len(set(deadlines))


def test_flags_and_totals_agree_with_plain_sql(demo_session, spread):
    s, op = demo_session, _user(demo_session, "operator")
    page = _list(s, op, limit=service.PAGE_MAX)
    late = set(s.execute(text("SELECT id FROM incidents WHERE state = ANY(:o) AND deadline < now()"),
                         {"o": list(OPEN_STATES)}).scalars())
    soon = set(s.execute(text("SELECT id FROM incidents WHERE state = ANY(:o) AND deadline >= now() AND "
                              "deadline < now() + make_interval(secs => :h * 3600)"),
                         {"o": list(OPEN_STATES), "h": HOURS}).scalars())
    assert page["overdue"] == len(late) and page["due_soon"] == len(soon) and late and soon
    for r in page["rows"]:
        assert r["overdue"] == (r["id"] in late) and r["due_soon"] == (r["id"] in soon)
    assert page["total"] == s.execute(text("SELECT count(*) FROM incidents WHERE state = ANY(:o)"),
                                      {"o": list(OPEN_STATES)}).scalar()


def test_rows_carry_names_versions_positions_and_actions(demo_session, spread):
    s, op = demo_session, _user(demo_session, "operator")
    page = _list(s, op, limit=service.PAGE_MAX)
    want = {r.id: r for r in s.execute(text(
        "SELECT i.id, coalesce(i.external_id, i.id::text) AS no, c.name_zh, g.name AS grid_name, st.name AS street, "
        "m.name AS assignee, i.version, ST_X(i.geom) AS x, ST_Y(i.geom) AS y FROM incidents i "
        "JOIN categories c ON c.code = i.category_code LEFT JOIN grids g ON g.code = i.grid_code "
        "LEFT JOIN streets st ON st.code = left(i.community_code, 9) LEFT JOIN members m ON m.id = i.assignee_id "
        "WHERE i.state = ANY(:o)"), {"o": list(OPEN_STATES)})}
    from app.incidents import permissions
    from app.incidents.service import get_incident

    for r in page["rows"]:
        w = want[r["id"]]
        assert (r["no"], r["category"], r["grid_name"], r["street_name"], r["assignee"], r["version"]) == \
            (w.no, w.name_zh, w.grid_name, w.street, w.assignee, w.version)
        assert (r["lon"], r["lat"]) == pytest.approx((w.x, w.y), abs=1e-6)
    # actions: the one rule, asked one incident at a time, agrees with the batch the list used
    for r in page["rows"][:40]:
        assert r["actions"] == permissions.actions_for(s, op, [get_incident(s, r["id"])])[r["id"]]
    assert any("accept" in r["actions"] for r in page["rows"]) and any("dispatch" in r["actions"] for r in page["rows"])


def test_positions_are_display_coordinates_on_an_amap_basemap(demo_session, spread):
    from gis.crs import wgs84_to_gcj02

    s, op = demo_session, _user(demo_session, "operator")
    wgs = _list(s, op, limit=5)["rows"]
    amap = service.list_work_orders(s, op, service.WorkOrderFilter(), None, due_soon_hours=HOURS, basemap="amap",
                                    tz=TEST_SETTINGS.timezone, limit=5)["rows"]
    for a, b in zip(wgs, amap):
        gx, gy = wgs84_to_gcj02(a["lon"], a["lat"])
        assert (b["lon"], b["lat"]) == pytest.approx((float(gx), float(gy)), abs=1e-6)
        assert abs(b["lon"] - a["lon"]) > 1e-4


def _filters(s):
    street, grid = s.execute(text("SELECT left(community_code, 9), grid_code FROM incidents WHERE state = ANY(:o) "
                                  "GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1"), {"o": list(OPEN_STATES)}).one()
    cats = s.execute(text("SELECT category_code FROM incidents WHERE state = ANY(:o) GROUP BY 1 ORDER BY count(*) "
                          "DESC LIMIT 2"), {"o": list(OPEN_STATES)}).scalars().all()
    return [
        (service.WorkOrderFilter(states=["dispatched", "resolved"]), "state IN ('dispatched', 'resolved')", {}),
        (service.WorkOrderFilter(grid=grid), "grid_code = :g", {"g": grid}),
        (service.WorkOrderFilter(street=street), "left(community_code, 9) = :st", {"st": street}),
        (service.WorkOrderFilter(categories=cats), "category_code = ANY(:c)", {"c": cats}),
        (service.WorkOrderFilter(sources=["patrol", "hotline"]), "source IN ('patrol', 'hotline')", {}),
        (service.WorkOrderFilter(states=["in_progress"], street=street, sources=list(SOURCES)),
         "state = 'in_progress' AND left(community_code, 9) = :st", {"st": street}),
    ]


def test_each_filter_equals_its_plain_sql(demo_session, spread):
    s, op = demo_session, _user(demo_session, "operator")
    for flt, where, args in _filters(s):
        got, page = _all_ids(s, op, flt)
        want = _oracle_order(_oracle_rows(s, where, args), spread)
        assert got == want, where
        assert want, f"the filter {where} should match something in the demo"


def test_counts_per_state_ignore_only_the_state_filter(demo_session, spread):
    s, op = demo_session, _user(demo_session, "operator")
    for flt, where, args in _filters(s):
        counts = _list(s, op, flt, limit=1)["counts"]
        # the oracle: the same filter's SQL without its state part, grouped by state
        flt_wo_state = service.WorkOrderFilter(grid=flt.grid, street=flt.street, categories=flt.categories,
                                               sources=flt.sources)
        ids = set(_all_ids(s, op, flt_wo_state)[0])
        want = {st: 0 for st in OPEN_STATES}
        for r in _oracle_rows(s):
            if r.id in ids:
                want[r.state] += 1
        assert counts == want
        assert sum(counts.values()) == _list(s, op, flt_wo_state, limit=1)["total"]


def test_scoping_shows_a_grid_only_its_incidents(demo_session, spread, lead_grid):
    s = demo_session
    lead = _user(s, "lead")
    from app.accounts.auth import visible_grid_codes

    grids = visible_grid_codes(lead, s)
    assert grids == frozenset({lead_grid})
    got, page = _all_ids(s, lead, None, grids)
    assert got == _oracle_order(_oracle_rows(s, "grid_code = :g", {"g": lead_grid}), spread) and got
    # a filter on another grid cannot widen the scope
    other = s.execute(text("SELECT grid_code FROM incidents WHERE state = ANY(:o) AND grid_code <> :g LIMIT 1"),
                      {"o": list(OPEN_STATES), "g": lead_grid}).scalar()
    assert _list(s, lead, service.WorkOrderFilter(grid=other), grids)["total"] == 0
    # the lead's actions on their rows are field work, never the command centre's
    assert all(set(r["actions"]) <= {"start", "resolve", "comment", "reassign"} for r in page["rows"])


# -- HTTP -------------------------------------------------------------------------------------------
def test_the_list_api_is_for_the_command_centre(client, lead_grid):
    for account, status in (("planner", 403), ("lead", 403), ("member", 403), ("operator", 200), ("admin", 200)):
        c = client.application.test_client()
        login(c, account)
        assert c.get("/api/workorders").status_code == status, account
    assert client.application.test_client().get("/api/workorders").status_code == 401


@pytest.mark.parametrize("query, field", [
    ("state=closed", "state"), ("state=reported&state=nope", "state"), ("grid=123", "grid"),
    ("street=51030400", "street"), ("category=nope", "category"), ("source=fax", "source"),
    ("limit=0", "limit"), ("limit=201", "limit"), ("offset=-1", "offset"), ("limit=１０", "limit"),
])
def test_bad_list_parameters_are_a_422_naming_them(client, lead_grid, query, field):
    login(client, "operator")
    r = client.get("/api/workorders?" + query)
    assert r.status_code == 422, r.get_data(as_text=True)
    assert {e["field"] for e in r.get_json()["errors"]} == {field}


def test_the_list_api_pages_through_the_same_order(client, demo_session, spread):
    login(client, "operator")
    first = client.get("/api/workorders?limit=20").get_json()
    second = client.get("/api/workorders?limit=20&offset=20").get_json()
    ids = [r["id"] for r in first["rows"] + second["rows"]]
    assert ids == _oracle_order(_oracle_rows(demo_session), spread)[:40]
    assert first["total"] == second["total"] and first["rows"][0]["overdue"]
    assert set(first["counts"]) == set(OPEN_STATES)
    r = client.get("/api/workorders?state=dispatched&state=resolved&source=patrol&source=video").get_json()
    assert {x["state"] for x in r["rows"]} <= {"dispatched", "resolved"} and \
        {x["source"] for x in r["rows"]} <= {"patrol", "video"}


def _reported(s, n, grid=None):
    """``n`` incidents set to 'reported' (no duplicate flag), as (id, version)."""
    rows = s.execute(text(
        "UPDATE incidents SET state = 'reported', duplicate_status = NULL, deadline = NULL, assignee_id = NULL "
        "WHERE id IN (SELECT id FROM incidents WHERE state = 'closed' AND (CAST(:g AS text) IS NULL OR grid_code = :g) "
        "ORDER BY id DESC LIMIT :n) RETURNING id, version"), {"n": n, "g": grid}).all()
    s.commit()
    return sorted((r.id, r.version) for r in rows)


def _states(s, ids):
    s.expire_all()
    return dict(s.execute(text("SELECT id, state FROM incidents WHERE id = ANY(:i)"), {"i": list(ids)}).all())


def _events(s, ids):
    return s.execute(text("SELECT count(*) FROM incident_events WHERE incident_id = ANY(:i)"),
                     {"i": list(ids)}).scalar()


def _bulk(client, token, body):
    return client.post("/api/workorders/bulk", json=body, headers={"X-CSRF-Token": token})


def test_bulk_accept_then_dispatch_to_each_grids_lead(client, demo_session, lead_grid):
    s = demo_session
    rows = _reported(s, 3)
    login(client, "operator")
    token = csrf(client, "/dashboard/stats")
    r = _bulk(client, token, {"action": "accept", "items": [{"id": i, "version": v} for i, v in rows]})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert set(_states(s, [i for i, _ in rows]).values()) == {"accepted"}
    versions = dict(s.execute(text("SELECT id, version FROM incidents WHERE id = ANY(:i)"),
                              {"i": [i for i, _ in rows]}).all())
    assert all(versions[i] == v + 1 for i, v in rows)
    r = _bulk(client, token, {"action": "dispatch", "items": [{"id": i, "version": versions[i]} for i, _ in rows]})
    assert r.status_code == 200, r.get_data(as_text=True)
    got = s.execute(text(
        "SELECT i.state, i.assignee_id, (SELECT member_id FROM member_roles WHERE grid_code = i.grid_code AND "
        "role = 'lead'), i.deadline IS NOT NULL FROM incidents i WHERE i.id = ANY(:i)"),
        {"i": [i for i, _ in rows]}).all()
    assert all(st == "dispatched" and a == lead and a is not None and dl for st, a, lead, dl in got)


def test_bulk_dispatch_to_a_chosen_member(client, demo_session, lead_grid):
    s = demo_session
    rows = _reported(s, 2, grid=lead_grid)
    s.execute(text("UPDATE incidents SET state = 'accepted' WHERE id = ANY(:i)"), {"i": [i for i, _ in rows]})
    s.commit()
    member = s.execute(text("SELECT member_id FROM member_roles WHERE grid_code = :g AND role <> 'lead' "
                            "ORDER BY member_id LIMIT 1"), {"g": lead_grid}).scalar()
    login(client, "operator")
    r = _bulk(client, csrf(client, "/dashboard/stats"),
              {"action": "dispatch", "member_id": member, "items": [{"id": i, "version": v} for i, v in rows]})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert set(s.execute(text("SELECT assignee_id FROM incidents WHERE id = ANY(:i)"),
                         {"i": [i for i, _ in rows]}).scalars()) == {member}


def test_a_stale_row_is_a_409_naming_it_and_nothing_changes(client, demo_session, lead_grid):
    s = demo_session
    rows = _reported(s, 3)
    stale = rows[1][0]
    s.execute(text("UPDATE incidents SET version = version + 1 WHERE id = :i"), {"i": stale})  # someone else's change
    s.commit()
    before = _events(s, [i for i, _ in rows])
    login(client, "operator")
    r = _bulk(client, csrf(client, "/dashboard/stats"),
              {"action": "accept", "items": [{"id": i, "version": v} for i, v in rows]})
    assert r.status_code == 409, r.get_data(as_text=True)
    body = r.get_json()
    assert body["error"] == "Conflict" and f"incident {stale}" in body["message"]
    assert [(f["index"], f["id"]) for f in body["failures"]] == [(1, stale)]
    assert set(_states(s, [i for i, _ in rows]).values()) == {"reported"}  # the first row was rolled back too
    assert _events(s, [i for i, _ in rows]) == before


def test_a_row_the_state_refuses_is_a_409_and_nothing_changes(client, demo_session, lead_grid):
    s = demo_session
    rows = _reported(s, 2)
    closed = s.execute(text("SELECT id, version FROM incidents WHERE state = 'closed' ORDER BY id LIMIT 1")).one()
    items = [{"id": i, "version": v} for i, v in rows] + [{"id": closed.id, "version": closed.version}]
    login(client, "operator")
    r = _bulk(client, csrf(client, "/dashboard/stats"), {"action": "accept", "items": items})
    assert r.status_code == 409 and r.get_json()["error"] == "IllegalTransition"
    assert f"incident {closed.id}" in r.get_json()["message"] and r.get_json()["failures"][0]["index"] == 2
    assert set(_states(s, [i for i, _ in rows]).values()) == {"reported"}


def test_bulk_is_for_the_command_centre_only(client, demo_session, lead_grid):
    s = demo_session
    rows = _reported(s, 1, grid=lead_grid)
    for account in ("lead", "member", "planner"):
        c = client.application.test_client()
        login(c, account)
        r = _bulk(c, csrf(c, "/dashboard/stats"),
                  {"action": "accept", "items": [{"id": rows[0][0], "version": rows[0][1]}]})
        assert r.status_code == 403, account
    assert _states(s, [rows[0][0]]) == {rows[0][0]: "reported"}


def test_bulk_refusals_by_the_rule_are_403_naming_the_row(demo_db, settings, demo_session, lead_grid):
    """An account whose role may not accept (a field role let through the page by mistake) gets the
    rule's own 403 for the row: the list's role check is not the only guard."""
    from app.incidents import permissions

    s = demo_session
    rows = _reported(s, 1, grid=lead_grid)
    lead = _user(s, "lead")
    from app.incidents.service import transition
    from gis.errors import Forbidden

    with pytest.raises(Forbidden):
        transition(s, rows[0][0], "accept", lead, expected_version=rows[0][1])
    assert "accept" not in permissions.ROLE_ACTIONS["grid_lead"]


def test_bulk_needs_csrf(client, demo_session, lead_grid):
    rows = _reported(demo_session, 1)
    login(client, "operator")
    r = client.post("/api/workorders/bulk", json={"action": "accept", "items": [{"id": rows[0][0], "version": 1}]})
    assert r.status_code == 400
    assert _states(demo_session, [rows[0][0]]) == {rows[0][0]: "reported"}


@pytest.mark.parametrize("body, fields", [
    ({}, {"action", "items"}),
    ({"action": "void", "items": [{"id": 1, "version": 1}]}, {"action"}),
    ({"action": "accept", "items": []}, {"items"}),
    ({"action": "accept", "items": "1,2"}, {"items"}),
    ({"action": "accept", "items": [7]}, {"items[0]"}),
    ({"action": "accept", "items": [{"id": 1}]}, {"items[0].version"}),
    ({"action": "accept", "items": [{"id": "x", "version": 1}]}, {"items[0].id"}),
    ({"action": "accept", "items": [{"id": 1, "version": 1}, {"id": 1, "version": 2}]}, {"items[1].id"}),
    ({"action": "accept", "items": [{"id": 1, "version": True}]}, {"items[0].version"}),
    ({"action": "accept", "items": [{"id": 1, "version": 1}] * 201}, {"items"}),
    ({"action": "accept", "member_id": 3, "items": [{"id": 1, "version": 1}]}, {"member_id"}),
    ({"action": "dispatch", "member_id": 0, "items": [{"id": 1, "version": 1}]}, {"member_id"}),
    ({"action": "accept", "note": "a\x00", "items": [{"id": 1, "version": 1}]}, {"note"}),
])
def test_bad_bulk_bodies_are_a_422_naming_the_field(client, lead_grid, body, fields):
    login(client, "operator")
    r = _bulk(client, csrf(client, "/dashboard/stats"), body)
    assert r.status_code == 422, r.get_data(as_text=True)
    assert {e["field"] for e in r.get_json()["errors"]} == fields


def test_bulk_on_a_missing_incident_is_a_404_naming_it(client, demo_session, lead_grid):
    rows = _reported(demo_session, 1)
    missing = demo_session.execute(text("SELECT max(id) + 1000 FROM incidents")).scalar()
    login(client, "operator")
    r = _bulk(client, csrf(client, "/dashboard/stats"),
              {"action": "accept", "items": [{"id": rows[0][0], "version": rows[0][1]}, {"id": missing, "version": 1}]})
    assert r.status_code == 404 and str(missing) in r.get_json()["message"]
    assert _states(demo_session, [rows[0][0]]) == {rows[0][0]: "reported"}


# -- badges ------------------------------------------------------------------------------------------
def _badge_oracle(s, grids=None):
    where = "" if grids is None else " AND grid_code = ANY(:g)"
    return {"overdue": s.execute(text("SELECT count(*) FROM incidents WHERE state = ANY(:o) AND deadline < now()"
                                      + where),
                                 {"o": list(OPEN_STATES), "g": list(grids or [])}).scalar(),
            "due_soon": s.execute(text(f"SELECT count(*) FROM incidents WHERE state = ANY(:o) AND deadline >= now() "
                                       f"AND deadline < now() + make_interval(secs => :h * 3600){where}"),
                                  {"o": list(OPEN_STATES), "h": HOURS, "g": list(grids or [])}).scalar()}


def test_badges_count_each_roles_scope(client, demo_session, spread, lead_grid):
    s = demo_session
    district, grid = _badge_oracle(s), _badge_oracle(s, [lead_grid])
    assert district["overdue"] > grid["overdue"] > 0 and district["due_soon"] > 0
    for account, want in (("operator", district), ("admin", district), ("lead", grid), ("member", grid)):
        c = client.application.test_client()
        login(c, account)
        assert c.get("/api/workorders/badges").get_json() == want, account
    c = client.application.test_client()
    login(c, "planner")
    assert c.get("/api/workorders/badges").status_code == 403


def test_the_bar_shows_the_badges_with_their_counts(client, demo_session, spread, lead_grid):
    s = demo_session
    login(client, "lead")
    html = client.get("/dashboard/stats").get_data(as_text=True)
    want = _badge_oracle(s, [lead_grid])
    assert f'data-badge="overdue">{want["overdue"]}<' in html and f'data-badge="due_soon">{want["due_soon"]}<' in html
    c = client.application.test_client()
    login(c, "planner")
    assert 'data-badge="overdue"' not in c.get("/dashboard/stats").get_data(as_text=True)


def test_python_and_sql_due_soon_agree(demo_session, spread):
    from app.incidents.models import Incident
    from app.incidents.queries import due_soon_condition, is_due_soon, is_overdue, overdue_condition
    from sqlalchemy import select

    s = demo_session
    for now in (spread, spread + timedelta(minutes=90), spread - timedelta(hours=3)):
        rows = s.execute(select(Incident, overdue_condition(now), due_soon_condition(HOURS, now))
                         .where(Incident.state.in_(OPEN_STATES))).all()
        assert rows
        for inc, late, soon in rows:
            assert (is_overdue(inc, now), is_due_soon(inc, HOURS, now)) == (bool(late), bool(soon))
            assert not (late and soon)
