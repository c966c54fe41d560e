"""The accounts pages (/admin, /admin/users): list, add, role and scope, disable, reset, remove, API keys,
the demo accounts; each change with its audit row; stale forms, bad fields, yourself and the last
administrator refused with nothing written."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from app.demo import DEMO_ACCOUNTS
from tests.app.dash_helpers import TOKEN, csrf, lead_grid, login  # noqa: F401  (fixture)

SECRET = re.compile(r'id="gw-secret">([^<]+)<')


def q(demo_db, sql: str, **params):
    with demo_db.Session() as s:
        return s.execute(text(sql), params).all()


def run(demo_db, sql: str, **params) -> None:
    """A write made by someone else (committed inside the test's rolled-back transaction)."""
    with demo_db.session() as s:
        s.execute(text(sql), params)


def audit(demo_db, object_type: str, object_id: str, after_id: int = 0):
    return q(demo_db, "SELECT actor, action, before, after FROM audit_log WHERE object_type = :t AND object_id = :o "
                      "AND id > :a ORDER BY id", t=object_type, o=object_id, a=after_id)


def last_audit_id(demo_db) -> int:
    return q(demo_db, "SELECT coalesce(max(id), 0) FROM audit_log")[0][0]


def admin_client(client):
    login(client, "admin")
    client.token = csrf(client, "/admin/users")
    return client


def post(client, path, **form):
    return client.post(path, data={"csrf_token": client.token, **form})


def seen_of(demo_db, username: str) -> dict:
    role, member_id, active = q(demo_db, "SELECT role, member_id, active FROM users WHERE username = :u", u=username)[0]
    return {"seen_role": role, "seen_member_id": "none" if member_id is None else str(member_id),
            "seen_active": "1" if active else "0"}


def add_account(client, username, role="operator", **extra) -> str:
    r = post(client, "/admin/users", username=username, role=role, **extra)
    assert r.status_code == 200, r.get_data(as_text=True)[:800]
    return SECRET.search(r.get_data(as_text=True)).group(1)


def can_log_in(app, username, password) -> bool:
    c = app.test_client()
    r = c.post("/login", data={"username": username, "password": password, "csrf_token": csrf(c)})
    return r.status_code == 302


# -- the hub and the list ------------------------------------------------------------------------------
def test_the_hub_links_only_registered_pages(app, client, lead_grid):
    from app.people.views import HUB_LINKS

    admin_client(client)
    html = client.get("/admin").get_data(as_text=True)
    for endpoint, _title, _hint in HUB_LINKS:
        assert (f'data-endpoint="{endpoint}"' in html) == (endpoint in app.view_functions), endpoint
    assert 'data-endpoint="people.users"' in html and 'data-endpoint="webhooks.log"' in html


def test_the_list_names_roles_and_shows_a_field_accounts_member_and_grids(client, lead_grid, demo_db):
    admin_client(client)
    html = client.get("/admin/users").get_data(as_text=True)
    for name in DEMO_ACCOUNTS:
        assert f'data-user="{name}"' in html
    assert "指挥中心值班员" in html  # the operator's role by its name, not its code
    lead_member, = q(demo_db, "SELECT m.name FROM users u JOIN members m ON m.id = u.member_id WHERE u.username = 'lead'")[0]
    row = html[html.index('data-user="lead"'):]
    row = row[:row.index("</tr>")]
    assert lead_member in row and f'data-grid="{lead_grid}" data-in-scope="1"' in row
    assert 'data-total="5"' in html


def test_the_lists_filters_match_the_database(client, lead_grid, demo_db):
    admin_client(client)
    run(demo_db, "UPDATE users SET active = false WHERE username = 'planner'")  # the database as oracle below
    cases = {"role=grid_lead": "role = 'grid_lead'", "state=disabled": "NOT active", "state=active": "active",
             "q=plan": "username ILIKE '%plan%'",
             f"grid={lead_grid}": f"member_id IN (SELECT member_id FROM member_roles WHERE grid_code = '{lead_grid}')"}
    for query, where in cases.items():
        expected = sorted(u for u, in q(demo_db, f"SELECT username FROM users WHERE {where}"))
        html = client.get(f"/admin/users?{query}").get_data(as_text=True)
        assert sorted(re.findall(r'<tr data-user="([^"]+)"', html)) == expected, query


@pytest.mark.parametrize("query, field", [("role=boss", "role"), ("state=maybe", "state"), ("grid=12", "grid"),
                                          ("page=0", "page"), ("q=a%00b", "q")])
def test_a_bad_filter_is_a_422_naming_it(client, lead_grid, query, field):
    admin_client(client)
    r = client.get(f"/admin/users?{query}", headers={"Accept": "application/json"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == field


def test_every_other_role_is_refused(app, lead_grid):
    for account in ("operator", "planner", "lead", "member"):
        c = app.test_client()
        login(c, account)
        for path in ("/admin", "/admin/users", "/admin/users/admin", "/api/people/members"):
            assert c.get(path).status_code == 403, (account, path)
        token = csrf(c, "/dashboard/stats")
        r = c.post("/admin/users", data={"csrf_token": token, "username": "x1", "role": "admin"})
        assert r.status_code == 403 and "user.manage" in r.get_data(as_text=True)


def test_a_write_without_the_csrf_token_is_refused(client, lead_grid, demo_db):
    admin_client(client)
    assert client.post("/admin/users", data={"username": "nocsrf", "role": "operator"}).status_code == 400
    assert not q(demo_db, "SELECT 1 FROM users WHERE username = 'nocsrf'")


# -- adding ------------------------------------------------------------------------------------------
def test_adding_an_account_shows_its_password_once_and_audits_it(app, client, lead_grid, demo_db):
    admin_client(client)
    mark = last_audit_id(demo_db)
    r = post(client, "/admin/users", username="duty2", role="operator")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    password = SECRET.search(r.get_data(as_text=True)).group(1)
    assert len(password) >= 16 and password not in r.headers.get("Location", "")
    assert can_log_in(app, "duty2", password)
    (actor, action, before, after), = audit(demo_db, "user", "duty2", mark)
    assert (actor, action, before) == ("admin", "insert", None)
    assert after["role"] == "operator" and after["password_hash"] == "(hidden)"
    assert password not in client.get("/admin/users/duty2").get_data(as_text=True)


def test_a_field_account_is_tied_to_a_member_who_works_in_a_grid(client, lead_grid, demo_db):
    admin_client(client)
    member_id, external = q(demo_db, "SELECT m.id, m.external_id FROM members m JOIN member_roles r ON r.member_id = m.id "
                                     "WHERE r.role <> 'lead' AND r.member_id NOT IN (SELECT member_id FROM member_roles "
                                     "WHERE role = 'lead') ORDER BY m.id LIMIT 1")[0]
    add_account(client, "field1", "member", member=external or str(member_id))
    assert q(demo_db, "SELECT member_id FROM users WHERE username = 'field1'")[0][0] == member_id
    # not a lead anywhere: refused as a grid lead, naming the member field
    r = post(client, "/admin/users", username="field2", role="grid_lead", member=str(member_id))
    assert r.status_code == 422 and 'data-error="member"' in r.get_data(as_text=True)
    assert "leads no grid" in r.get_data(as_text=True)
    # a grid lead by the grid it leads
    add_account(client, "field3", "grid_lead", grid=lead_grid)
    lead, = q(demo_db, "SELECT member_id FROM member_roles WHERE grid_code = :g AND role = 'lead'", g=lead_grid)[0]
    assert q(demo_db, "SELECT member_id FROM users WHERE username = 'field3'")[0][0] == lead


@pytest.mark.parametrize("form, field", [
    ({"username": "a b", "role": "operator"}, "username"),
    ({"username": "", "role": "operator"}, "username"),
    ({"username": "x" * 61, "role": "operator"}, "username"),
    ({"username": "okname", "role": "boss"}, "role"),
    ({"username": "okname"}, "role"),
    ({"username": "okname", "role": "member"}, "member"),
    ({"username": "okname", "role": "member", "member": "no-such-member"}, "member"),
    ({"username": "okname", "role": "grid_lead", "grid": "123"}, "grid"),
])
def test_a_bad_add_form_is_a_422_naming_the_field_and_writes_nothing(client, lead_grid, demo_db, form, field):
    admin_client(client)
    r = post(client, "/admin/users", **form)
    assert r.status_code == 422
    assert f'data-error="{field}"' in r.get_data(as_text=True)
    assert q(demo_db, "SELECT count(*) FROM users")[0][0] == len(DEMO_ACCOUNTS)


def test_adding_a_name_that_exists_is_a_conflict(client, lead_grid, demo_db):
    admin_client(client)
    before = q(demo_db, "SELECT password_hash, role FROM users WHERE username = 'planner'")
    r = post(client, "/admin/users", username="planner", role="admin")
    assert r.status_code == 409 and "exists" in r.get_data(as_text=True)
    assert q(demo_db, "SELECT password_hash, role FROM users WHERE username = 'planner'") == before


# -- changing ----------------------------------------------------------------------------------------
def test_a_role_change_is_written_and_audited(app, client, lead_grid, demo_db):
    admin_client(client)
    mark = last_audit_id(demo_db)
    r = post(client, "/admin/users/planner/role", role="operator", **seen_of(demo_db, "planner"))
    assert r.status_code == 303 and r.headers["Location"].endswith("/admin/users/planner?done=role")
    (actor, action, before, after), = audit(demo_db, "user", "planner", mark)
    assert (actor, action, before, after) == ("admin", "update", {"role": "planner"}, {"role": "operator"})
    # the account's next request is an operator's (the role is read on every request)
    c = app.test_client()
    login(c, "planner")
    assert c.get("/dashboard/operator").status_code == 200


def test_a_demoted_account_loses_its_powers_in_the_session_it_has_open(app, client, lead_grid, demo_db):
    """``set_role`` ends no session: the role is read on every request, so the planner's open page is an
    operator's from its next request on (the planner's pages refuse it) and the session itself stays."""
    planner = app.test_client()
    login(planner, "planner")
    assert planner.get("/dashboard/planner").status_code == 200
    open_sessions = "SELECT count(*) FROM user_sessions s JOIN users u ON u.id = s.user_id " \
                    "WHERE u.username = 'planner' AND s.ended_at IS NULL"
    (before,), = q(demo_db, open_sessions)
    admin_client(client)
    r = post(client, "/admin/users/planner/role", role="operator", **seen_of(demo_db, "planner"))
    assert r.status_code == 303
    r = planner.get("/dashboard/planner", headers={"Accept": "application/json"})
    assert r.status_code == 403 and "coverage.plan" in r.get_json()["message"]
    assert planner.get("/api/coverage/plan", query_string={"k": 1}).status_code == 403
    assert planner.get("/dashboard/operator").status_code == 200
    assert q(demo_db, open_sessions) == [(before,)]


def test_a_stale_role_form_is_a_409_with_both_versions_and_writes_nothing(client, lead_grid, demo_db):
    admin_client(client)
    seen = seen_of(demo_db, "planner")
    run(demo_db, "UPDATE users SET role = 'operator' WHERE username = 'planner'")  # someone else, meanwhile
    mark = last_audit_id(demo_db)
    r = post(client, "/admin/users/planner/role", role="admin", **seen)
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and 'id="gw-stale"' in html
    row = html[html.index('data-field="role"'):]
    row = row[:row.index("</tr>")]
    assert "规划人员" in row.split('data-side="seen"')[1].split("</td>")[0] or "planner" in row
    assert "指挥中心值班员" in row.split('data-side="current"')[1].split("</td>")[0]
    assert q(demo_db, "SELECT role FROM users WHERE username = 'planner'")[0][0] == "operator"
    assert audit(demo_db, "user", "planner", mark) == []


def test_a_role_form_without_what_it_saw_is_refused(client, lead_grid, demo_db):
    admin_client(client)
    r = post(client, "/admin/users/planner/role", role="admin")
    assert r.status_code == 422 and 'data-error="seen_role"' in r.get_data(as_text=True)
    assert q(demo_db, "SELECT role FROM users WHERE username = 'planner'")[0][0] == "planner"


def test_a_field_role_needs_its_member(client, lead_grid, demo_db):
    admin_client(client)
    r = post(client, "/admin/users/operator/role", role="member", **seen_of(demo_db, "operator"))
    assert r.status_code == 422 and 'data-error="member"' in r.get_data(as_text=True)


def test_disabling_ends_the_sessions_and_log_in_and_is_audited(app, client, lead_grid, demo_db):
    operator = app.test_client()
    login(operator, "operator")
    assert operator.get("/dashboard/operator").status_code == 200
    admin_client(client)
    mark = last_audit_id(demo_db)
    r = post(client, "/admin/users/operator/active", active="0", **seen_of(demo_db, "operator"))
    assert r.status_code == 303
    assert operator.get("/dashboard/operator").status_code == 302  # to the log-in page: the session ended
    assert not can_log_in(app, "operator", DEMO_ACCOUNTS["operator"][1])
    assert [x[1:] for x in audit(demo_db, "user", "operator", mark)] == [("update", {"active": True}, {"active": False})]
    assert q(demo_db, "SELECT count(*) FROM user_sessions s JOIN users u ON u.id = s.user_id "
                      "WHERE u.username = 'operator' AND s.ended_at IS NULL")[0][0] == 0
    r = post(client, "/admin/users/operator/active", active="1", **seen_of(demo_db, "operator"))
    assert r.status_code == 303 and can_log_in(app, "operator", DEMO_ACCOUNTS["operator"][1])


def test_yourself_and_the_last_administrator_are_kept(client, lead_grid, demo_db):
    admin_client(client)
    seen = seen_of(demo_db, "admin")
    for path, form in [("active", {"active": "0", **seen}), ("role", {"role": "operator", **seen}),
                       ("remove", {"confirm": "admin"}), ("password", {})]:
        r = post(client, f"/admin/users/admin/{path}", **form)
        assert r.status_code == 409 and "your own account" in r.get_data(as_text=True), path
    assert q(demo_db, "SELECT role, active FROM users WHERE username = 'admin'") == [("admin", True)]
    from app.accounts.service import remove_user, set_active, set_role
    from gis.errors import Conflict

    with demo_db.Session() as s:
        for change in (lambda: set_active(s, "admin", False), lambda: remove_user(s, "admin"),
                       lambda: set_role(s, "admin", "planner")):
            with pytest.raises(Conflict, match="last active administrator"):
                change()


def test_a_second_administrator_may_disable_the_first(client, lead_grid, demo_db):
    from app.accounts.service import set_active

    admin_client(client)
    add_account(client, "chief", "admin")
    with demo_db.session() as s:
        set_active(s, "admin", False)  # chief is left
    with demo_db.Session() as s:
        from gis.errors import Conflict

        with pytest.raises(Conflict, match="last active administrator"):
            set_active(s, "chief", False)


def test_a_password_reset_shows_a_new_one_once_and_ends_the_sessions(app, client, lead_grid, demo_db):
    planner = app.test_client()
    login(planner, "planner")
    admin_client(client)
    mark = last_audit_id(demo_db)
    r = post(client, "/admin/users/planner/password")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    new = SECRET.search(r.get_data(as_text=True)).group(1)
    assert planner.get("/dashboard/planner").status_code == 302
    assert not can_log_in(app, "planner", DEMO_ACCOUNTS["planner"][1]) and can_log_in(app, "planner", new)
    (actor, action, before, after), = audit(demo_db, "user", "planner", mark)
    assert action == "update" and before == {"password_hash": "(hidden)"} == after


def test_removing_needs_the_name_typed_and_keeps_history(app, client, lead_grid, demo_db):
    from app.accounts.keys import add_api_key

    with demo_db.session() as s:
        add_api_key(s, "planner-gis", "planner")
        s.execute(text("INSERT INTO incident_events (incident_id, action, actor, at) "
                       "SELECT min(id), 'comment', 'planner', now() FROM incidents"))
    admin_client(client)
    r = post(client, "/admin/users/planner/remove", confirm="planer")
    assert r.status_code == 422 and 'data-error="confirm"' in r.get_data(as_text=True)
    mark = last_audit_id(demo_db)
    r = post(client, "/admin/users/planner/remove", confirm="planner")
    assert r.status_code == 303 and "done=removed" in r.headers["Location"]
    assert not q(demo_db, "SELECT 1 FROM users WHERE username = 'planner'")
    assert not q(demo_db, "SELECT 1 FROM api_keys WHERE name = 'planner-gis'")
    assert q(demo_db, "SELECT count(*) FROM incident_events WHERE actor = 'planner'")[0][0] >= 1
    rows = audit(demo_db, "user", "planner", mark)
    assert [(a, act) for a, act, _b, _x in rows] == [("admin", "delete")] and rows[0][2]["role"] == "planner"
    assert [x[1] for x in audit(demo_db, "api_key", "planner-gis", mark)] == ["delete"]
    assert client.get("/admin/users/planner").status_code == 404
    assert not can_log_in(app, "planner", DEMO_ACCOUNTS["planner"][1])


# -- API keys --------------------------------------------------------------------------------------
def test_an_api_key_is_shown_once_listed_and_revoked(app, client, lead_grid, demo_db):
    from app.accounts.keys import KeyRefused, authenticate

    admin_client(client)
    mark = last_audit_id(demo_db)
    r = post(client, "/admin/users/lead/keys", name="wechat-lead")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    key = SECRET.search(r.get_data(as_text=True)).group(1)
    with demo_db.Session() as s:
        assert authenticate(s, key).user.username == "lead"
    page = client.get("/admin/users/lead").get_data(as_text=True)
    assert 'data-key="wechat-lead" data-active="1"' in page and key not in page
    key_id, = q(demo_db, "SELECT id FROM api_keys WHERE name = 'wechat-lead'")[0]
    assert post(client, f"/admin/users/planner/keys/{key_id}/revoke").status_code == 404  # not planner's key
    r = post(client, f"/admin/users/lead/keys/{key_id}/revoke")
    assert r.status_code == 303
    assert 'data-key="wechat-lead" data-active="0"' in client.get(r.headers["Location"]).get_data(as_text=True)
    with demo_db.Session() as s:
        with pytest.raises(KeyRefused) as refused:
            authenticate(s, key)
        assert refused.value.status == 403
    rows = audit(demo_db, "api_key", "wechat-lead", mark)
    assert [x[1] for x in rows] == ["insert", "update"] and rows[1][3] == {"active": False}
    assert rows[0][3]["key_sha256"] == "(hidden)"


@pytest.mark.parametrize("name, status", [("", 422), ("a\x00b", 422), ("x" * 81, 422), ("fuzz-dup", 409)])
def test_a_bad_key_name_is_refused_naming_it(client, lead_grid, demo_db, name, status):
    from app.accounts.keys import add_api_key

    with demo_db.session() as s:
        add_api_key(s, "fuzz-dup", "operator")
    admin_client(client)
    r = post(client, "/admin/users/lead/keys", name=name)
    assert r.status_code == status and 'data-error="name"' in r.get_data(as_text=True)


# -- the demo accounts -----------------------------------------------------------------------------
def test_the_demo_accounts_are_removed_by_an_administrator_of_ones_own(app, client, lead_grid, demo_db):
    admin_client(client)
    assert 'id="gw-demo-remove"' in client.get("/admin/users").get_data(as_text=True)
    r = post(client, "/admin/demo-accounts/remove")
    assert r.status_code == 409 and "demo account" in r.get_data(as_text=True)  # logged in as the demo admin
    password = add_account(client, "chief", "admin")
    chief = app.test_client()
    r = chief.post("/login", data={"username": "chief", "password": password, "csrf_token": csrf(chief)})
    assert r.status_code == 302
    chief.token = csrf(chief, "/admin/users")
    mark = last_audit_id(demo_db)
    r = post(chief, "/admin/demo-accounts/remove")
    assert r.status_code == 303
    assert q(demo_db, "SELECT username FROM users") == [("chief",)]
    assert sorted(o for o, in q(demo_db, "SELECT object_id FROM audit_log WHERE id > :m AND object_type = 'user' "
                                          "AND action = 'delete' AND actor = 'chief'", m=mark)) == sorted(DEMO_ACCOUNTS)
    assert 'id="gw-demo-remove"' not in chief.get("/admin/users").get_data(as_text=True)


# -- member search ---------------------------------------------------------------------------------
def test_the_member_search_says_who_has_an_account_and_what_fits(client, lead_grid, demo_db):
    admin_client(client)
    member_id, name = q(demo_db, "SELECT m.id, m.name FROM users u JOIN members m ON m.id = u.member_id "
                                 "WHERE u.username = 'lead'")[0]
    r = client.get("/api/people/members", query_string={"q": name})
    assert r.status_code == 200
    found = {m["id"]: m for m in r.get_json()["members"]}
    assert found[member_id]["accounts"] == ["lead"] and found[member_id]["fits"]["grid_lead"] is True
    r = client.get("/api/people/members", query_string={"q": "x" * 61})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "q"
