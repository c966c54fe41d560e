"""Accounts in the browser: a user is disabled and can no longer log in (desktop admin, the user on a
phone), the add form's member search on a phone, each change with its audit row. Each test makes the
accounts it changes (the database is shared by the session's browser tests) and removes them at the end."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text



#: fits a member's name (40 characters)
XSS_MEMBER = '<img src=x onerror="window.__xss=5">'


def _rows(live_data, sql: str, **params):
    with live_data[0].connect() as conn:
        return conn.execute(text(sql), params).all()


@pytest.fixture
def name(live_data):
    """A fresh account name; whatever the test left of it is removed afterwards."""
    from app.db import Database

    username = f"h5-{uuid.uuid4().hex[:8]}"
    yield username
    with Database(live_data[0]).session() as s:
        s.execute(text("DELETE FROM users WHERE username = :u"), {"u": username})


def log_in_as(watched, username: str, password: str):
    watched.goto("/login")
    watched.page.fill("input[name=username]", username)
    watched.page.fill("input[name=password]", password)
    with watched.page.expect_navigation():
        watched.page.click("button[type=submit]")


def test_a_user_is_disabled_and_can_no_longer_log_in(web, phone, live_data, name):
    admin = web.page
    web.login("admin")
    web.goto("/admin/users")
    admin.fill("#gw-add-form input[name=username]", name)
    admin.select_option("#gw-add-form select[name=role]", "operator")
    assert admin.locator("#gw-add-form .gw-scope").is_hidden()  # a district role needs no member
    with admin.expect_navigation():
        admin.click("#gw-add-form button[type=submit]")
    password = admin.locator("#gw-secret").inner_text().strip()
    assert len(password) >= 16 and password not in admin.url

    # the new operator works on a phone
    log_in_as(phone, name, password)
    assert "/dashboard/operator" in phone.page.url

    web.goto(f"/admin/users/{name}")
    assert admin.locator("#gw-sessions tr[data-session]").count() == 1  # the phone's log-in, live
    with admin.expect_navigation():
        admin.click("#gw-toggle-active")
    assert admin.locator("#gw-done").get_attribute("data-done") == "disabled"
    assert admin.locator("#gw-user-state").inner_text() == "已停用"
    assert admin.locator("#gw-no-sessions").is_visible()

    phone.goto("/dashboard/operator")  # the open session ended at once
    assert "/login" in phone.page.url
    log_in_as(phone, name, password)
    assert "/login" in phone.page.url and "用户名或密码错误" in phone.page.content()

    (actor, before, after), = _rows(live_data, "SELECT actor, before, after FROM audit_log WHERE object_type = 'user' "
                                               "AND object_id = :u AND action = 'update'", u=name)
    assert (actor, before, after) == ("admin", {"active": True}, {"active": False})

    # removed (the name typed again), which leaves nothing for a later test
    button = admin.locator("#gw-remove-form button[type=submit]")
    assert button.is_disabled()
    admin.fill("#gw-remove-form input[name=confirm]", name)
    with admin.expect_navigation():
        button.click()
    assert admin.locator("#gw-done").get_attribute("data-done") == "removed"
    assert _rows(live_data, "SELECT action FROM audit_log WHERE object_id = :u ORDER BY id", u=name) == [
        ("insert",), ("update",), ("delete",)]
    assert web.errors == [] and web.blocked == [] and phone.blocked == []
    # the operator page's poll after the session ended is refused (401): that is the point
    assert all("401" in e for e in phone.errors), phone.errors


def test_a_member_account_is_added_on_a_phone_through_the_member_search(phone, live_data, name):
    from app.db import Database

    member_id, member_name = _rows(live_data, "SELECT m.id, m.name FROM members m JOIN users u ON u.member_id = m.id "
                                              "WHERE u.username = 'member'")[0]
    with Database(live_data[0]).session() as s:  # a member whose name is a payload: shown as text
        xss_member = s.execute(text("INSERT INTO members (name) VALUES (:n) RETURNING id"), {"n": XSS_MEMBER}).scalar()
    try:
        page = phone.page
        phone.login("admin")
        phone.goto("/admin/users")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        page.select_option("#gw-add-form select[name=role]", "member")
        assert page.locator("#gw-add-form .gw-scope").is_visible()
        assert page.locator("#gw-add-form input[name=grid]").is_hidden()  # only a grid lead is named by its grid
        for control in ("#gw-add-form input[name=username]", "#gw-add-form select[name=role]", "#gw-add-form .gw-member-q",
                        "#gw-add-form button[type=submit]", "#gw-user-filters button"):
            box = page.locator(control).bounding_box()
            assert box["height"] >= 44, control
        page.fill("#gw-add-form input[name=username]", name)
        page.fill("#gw-add-form .gw-member-q", XSS_MEMBER[:10])
        page.locator(f"#gw-add-form .gw-found li[data-member='{xss_member}']").wait_for()
        assert page.evaluate("() => window.__xss") is None
        page.fill("#gw-add-form .gw-member-q", member_name)
        found = page.locator(f"#gw-add-form .gw-found li[data-member='{member_id}']")
        found.wait_for()
        assert "member" in found.inner_text() and found.get_attribute("data-fits") == "1"  # has the demo account
        found.locator("button").tap()
        assert page.input_value("#gw-add-form input[name=member]") == str(member_id)
        phone.screenshot("phone-admin-users-add")
        with page.expect_navigation():
            page.locator("#gw-add-form button[type=submit]").tap()
        assert page.locator("#gw-secret").is_visible()
        assert _rows(live_data, "SELECT role, member_id FROM users WHERE username = :u", u=name) == [("member", member_id)]
        page.tap("#gw-continue")
        page.wait_for_selector("#gw-user")
        assert f'data-member="{member_id}"' in page.content()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        for control in ("#gw-toggle-active", "#gw-reset-form button", "#gw-key-form input[name=name]",
                        "#gw-remove-form input[name=confirm]"):
            assert page.locator(control).bounding_box()["height"] >= 44, control
        phone.screenshot("phone-admin-user")
        assert phone.errors == [] and phone.blocked == []
    finally:
        with Database(live_data[0]).session() as s:
            s.execute(text("DELETE FROM members WHERE id = :m"), {"m": xss_member})
