"""The member's and grid lead's page (网格员 / 网格长) and patrols sent from the phone.

Oracles: the task order and marks against a Python sort with ``app.incidents.queries``' Python rules
(``is_overdue``, ``is_due_soon``) over ORM rows; scoping against the member_roles table; stored grid codes
against PostGIS ``ST_Contains`` over the grid polygons (not the in-memory grid index the app uses)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from app.accounts.auth import visible_grid_codes
from app.accounts.models import User
from app.dashboards import grid_view
from app.incidents.models import OPEN_STATES, Incident
from app.incidents.queries import is_due_soon, is_overdue
from tests.app.dash_helpers import TOKEN, csrf, lead_grid, login  # noqa: F401  (fixture)
from tests.settings import TEST_SETTINGS

HOURS = TEST_SETTINGS.due_soon_hours


def _user(s, name: str) -> User:
    return s.scalar(select(User).where(User.username == name))


def _plant_tasks(s, grid: str, member_id: int) -> dict[str, int]:
    """Open incidents of the grid with deadlines well clear of the overdue/due-soon boundaries (the
    database's now() is the test transaction's start): overdue, due soon, later, none; one assigned."""
    now = datetime.now(timezone.utc)
    ids = s.execute(text("SELECT id FROM incidents WHERE grid_code = :g ORDER BY id LIMIT 6"), {"g": grid}).scalars().all()
    assert len(ids) >= 5, "the demo's lead grid has too few incidents for this test"
    plan = {"late": ("dispatched", now - timedelta(hours=3), None),
            "soon": ("in_progress", now + timedelta(hours=HOURS / 2), None),
            "later": ("dispatched", now + timedelta(hours=HOURS * 3), None),
            "mine": ("dispatched", now + timedelta(hours=HOURS * 5), member_id),
            "none": ("reported", None, None)}
    out = {}
    for (key, (state, deadline, assignee)), iid in zip(plan.items(), ids):
        s.execute(text("UPDATE incidents SET state = :s, deadline = :d, assignee_id = :a WHERE id = :i"),
                  {"s": state, "d": deadline, "a": assignee, "i": iid})
        out[key] = iid
    # nothing else in the grid may be assigned to the member: "mine" is then the only one first
    s.execute(text("UPDATE incidents SET assignee_id = NULL WHERE grid_code = :g AND assignee_id = :m "
                   "AND id <> :i"), {"g": grid, "m": member_id, "i": out["mine"]})
    s.flush()
    return out


def _oracle(s, user, grids) -> list[int]:
    now = datetime.now(timezone.utc)
    rows = s.scalars(select(Incident).where(Incident.grid_code.in_(grids), Incident.state.in_(OPEN_STATES))).all()
    far = datetime.max.replace(tzinfo=timezone.utc)
    rows.sort(key=lambda i: (i.assignee_id is None or i.assignee_id != user.member_id, not is_overdue(i, now),
                             i.deadline or far, -i.reported_at.timestamp(), -i.id))
    return [i.id for i in rows][:grid_view.MAX_LISTED_INCIDENTS]


@pytest.mark.parametrize("account", ["member", "lead"])
def test_tasks_order_and_marks_match_a_python_oracle(client, lead_grid, demo_session, account):
    member = _user(demo_session, account)
    planted = _plant_tasks(demo_session, lead_grid, member.member_id)
    grids = visible_grid_codes(member, demo_session)
    tasks = grid_view.open_incidents(demo_session, member, grids, due_soon_hours=HOURS)
    assert [t["id"] for t in tasks] == _oracle(demo_session, member, grids)
    assert tasks[0]["id"] == planted["mine"] and tasks[0]["mine"]  # assigned to me first, although not urgent
    assert sum(t["mine"] for t in tasks) == 1
    now = datetime.now(timezone.utc)
    for t in tasks:
        inc = demo_session.get(Incident, t["id"])
        assert t["overdue"] == is_overdue(inc, now) and t["due_soon"] == is_due_soon(inc, HOURS, now), t["id"]
    by_id = {t["id"]: t for t in tasks}
    assert by_id[planted["late"]]["overdue"] and not by_id[planted["late"]]["due_soon"]
    assert by_id[planted["soon"]]["due_soon"] and not by_id[planted["soon"]]["overdue"]
    assert not by_id[planted["later"]]["due_soon"] and not by_id[planted["none"]]["overdue"]
    # the page shows the same order, the marks, names instead of codes, and each task's version
    demo_session.commit()
    login(client, account)
    html = client.get("/dashboard/grid?max=5").get_data(as_text=True)
    table = re.search(r'<table class="gw" id="gw-incidents">(.*?)</table>', html, re.S).group(1)
    assert [int(v) for v in re.findall(r'<tr[^>]*data-incident="(\d+)">', table)] == [t["id"] for t in tasks]
    row = {int(i): body for i, body in re.findall(r'<tr[^>]*data-incident="(\d+)">(.*?)</tr>', table, re.S)}
    assert "gw-mark-late" in row[planted["late"]] and "gw-mark-soon" in row[planted["soon"]]
    assert "gw-mark-soon" not in row[planted["later"]] and "gw-mark-mine" in row[planted["mine"]]
    assert "已派遣" in row[planted["late"]] and ">dispatched<" not in table and ">in_progress<" not in table
    assert f'data-version="{by_id[planted["late"]]["version"]}"' in table


def test_task_actions_are_the_permission_rules_batch(demo_session, lead_grid):
    """The actions each task offers are exactly ``permissions.refusal``'s one-by-one answer."""
    from app.incidents import workflow
    from app.incidents.permissions import refusal

    for account in ("member", "lead", "admin"):
        user = _user(demo_session, account)
        grids = visible_grid_codes(user, demo_session) or frozenset({lead_grid})
        for t in grid_view.open_incidents(demo_session, user, grids, due_soon_hours=HOURS):
            inc = demo_session.get(Incident, t["id"])
            assert t["actions"] == [a for a in workflow.ACTIONS if refusal(demo_session, inc, a, user) is None]


def test_member_sees_every_grid_they_hold_a_role_in_the_lead_only_those_they_lead(client, lead_grid, demo_session):
    member, lead = _user(demo_session, "member"), _user(demo_session, "lead")
    other = demo_session.execute(text(
        "SELECT grid_code FROM incidents WHERE grid_code <> :g AND state = ANY(:o) GROUP BY grid_code "
        "ORDER BY count(*) DESC LIMIT 1"), {"g": lead_grid, "o": list(OPEN_STATES)}).scalar()
    for u in (member, lead):  # both get a publicity role in another grid: only the member's scope grows
        demo_session.execute(text("INSERT INTO member_roles (member_id, grid_code, role) VALUES (:m, :g, 'publicity') "
                                  "ON CONFLICT DO NOTHING"), {"m": u.member_id, "g": other})
    demo_session.commit()
    expect = {}
    for account, u in (("member", member), ("lead", lead)):
        where = ("SELECT grid_code FROM member_roles WHERE member_id = :m"
                 + (" AND role = 'lead'" if account == "lead" else ""))
        grids = set(demo_session.execute(text(where), {"m": u.member_id}).scalars())
        expect[account] = set(demo_session.execute(text(
            "SELECT id FROM incidents WHERE grid_code = ANY(:g) AND state = ANY(:o)"),
            {"g": sorted(grids), "o": list(OPEN_STATES)}).scalars())
    assert other in {c for c in demo_session.execute(text("SELECT grid_code FROM incidents WHERE id = ANY(:i)"),
                                                     {"i": sorted(expect["member"])}).scalars()}
    for account in ("member", "lead"):
        login(client, account)
        html = client.get("/dashboard/grid?max=5").get_data(as_text=True)
        shown = {int(v) for v in re.findall(r'<tr[^>]*data-incident="(\d+)">', html)}
        assert shown == expect[account], account
        members_table = re.search(r'id="gw-members">(.*?)</table>', html, re.S).group(1)
        assert (other in members_table) == (account == "member")


def test_members_phones_are_tel_links_and_roles_by_name(client, lead_grid, demo_session):
    rows = demo_session.execute(text(
        "SELECT m.name, m.phone FROM members m JOIN member_roles r ON r.member_id = m.id WHERE r.grid_code = :g"),
        {"g": lead_grid}).all()
    assert rows
    for account in ("lead", "member", "admin"):
        login(client, account)
        html = client.get(f"/dashboard/grid?max=5&grid={lead_grid}" if account == "admin" else "/dashboard/grid?max=5"
                          ).get_data(as_text=True)
        table = re.search(r'id="gw-members">(.*?)</table>', html, re.S).group(1)
        for name, phone in rows:
            digits = re.sub(r"\D", "", phone)
            assert f'<a class="gw-tel" href="tel:{digits}"' in table and f">{phone}</a>" in table, (account, name)
        assert "网格长" in table and ">lead<" not in table  # roles by name


@pytest.mark.parametrize("phone, target", [("13812341234", "tel:13812341234"), ("+86 138-1234-1234", "tel:+8613812341234"),
                                           ("(0813) 220 1234", "tel:08132201234"), ("--", None), ("", None),
                                           (None, None), ("１３８", None)])
def test_tel_target(phone, target):
    assert grid_view.tel_target(phone) == target


# -- patrols from the phone ----------------------------------------------------------------------------
def _token(client) -> str:
    return TOKEN.search(client.get("/dashboard/grid?max=1").get_data(as_text=True)).group(1)


def _send(client, body, token=None):
    return client.post("/api/patrols/points", json=body, headers={"X-CSRF-Token": token or _token(client)})


def _grid_points(s, n: int, grids_limit: int = 6, seed: float = 0.5) -> list[tuple[float, float]]:
    """Points inside several grids (PostGIS' seeded random points): each grid gives a few."""
    s.execute(text("SELECT setseed(:s)"), {"s": seed})
    return [tuple(r) for r in s.execute(text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_Dump(ST_GeneratePoints(geom, :k, 7))).geom AS p FROM "
        "(SELECT geom FROM grids ORDER BY code LIMIT :n) g) x"), {"k": max(1, n // grids_limit), "n": grids_limit})]


def _points(coords, start: datetime, step_s: int = 10, accuracy=8.5) -> list[dict]:
    return [{"at": (start + timedelta(seconds=step_s * k)).isoformat(), "lon": x, "lat": y, "accuracy_m": accuracy}
            for k, (x, y) in enumerate(coords)]


def test_sent_points_are_stored_once_with_the_grid_postgis_finds(client, lead_grid, demo_session):
    member = _user(demo_session, "member")
    coords = _grid_points(demo_session, 18)
    # and one point inside the district's extent that no grid covers, if the demo has such a spot
    gap = demo_session.execute(text(
        "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Difference(ST_Envelope(ST_Collect(geom)), "
        "ST_Union(geom))) AS c FROM grids) x WHERE NOT EXISTS (SELECT 1 FROM grids WHERE ST_Intersects(geom, c))")).first()
    if gap is not None:
        coords.append(tuple(gap))
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=30)
    body = {"track_id": "web-test-1", "points": _points(coords, start)}
    login(client, "member")
    token = _token(client)
    first = _send(client, body, token)
    assert first.status_code == 200, first.get_json()
    assert first.get_json() == {"points": len(coords), "accepted": len(coords), "already": 0}
    again = _send(client, body, token)  # the answer was lost: the phone sends the same batch again
    assert again.get_json() == {"points": len(coords), "accepted": 0, "already": len(coords)}
    overlap = {"track_id": "web-test-1", "points": body["points"][-3:] + _points(coords[:2], start + timedelta(hours=1))}
    assert _send(client, overlap, token).get_json() == {"points": 5, "accepted": 2, "already": 3}
    stored = demo_session.execute(text(
        "SELECT p.at, p.grid_code, p.track_id, p.accuracy_m, (SELECT min(g.code) FROM grids g WHERE ST_Contains(g.geom, p.geom)), "
        "(SELECT count(*) FROM grids g WHERE ST_Contains(g.geom, p.geom)) FROM patrol_points p WHERE p.member_id = :m "
        "AND p.track_id = 'web-test-1'"), {"m": member.member_id}).all()
    assert len(stored) == len(coords) + 2
    for at, code, track, accuracy, postgis, n in stored:
        if n == 1:  # a point on a shared edge may belong to either grid: not a test of this code
            assert code == postgis, (at, code, postgis)
        elif n == 0:
            assert code is None
        assert accuracy == 8.5
    assert len({c for _, c, *_ in stored if c}) >= 3  # the batch really crossed grids


def test_sent_points_show_in_todays_tracks_and_the_patrol_table(client, lead_grid, demo_session):
    member = _user(demo_session, "member")
    inside = [tuple(r) for r in demo_session.execute(text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_Dump(ST_GeneratePoints(geom, 5, 3))).geom p FROM grids "
        "WHERE code = :g) x"), {"g": lead_grid})]
    other, *elsewhere = demo_session.execute(text(
        "SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM grids WHERE code <> :g "
        "ORDER BY code LIMIT 1"), {"g": lead_grid}).one()
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=20)
    login(client, "member")
    r = _send(client, {"track_id": "web-today", "points": _points(inside + [tuple(elsewhere)], start, step_s=60)})
    assert r.get_json()["accepted"] == len(inside) + 1
    for account, path in (("lead", "/api/patrols/today"), ("admin", f"/api/patrols/today?grid={lead_grid}")):
        login(client, account)
        fc = client.get(path).get_json()
        mine = [f for f in fc["features"] if f["properties"]["member_id"] == member.member_id]
        assert len(mine) == 1 and mine[0]["properties"]["points"] == len(inside), account  # the other grid's left out
        assert mine[0]["geometry"]["type"] == "LineString" and len(mine[0]["geometry"]["coordinates"]) == len(inside)
        assert mine[0]["properties"]["track_id"] == "web-today"
    login(client, "lead")
    html = client.get("/dashboard/grid?max=1").get_data(as_text=True)
    tracks = re.search(r'id="gw-tracks">(.*?)</table>', html, re.S).group(1)
    assert f'data-member="{member.member_id}"' in tracks and f"<td>{len(inside)}</td>" in tracks
    patrols = re.search(r'id="gw-patrols">(.*?)</table>', html, re.S).group(1)
    row = re.search(rf"<tr[^>]*><td>{lead_grid}</td>(.*?)</tr>", patrols, re.S).group(1)
    assert int(re.findall(r"<td>([^<]*)</td>", row)[0]) >= len(inside)
    # a grid lead names only their grids; another grid is simply not theirs
    fc = client.get(f"/api/patrols/today?grid={other}").get_json()
    assert fc["features"] == []
    login(client, "admin")
    assert len(client.get(f"/api/patrols/today?grid={other}").get_json()["features"]) == 1


BAD_BATCHES = [
    ({"points": []}, "track_id"),
    ({"track_id": "t", "points": []}, "points"),
    ({"track_id": "t", "points": "x"}, "points"),
    ({"track_id": "t\x00", "points": [{"at": "2025-03-01T08:00:00+08:00", "lon": 104.77, "lat": 29.36}]}, "track_id"),
    ({"track_id": "x" * 61, "points": [{"at": "2025-03-01T08:00:00+08:00", "lon": 104.77, "lat": 29.36}]}, "track_id"),
    ({"track_id": "t", "points": [5]}, "points[0]"),
    ({"track_id": "t", "points": [{"lon": 104.77, "lat": 29.36}]}, "points[0].at"),
    ({"track_id": "t", "points": [{"at": "soon", "lon": 104.77, "lat": 29.36}]}, "points[0].at"),
    ({"track_id": "t", "points": [{"at": "2099-01-01T00:00:00Z", "lon": 104.77, "lat": 29.36}]}, "points[0].at"),
    ({"track_id": "t", "points": [{"at": "1999-01-01T00:00:00Z", "lon": 104.77, "lat": 29.36}]}, "points[0].at"),
    ({"track_id": "t", "points": [{"at": "2025-03-01T08:00:00+08:00", "lon": "104.77", "lat": 29.36}]}, "points[0].lon"),
    ({"track_id": "t", "points": [{"at": "2025-03-01T08:00:00+08:00", "lon": True, "lat": 29.36}]}, "points[0].lon"),
    ({"track_id": "t", "points": [{"at": "2025-03-01T08:00:00+08:00", "lon": 104.77, "lat": 29.36, "accuracy_m": -1}]},
     "points[0].accuracy_m"),
    ({"track_id": "t", "points": [{"at": "2025-03-01T08:00:00+08:00", "lon": 104.77, "lat": 29.36},
                                  {"at": "2025-03-01T08:00:10+08:00", "lon": 116.4, "lat": 39.9}]}, "points[1].lon/lat"),
    ({"track_id": "t", "points": [{"at": "2025-03-01T08:00:00+08:00", "lon": 104.77, "lat": 10 ** 400}]}, "points[0].lat"),
    ({"track_id": "t", "points": [{"at": "2025-03-01T08:00:00+08:00", "lon": 104.77, "lat": 29.36}] * 1001}, "points"),
    ([1, 2], "body"),
]


@pytest.mark.parametrize("body, field", BAD_BATCHES, ids=[f"{i}-{f}" for i, (_, f) in enumerate(BAD_BATCHES)])
def test_a_bad_batch_is_a_422_naming_the_point_and_stores_nothing(client, lead_grid, demo_session, body, field):
    login(client, "member")
    before = demo_session.execute(text("SELECT count(*) FROM patrol_points")).scalar()
    r = _send(client, body)
    assert r.status_code == 422, r.get_data(as_text=True)
    fields = {e["field"] for e in r.get_json()["errors"]}
    assert field in fields, fields
    assert demo_session.execute(text("SELECT count(*) FROM patrol_points")).scalar() == before


def test_points_endpoint_needs_a_field_account_and_the_csrf_header(client, lead_grid, demo_session):
    body = {"track_id": "t", "points": [{"at": datetime.now(timezone.utc).isoformat(), "lon": 104.77, "lat": 29.36}]}
    assert client.post("/api/patrols/points", json=body).status_code == 401  # not logged in
    for account in ("operator", "planner", "admin"):
        login(client, account)
        token = csrf(client, "/dashboard/stats")
        r = client.post("/api/patrols/points", json=body, headers={"X-CSRF-Token": token})
        assert r.status_code == 403, account
    login(client, "lead")
    assert client.post("/api/patrols/points", json=body).status_code == 400  # no CSRF header
    assert _send(client, body).status_code == 200
    login(client, "planner")
    assert client.get("/api/patrols/today").status_code == 403
