"""Log-in, sessions, CSRF, roles, scoping, masking and language through the Flask client."""
from __future__ import annotations

from sqlalchemy import text

from tests.app.dash_helpers import csrf, lead_grid, login  # noqa: F401  (fixture)


def test_pages_need_login(client, lead_grid):
    r = client.get("/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    r = client.get("/dashboard/operator")
    assert r.status_code == 302 and "/login?next=" in r.headers["Location"]
    assert client.get("/api/incidents").status_code == 401


def test_login_sends_each_role_home_and_logout_ends_session(client, lead_grid):
    for account, home in (("operator", "/dashboard/operator"), ("planner", "/dashboard/planner"),
                          ("lead", "/dashboard/grid")):
        assert login(client, account).headers["Location"] == home
        token = csrf(client, "/dashboard/stats")
        assert client.post("/logout", data={"csrf_token": token}).status_code == 302
        assert client.get("/dashboard/stats").status_code == 302


def test_wrong_password_is_refused(client, lead_grid):
    r = client.post("/login", data={"username": "operator", "password": "nope-nope", "csrf_token": csrf(client)})
    assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)


def test_post_without_csrf_token_is_400(client, lead_grid, demo_session):
    r = client.post("/login", data={"username": "operator", "password": "demo-operator-pw"})
    assert r.status_code == 400
    login(client, "operator")
    iid = demo_session.execute(text("SELECT min(id) FROM incidents WHERE state = 'reported'")).scalar()
    assert client.post(f"/api/incidents/{iid}/actions", json={"action": "accept"}).status_code == 400
    assert client.post(f"/api/incidents/{iid}/actions", json={"action": "accept"},
                       headers={"X-CSRF-Token": "forged"}).status_code == 400
    assert client.post("/logout").status_code == 400
    r = client.post(f"/api/incidents/{iid}/actions", json={"action": "accept"},
                    headers={"X-CSRF-Token": csrf(client, "/dashboard/stats")})
    assert r.status_code == 200 and r.get_json()["state"] == "accepted"


def test_login_refuses_open_redirect(client, lead_grid):
    from app.demo import DEMO_ACCOUNTS

    r = client.post("/login?next=//evil.example/x", data={"username": "planner", "csrf_token": csrf(client),
                                                          "password": DEMO_ACCOUNTS["planner"][1]})
    assert r.headers["Location"] == "/dashboard/planner"


def test_roles_are_enforced(client, lead_grid):
    login(client, "planner")
    assert client.get("/dashboard/operator").status_code == 403
    assert client.get("/dashboard/grid").status_code == 403
    login(client, "lead")
    assert client.get("/dashboard/planner").status_code == 403
    assert client.get("/api/coverage/plan?k=2").status_code == 403


def test_grid_lead_sees_only_own_grid(client, lead_grid, demo_session):
    login(client, "lead")
    fc = client.get("/api/incidents?state=all").get_json()
    expected = demo_session.execute(text("SELECT count(*) FROM incidents WHERE grid_code = :g"),
                                    {"g": lead_grid}).scalar()
    assert fc["total"] == expected > 0
    other = demo_session.execute(text("SELECT min(id) FROM incidents WHERE grid_code <> :g"), {"g": lead_grid}).scalar()
    assert client.get(f"/api/incidents/{other}").status_code == 404
    token = csrf(client, "/dashboard/stats")
    assert client.post(f"/api/incidents/{other}/actions", data={"action": "comment", "csrf_token": token}
                       ).status_code == 404
    hits = client.get("/api/search?q=5103040").get_json()
    assert hits and all(h["id"].startswith(lead_grid) for h in hits if h["kind"] == "grid")
    stats = client.get("/dashboard/stats/per_grid.csv").get_data(as_text=True)
    assert lead_grid in stats and len(stats.strip().splitlines()) == 2  # header + their one grid


def test_grid_lead_action_form_calls_transition(client, lead_grid, demo_db):
    with demo_db.session() as s:
        iid = s.execute(text(
            "UPDATE incidents SET state = 'dispatched', deadline = now() - interval '1 hour' WHERE id = "
            "(SELECT min(id) FROM incidents WHERE grid_code = :g) RETURNING id"), {"g": lead_grid}).scalar()
    login(client, "lead")
    html = client.get("/dashboard/grid?max=50").get_data(as_text=True)
    assert f'data-incident="{iid}"' in html and "gw-overdue" in html and 'value="start"' in html
    r = client.post(f"/api/incidents/{iid}/actions",
                    data={"action": "start", "csrf_token": csrf(client, "/dashboard/stats"), "next": "/dashboard/grid"})
    assert r.status_code == 302
    with demo_db.session() as s:
        assert s.execute(text("SELECT state FROM incidents WHERE id = :i"), {"i": iid}).scalar() == "in_progress"


def test_reporter_and_member_phones_are_masked_by_role(client, lead_grid, demo_session):
    iid, phone = demo_session.execute(text(
        "SELECT id, reporter_phone FROM incidents WHERE grid_code = :g AND length(reporter_phone) = 11 "
        "ORDER BY id LIMIT 1"), {"g": lead_grid}).one()
    login(client, "operator")
    assert client.get(f"/api/incidents/{iid}").get_json()["incident"]["reporter_phone"] == phone
    login(client, "planner")
    masked = client.get(f"/api/incidents/{iid}").get_json()["incident"]
    assert masked["reporter_phone"] == phone[:3] + "****" + phone[-4:]
    assert masked["reporter_name"][1:] == "*" * (len(masked["reporter_name"]) - 1)
    login(client, "lead")
    member_phone = demo_session.execute(text(
        "SELECT m.phone FROM members m JOIN member_roles r ON r.member_id = m.id WHERE r.grid_code = :g LIMIT 1"),
        {"g": lead_grid}).scalar()
    assert member_phone in client.get("/dashboard/grid?max=10").get_data(as_text=True)


def test_language_switch_is_remembered(client, lead_grid):
    assert "登录" in client.get("/login").get_data(as_text=True)
    assert "Log in" in client.get("/login?lang=en").get_data(as_text=True)
    assert "Log in" in client.get("/login").get_data(as_text=True)
    login(client, "operator")
    html = client.get("/dashboard/stats").get_data(as_text=True)
    assert "Incidents per month" in html and "每月事件数" not in html
