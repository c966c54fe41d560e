"""Server-side sessions: a cookie copied before log-out, a password change or disabling the account is
dead afterwards; idle and absolute lifetimes (settings) end sessions; the account's ``active`` flag is
checked on every request; log-in never keeps the session from before it (fixation)."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text

from tests.app.dash_helpers import csrf, lead_grid, login  # noqa: F401  (fixture)


def saved_cookie(client) -> str:
    return client.get_cookie("session").value


def replay(app, cookie: str):
    """A second browser that presents a copied session cookie."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other


def first_reported(db) -> int:
    with db.session() as s:
        return s.execute(text("SELECT min(id) FROM incidents WHERE state = 'reported'")).scalar()


def assert_dead(app, cookie: str, token: str | None = None, incident: int | None = None):
    """The copied cookie reads nothing, posts nothing, and pages send it to the log-in page."""
    other = replay(app, cookie)
    assert other.get("/api/incidents").status_code == 401
    r = other.get("/dashboard/stats")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    if incident is not None:
        r = other.post(f"/api/incidents/{incident}/actions", json={"action": "accept"}, headers={"X-CSRF-Token": token})
        assert r.status_code == 401


def session_rows(db, username: str):
    with db.session() as s:
        return s.execute(text("SELECT s.id, s.ended_at IS NOT NULL AS ended, s.end_reason FROM user_sessions s "
                              "JOIN users u ON u.id = s.user_id WHERE u.username = :u ORDER BY s.id"),
                         {"u": username}).all()


def test_cookie_replayed_after_logout_is_refused(app, client, lead_grid, demo_db):
    login(client, "operator")
    cookie, token = saved_cookie(client), csrf(client, "/dashboard/stats")
    iid = first_reported(demo_db)
    assert replay(app, cookie).get("/api/incidents").status_code == 200  # the copy works while logged in
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert_dead(app, cookie, token, iid)
    with demo_db.session() as s:
        assert s.execute(text("SELECT state FROM incidents WHERE id = :i"), {"i": iid}).scalar() == "reported"
    assert [r.end_reason for r in session_rows(demo_db, "operator")] == ["logout"]


def test_only_the_tokens_digest_is_stored(client, lead_grid, demo_db):
    login(client, "planner")
    with client.session_transaction() as sess:
        token = sess["sid"]
        assert "user_id" not in sess
    with demo_db.session() as s:
        stored = s.execute(text("SELECT token_sha256 FROM user_sessions")).scalars().all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]


def test_password_change_by_cli_ends_the_accounts_sessions(app, client, cli, lead_grid, demo_db):
    login(client, "operator")
    cookie, token = saved_cookie(client), csrf(client, "/dashboard/stats")
    planner = app.test_client()
    login(planner, "planner")
    same = cli(demo_db, "users", "add", "operator", "--role", "operator", "--password-stdin",
               input="demo-operator-pw\n")  # re-saving the same password (demo-accounts again) keeps log-ins
    assert same.exit_code == 0, same.output
    assert replay(app, cookie).get("/api/incidents").status_code == 200
    r = cli(demo_db, "users", "add", "operator", "--role", "operator", "--password-stdin", input="a-new-password\n")
    assert r.exit_code == 0, r.output
    assert_dead(app, cookie, token, first_reported(demo_db))
    assert planner.get("/api/incidents").status_code == 200  # other accounts are not touched
    assert [r.end_reason for r in session_rows(demo_db, "operator")] == ["password"]


def test_password_page_ends_other_sessions_and_rotates_this_one(app, client, lead_grid, demo_db):
    login(client, "operator")
    before = saved_cookie(client)
    laptop = app.test_client()
    login(laptop, "operator")
    token = csrf(client, "/account/password")
    r = client.post("/account/password", data={"csrf_token": token, "current_password": "demo-operator-pw",
                                               "new_password": "brand-new-pw", "new_password_again": "brand-new-pw"})
    assert r.status_code == 302 and r.headers["Location"] == "/account/password?done=1"
    assert "密码已修改" in client.get("/account/password?done=1").get_data(as_text=True)
    assert client.get("/api/incidents").status_code == 200  # this browser carries on, with a new session
    with client.session_transaction() as sess:
        assert sess["csrf"] != token
    assert laptop.get("/api/incidents").status_code == 401
    assert_dead(app, before)
    assert [r.end_reason for r in session_rows(demo_db, "operator")] == ["rotated", "password", None]
    fresh = app.test_client()
    bad = fresh.post("/login", data={"username": "operator", "password": "demo-operator-pw", "csrf_token": csrf(fresh)})
    assert bad.status_code == 401
    good = fresh.post("/login", data={"username": "operator", "password": "brand-new-pw", "csrf_token": csrf(fresh)})
    assert good.status_code == 302


@pytest.mark.parametrize("form,field,message", [
    ({"current_password": "wrong-password", "new_password": "brand-new-pw", "new_password_again": "brand-new-pw"},
     "current_password", "当前密码不正确"),
    ({"current_password": "demo-operator-pw", "new_password": "short", "new_password_again": "short"},
     "new_password", "密码至少 8 个字符"),
    ({"current_password": "demo-operator-pw", "new_password": "brand-new-pw", "new_password_again": "brand-new-pX"},
     "new_password_again", "两次输入的新密码不一致"),
    ({"current_password": "demo-operator-pw", "new_password": "brand\x00new-pw", "new_password_again": "brand\x00new-pw"},
     "new_password", "U+0000"),
])
def test_password_page_names_the_wrong_field_and_changes_nothing(client, lead_grid, demo_db, form, field, message):
    login(client, "operator")
    with demo_db.session() as s:
        old_hash = s.execute(text("SELECT password_hash FROM users WHERE username = 'operator'")).scalar()
    r = client.post("/account/password", data={"csrf_token": csrf(client, "/account/password"), **form})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and f'id="error-{field}"' in html and message in html
    with demo_db.session() as s:
        assert s.execute(text("SELECT password_hash FROM users WHERE username = 'operator'")).scalar() == old_hash
    assert client.get("/api/incidents").status_code == 200


def test_password_page_needs_login_and_csrf(client, lead_grid):
    assert client.get("/account/password").headers["Location"].startswith("/login?next=/account/password")
    login(client, "planner")
    form = {"current_password": "demo-planner-pw", "new_password": "brand-new-pw", "new_password_again": "brand-new-pw"}
    assert client.post("/account/password", data=form).status_code == 400


def test_guessing_the_current_password_is_throttled(client, lead_grid):
    login(client, "planner")
    token = csrf(client, "/account/password")
    form = {"csrf_token": token, "new_password": "brand-new-pw", "new_password_again": "brand-new-pw"}
    for i in range(5):
        assert client.post("/account/password", data={**form, "current_password": f"guess-{i}"}).status_code == 400
    r = client.post("/account/password", data={**form, "current_password": "demo-planner-pw"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


def test_disabling_an_account_ends_its_sessions_for_good(app, client, cli, lead_grid, demo_db):
    login(client, "operator")
    cookie, token = saved_cookie(client), csrf(client, "/dashboard/stats")
    r = cli(demo_db, "users", "disable", "operator")
    assert r.exit_code == 0, r.output
    assert [r.end_reason for r in session_rows(demo_db, "operator")] == ["disabled"]  # at once, not on next use
    assert cli(demo_db, "users", "enable", "operator").exit_code == 0
    assert_dead(app, cookie, token, first_reported(demo_db))  # enabling does not revive the ended session
    login(app.test_client(), "operator")


def test_a_disabled_accounts_session_is_refused_before_any_enable(app, client, cli, lead_grid, demo_db):
    login(client, "operator")
    cookie = saved_cookie(client)
    assert cli(demo_db, "users", "disable", "operator").exit_code == 0
    assert_dead(app, cookie)


def test_disabled_account_cannot_log_in(client, cli, lead_grid, demo_db):
    assert cli(demo_db, "users", "disable", "planner").exit_code == 0
    r = client.post("/login", data={"username": "planner", "password": "demo-planner-pw", "csrf_token": csrf(client)})
    assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)
    missing = cli(demo_db, "users", "disable", "nobody")
    assert missing.exit_code == 3 and "no account named 'nobody'" in missing.output


def test_active_flag_is_checked_on_every_request(client, lead_grid, demo_db):
    login(client, "operator")
    assert client.get("/api/incidents").status_code == 200
    with demo_db.session() as s:
        s.execute(text("UPDATE users SET active = false WHERE username = 'operator'"))
    assert client.get("/api/incidents").status_code == 401
    r = client.get("/dashboard/operator")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def _age(db, username: str, **columns: str) -> None:
    sets = ", ".join(f"{col} = now() - interval '{age}'" for col, age in columns.items())
    with db.session() as s:
        s.execute(text(f"UPDATE user_sessions SET {sets} WHERE user_id = "
                       "(SELECT id FROM users WHERE username = :u)"), {"u": username})


@pytest.fixture
def short_app(settings, demo_db):
    """The app with short lifetimes: 5 minutes idle, 2 hours at most."""
    from app import create_app

    application = create_app(settings.replace(session_idle_minutes=5, session_max_hours=2), database=demo_db)
    application.config.update(TESTING=True)
    return application


@pytest.mark.parametrize("last_seen,alive", [("4 minutes 50 seconds", True), ("5 minutes 10 seconds", False)])
def test_idle_sessions_end(short_app, lead_grid, demo_db, last_seen, alive):
    client = short_app.test_client()
    login(client, "operator")
    _age(demo_db, "operator", last_seen_at=last_seen)
    assert client.get("/api/incidents").status_code == (200 if alive else 401)
    assert [r.end_reason for r in session_rows(demo_db, "operator")] == [None if alive else "idle"]


@pytest.mark.parametrize("created,alive", [("1 hour 59 minutes", True), ("2 hours 1 minute", False)])
def test_sessions_end_after_their_absolute_lifetime_however_busy(short_app, lead_grid, demo_db, created, alive):
    client = short_app.test_client()
    login(client, "operator")
    _age(demo_db, "operator", created_at=created, last_seen_at="1 second")
    assert client.get("/api/incidents").status_code == (200 if alive else 401)
    assert [r.end_reason for r in session_rows(demo_db, "operator")] == [None if alive else "expired"]


def test_default_lifetimes_come_from_the_settings(client, lead_grid, demo_db):
    login(client, "operator")
    _age(demo_db, "operator", last_seen_at="119 minutes", created_at="11 hours 59 minutes")
    assert client.get("/api/incidents").status_code == 200  # 120 minutes idle, 12 hours at most by default
    _age(demo_db, "operator", last_seen_at="121 minutes")
    assert client.get("/api/incidents").status_code == 401


@pytest.mark.parametrize("age,touched", [("10 seconds", False), ("5 minutes", True)])
def test_last_seen_is_written_at_most_once_a_minute(client, lead_grid, demo_db, age, touched):
    login(client, "operator")
    _age(demo_db, "operator", last_seen_at=age)
    assert client.get("/api/incidents").status_code == 200
    with demo_db.session() as s:
        fresh = s.execute(text("SELECT last_seen_at = now() FROM user_sessions")).scalar()
    assert fresh is touched


def test_login_discards_the_session_from_before_login(app, client, lead_grid, demo_db):
    with client.session_transaction() as sess:  # a session an attacker planted (fixation)
        sess["sid"], sess["csrf"], sess["user_id"] = "planted-token", "planted-csrf", 1
    attacker = replay(app, saved_cookie(client))
    r = client.post("/login", data={"username": "operator", "password": "demo-operator-pw",
                                    "csrf_token": "planted-csrf"})
    assert r.status_code == 302
    with client.session_transaction() as sess:
        assert sess["sid"] != "planted-token" and sess["csrf"] != "planted-csrf" and "user_id" not in sess
    assert client.get("/api/incidents").status_code == 200
    assert attacker.get("/api/incidents").status_code == 401  # the planted cookie did not get logged in


def test_login_over_a_live_session_ends_it(app, client, lead_grid, demo_db):
    login(client, "planner")
    planner_cookie = saved_cookie(client)
    login(client, "operator")
    assert_dead(app, planner_cookie)
    assert [r.end_reason for r in session_rows(demo_db, "planner")] == ["replaced"]
    assert client.get("/dashboard/operator").status_code == 200


def test_language_survives_login_and_logout(client, lead_grid):
    client.get("/login?lang=en")
    login(client, "operator")
    assert "Log out" in client.get("/dashboard/stats").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf(client, "/dashboard/stats")})
    assert "Log in" in client.get("/login").get_data(as_text=True)
