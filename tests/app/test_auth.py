"""Log-in, sessions, CSRF, roles, scoping, masking and language through the Flask client."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from app.demo import DEMO_ACCOUNTS
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
    version = demo_session.execute(text("SELECT version FROM incidents WHERE id = :i"), {"i": iid}).scalar()
    r = client.post(f"/api/incidents/{iid}/actions", json={"action": "accept", "version": version},
                    headers={"X-CSRF-Token": csrf(client, "/dashboard/stats")})
    assert r.status_code == 200 and r.get_json()["state"] == "accepted"


# as they appear in the URL's query (percent-encoded); the first ones are those of issue 11
NASTY_NEXT = [
    "/%09/evil.com", "%0d%0aSet-Cookie:x", "/\\evil.com", "https://evil.com", "//evil.com", "/ /evil.com",
    "/%5C/evil.com", "%2F%2Fevil.com", "/%252F%252Fevil.com", "javascript:alert(1)",
]
MORE_NASTY_NEXT = [
    "/%5Cevil.com", "%5C%5Cevil.com", "https:evil.com", "///evil.com", "/%20/evil.com", "/%0a/evil.com",
    "/%00/evil.com", "/%E2%80%8B/evil.com", "/%C2%A0/evil.com", "/%2F%2Fevil.com", "/%25252F%25252Fevil.com",
    "%09javascript:alert(1)", "evil.com", "http://localhost@evil.com", "", "%20", "/" + "a" * 3000,
]


@pytest.mark.parametrize("nxt", NASTY_NEXT)
def test_login_refuses_open_redirect(client, lead_grid, nxt):
    r = client.post(f"/login?next={nxt}", data={"username": "planner", "csrf_token": csrf(client),
                                                "password": DEMO_ACCOUNTS["planner"][1]})
    assert r.status_code == 302 and r.headers["Location"] == "/dashboard/planner"
    assert [c.split("=")[0] for c in r.headers.getlist("Set-Cookie")] == ["session"]


@pytest.mark.parametrize("nxt", NASTY_NEXT + MORE_NASTY_NEXT)
def test_safe_next_refuses_other_origins(nxt):
    from urllib.parse import unquote

    from app.accounts.auth import safe_next

    assert safe_next(unquote(nxt)) is None  # the query arrives decoded once, as Flask hands it over


@pytest.mark.parametrize("nxt,location", [
    ("/dashboard/stats?x=1", "/dashboard/stats?x=1"),
    ("/dashboard/operator%3Fstate%3Dall%26category%3Dtraffic", "/dashboard/operator?state=all&category=traffic"),
    ("/dashboard/grid?grid=510304001001001", "/dashboard/grid?grid=510304001001001"),
    # what a browser would do with a tab or a line break: drop it (so no header can be injected)
    ("/dashboard/stats%09", "/dashboard/stats"),
    ("/%0d%0aSet-Cookie:x=1", "/Set-Cookie:x=1"),
    ("/dashboard%5Cstats", "/dashboard/stats"),  # and a backslash is a slash
])
def test_login_follows_a_same_origin_next(client, lead_grid, nxt, location):
    r = client.post(f"/login?next={nxt}", data={"username": "planner", "csrf_token": csrf(client),
                                                "password": DEMO_ACCOUNTS["planner"][1]})
    assert r.status_code == 302 and r.headers["Location"] == location
    assert [c.split("=")[0] for c in r.headers.getlist("Set-Cookie")] == ["session"]


def test_a_page_asked_for_before_login_is_shown_after_it(client, lead_grid):
    r = client.get("/dashboard/stats?x=1")
    assert r.status_code == 302
    page = r.headers["Location"]
    r = client.post(page, data={"username": "planner", "csrf_token": csrf(client),
                                "password": DEMO_ACCOUNTS["planner"][1]})
    assert r.headers["Location"] == "/dashboard/stats?x=1"


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
    assert f'data-incident="{iid}"' in html and "gw-overdue" in html
    with demo_db.session() as s:  # the version the page shows (the detail panel sends it with the action)
        version = s.execute(text("SELECT version FROM incidents WHERE id = :i"), {"i": iid}).scalar()
    assert f'data-version="{version}"' in html
    r = client.post(f"/api/incidents/{iid}/actions",
                    data={"action": "start", "version": str(version), "csrf_token": csrf(client, "/dashboard/stats"),
                          "next": "/dashboard/grid"})
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


# -- log-in throttling ---------------------------------------------------------------------------------
def attempt(client, username: str, password: str, addr: str = "127.0.0.1"):
    env = {"REMOTE_ADDR": addr}
    token = csrf(client)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                       environ_base=env)


def attempts(db):
    with db.session() as s:
        return s.execute(text("SELECT username, client_addr, success, reason FROM login_attempts ORDER BY id")).all()


def test_five_failures_throttle_the_account_even_for_the_right_password(client, lead_grid, demo_db):
    for i in range(5):
        assert attempt(client, "operator", f"wrong-{i}").status_code == 401
    r = attempt(client, "operator", "demo-operator-pw")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 15 * 60  # all failures are of this instant
    assert "登录失败次数过多，请 15 分钟后再试" in r.get_data(as_text=True)
    assert client.get("/api/incidents").status_code == 401
    assert [tuple(a) for a in attempts(demo_db)] == (
        [("operator", "127.0.0.1", False, "wrong_password")] * 5 + [("operator", "127.0.0.1", False, "throttled")])
    with demo_db.session() as s:  # 16 minutes later the failures have left the window
        s.execute(text("UPDATE login_attempts SET at = at - interval '16 minutes'"))
    assert attempt(client, "operator", "demo-operator-pw").status_code == 302


def test_retry_after_is_when_the_oldest_counted_failure_leaves_the_window(client, lead_grid, demo_db):
    for i in range(5):
        attempt(client, "operator", f"wrong-{i}")
    with demo_db.session() as s:
        s.execute(text("UPDATE login_attempts SET at = at - interval '10 minutes' WHERE id = "
                       "(SELECT min(id) FROM login_attempts)"))
    r = attempt(client, "operator", "demo-operator-pw", addr="10.9.9.9")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 5 * 60
    r = attempt(client, "operator", "demo-operator-pw", addr="10.9.9.9")  # throttled tries do not prolong it
    assert int(r.headers["Retry-After"]) == 5 * 60
    assert "登录失败次数过多，请 5 分钟后再试" in r.get_data(as_text=True)


def _address_limit(client) -> int:
    return client.application.extensions["gridwatch.settings"].login_max_failures_per_address


def test_one_client_address_is_throttled_across_account_names(client, lead_grid):
    for i in range(_address_limit(client)):
        assert attempt(client, f"nobody{i}", "whatever-pw", addr="10.0.0.1").status_code == 401
    assert attempt(client, "operator", "demo-operator-pw", addr="10.0.0.1").status_code == 429
    assert attempt(client, "operator", "demo-operator-pw", addr="10.0.0.2").status_code == 302


def test_an_own_account_does_not_reset_the_address_count(client, lead_grid):
    """Spraying guesses at other accounts from one address, logging in with one's own account between
    batches: the address's failures still add up to the throttle."""
    limit, sent = _address_limit(client), 0
    while sent < limit:
        for _ in range(min(3, limit - sent)):
            assert attempt(client, f"victim{sent}", "guess-pw", addr="10.0.0.7").status_code == 401
            sent += 1
        if sent < limit:
            assert attempt(client, "planner", "demo-planner-pw", addr="10.0.0.7").status_code == 302
    assert attempt(client, "victim0", "guess-pw", addr="10.0.0.7").status_code == 429


def test_one_account_is_throttled_across_client_addresses(client, lead_grid):
    for i in range(5):
        assert attempt(client, "operator", "wrong-password", addr=f"10.0.1.{i}").status_code == 401
    assert attempt(client, "operator", "demo-operator-pw", addr="10.0.1.99").status_code == 429
    assert attempt(client, "planner", "demo-planner-pw", addr="10.0.1.99").status_code == 302


def test_a_successful_login_starts_the_accounts_count_anew(client, lead_grid):
    for i in range(4):
        attempt(client, "operator", f"wrong-{i}")
    assert attempt(client, "operator", "demo-operator-pw").status_code == 302
    for i in range(4):
        assert attempt(client, "operator", f"wrong-again-{i}").status_code == 401
    assert attempt(client, "operator", "demo-operator-pw").status_code == 302


@pytest.fixture
def strict_app(settings, demo_db):
    from app import create_app

    application = create_app(settings.replace(login_max_failures=2, login_window_minutes=3), database=demo_db)
    application.config.update(TESTING=True)
    return application


def test_throttle_limits_come_from_the_settings(strict_app, lead_grid):
    client = strict_app.test_client()
    for i in range(2):
        assert attempt(client, "planner", f"wrong-{i}").status_code == 401
    r = attempt(client, "planner", "demo-planner-pw")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) == 3 * 60
    client.get("/login?lang=en")
    assert "Too many failed log-ins: try again in 3 min" in attempt(client, "planner", "x" * 9).get_data(as_text=True)


@pytest.mark.parametrize("username,field,recorded", [
    ("ab\x00cd", "username", "ab\\x00cd"),
    ("evil\u202eman", "username", "evil\\u202eman"),
    ("line\r\nbreak", "username", "line\\r\\nbreak"),
    ("x" * 201, "username", "x" * 200),
    ("", "username", ""),
    ("operator", "password", "operator"),  # an empty password
])
def test_bad_login_forms_are_named_400s_and_recorded(client, lead_grid, demo_db, username, field, recorded):
    r = attempt(client, username, "" if field == "password" else "some-password")
    assert r.status_code == 400 and f"{field}: " in r.get_data(as_text=True)
    assert [tuple(a) for a in attempts(demo_db)] == [(recorded, "127.0.0.1", False, "invalid_form")]


def test_every_attempt_is_recorded_with_its_reason(client, cli, lead_grid, demo_db):
    assert cli(demo_db, "users", "disable", "planner").exit_code == 0
    attempt(client, "nobody", "whatever-pw", addr="10.1.1.1")
    attempt(client, "operator", "wrong-password", addr="10.1.1.2")
    attempt(client, "planner", "demo-planner-pw", addr="10.1.1.3")
    attempt(client, "operator", "demo-operator-pw", addr="10.1.1.4")
    assert [tuple(a) for a in attempts(demo_db)] == [
        ("nobody", "10.1.1.1", False, "unknown_user"), ("operator", "10.1.1.2", False, "wrong_password"),
        ("planner", "10.1.1.3", False, "inactive"), ("operator", "10.1.1.4", True, "ok")]


def test_unknown_and_known_accounts_take_the_same_time(settings, demo_db, lead_grid):
    """A behaviour test, not a benchmark: without the dummy hash an unknown name answers ~20x faster."""
    import statistics
    import time

    from app import create_app

    client = create_app(settings.replace(login_max_failures=1000), database=demo_db).test_client()

    def timed(username: str) -> float:
        token = csrf(client)
        start = time.perf_counter()
        r = client.post("/login", data={"username": username, "password": "wrong-password", "csrf_token": token})
        elapsed = time.perf_counter() - start
        assert r.status_code == 401
        return elapsed

    timed("nobody-at-all"), timed("operator")  # warm-up (the dummy hash is made on first use)
    unknown = statistics.median(timed(f"nobody-{i}") for i in range(5))
    known = statistics.median(timed("operator") for _ in range(5))
    assert max(unknown, known) / min(unknown, known) < 3, (unknown, known)


def test_roles_of_the_cli_are_the_account_roles():
    from app.accounts.models import ACCOUNT_ROLES
    from app.cli import users_add

    role = next(p for p in users_add.params if p.name == "role")
    assert tuple(role.type.choices) == ACCOUNT_ROLES


def test_old_login_attempts_are_pruned_every_few_hundred_attempts(client, lead_grid, demo_db):
    """The table of attempts stays bounded: rows older than login_attempts_keep_days go, newer ones stay."""
    from app.accounts import throttle

    keep = client.application.extensions["gridwatch.settings"].login_attempts_keep_days
    with demo_db.session() as s:
        s.execute(text("INSERT INTO login_attempts (username, client_addr, at, success, reason) VALUES "
                       "('old', '10.1.1.1', now() - make_interval(days => :old), false, 'wrong_password'), "
                       "('recent', '10.1.1.1', now() - make_interval(days => :recent), false, 'wrong_password')"),
                  {"old": keep + 1, "recent": keep - 1})
        nxt = s.execute(text("SELECT last_value FROM login_attempts_id_seq")).scalar()
        # the next attempt gets an id that is a multiple of PRUNE_EVERY: it prunes
        target = (nxt // throttle.PRUNE_EVERY + 1) * throttle.PRUNE_EVERY
        s.execute(text("SELECT setval('login_attempts_id_seq', :v)"), {"v": target - 1})
    attempt(client, "operator", "demo-operator-pw", addr="10.1.1.2")
    with demo_db.session() as s:
        names = set(s.execute(text("SELECT username FROM login_attempts WHERE client_addr = '10.1.1.1'")).scalars())
    assert names == {"recent"}
