"""Grids and members in headless Chromium: an administrator adds a member, assigns them, moves them to
another grid and unassigns them, each change with its audit rows; a grid changed behind an open page shows
the conflict and writes nothing; a grid lead's grid page on a phone."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.browser


def _clean(web):
    assert web.blocked == [], f"requests left the machine: {web.blocked}"
    assert web.errors == [], f"console errors: {web.errors}"
    assert web.page.evaluate("window.__xss") is None


@pytest.fixture
def h3(live_data):
    """Two grids no other browser test uses, and the members these tests add (deleted afterwards)."""
    engine = live_data[0]
    with engine.begin() as c:
        a, b = c.execute(text("SELECT code FROM grids ORDER BY code OFFSET 110 LIMIT 2")).scalars().all()
    name = "浏览器测试员" + uuid.uuid4().hex[:6]
    yield {"engine": engine, "a": a, "b": b, "name": name}
    with engine.begin() as c:
        c.execute(text("DELETE FROM members WHERE name LIKE '浏览器测试员%'"))


def _row(web, name):
    return web.page.locator(f'#gw-grid-members tr[data-name="{name}"]')


def _saved(web):
    web.page.wait_for_selector("#gw-grid-status.gw-ok", timeout=15000)


def test_a_member_is_assigned_moved_and_unassigned(web, h3):
    a, b, name = h3["a"], h3["b"], h3["name"]
    web.login("admin")
    web.goto(f"/grids/{a}")
    web.page.wait_for_selector("#gw-grid-map[data-ready]")
    form = web.page.locator("#gw-assign-form")
    form.locator("#gw-new-name").fill(name)
    form.locator("#gw-new-phone").fill("138-0000-1234")
    form.locator('input[name=role][value=security]').check()
    form.locator("#gw-assign-go").click()
    _saved(web)
    row = _row(web, name)
    assert row.count() == 1 and "治安巡查员" in row.locator(".gw-member-roles").inner_text()

    # the destination changes behind the page (someone joins it): the move shows its members, writes nothing
    with h3["engine"].begin() as c:
        intruder = c.execute(text("INSERT INTO members (name) VALUES (:n) RETURNING id"), {"n": name + "乙"}).scalar()
        c.execute(text("INSERT INTO member_roles (member_id, grid_code, role) VALUES (:m, :g, 'mediator')"),
                  {"m": intruder, "g": b})
    row.locator(".gw-act-move summary").click()
    row.locator(".gw-move-form input[name=to]").fill(b)
    row.locator(".gw-move-form button[type=submit]").click()
    web.page.wait_for_selector("#gw-grid-conflict:not([hidden])", timeout=15000)
    assert b in web.page.locator("#gw-grid-conflict-text").inner_text()
    assert name + "乙" in web.page.locator("#gw-grid-conflict-members").inner_text()
    with h3["engine"].begin() as c:
        assert c.execute(text("SELECT count(*) FROM member_roles r JOIN members m ON m.id = r.member_id "
                              "WHERE m.name = :n AND r.grid_code = :a"), {"n": name, "a": a}).scalar() == 1
    web.page.locator("#gw-grid-reload").click()  # the page reads the destination's version anew
    web.page.wait_for_selector("#gw-grid-map[data-ready]")
    row = _row(web, name)
    row.locator(".gw-act-move summary").click()
    row.locator(".gw-move-form input[name=to]").fill(b)
    row.locator(".gw-move-form button[type=submit]").click()
    _saved(web)
    assert _row(web, name).count() == 0
    web.goto(f"/grids/{b}")
    row = _row(web, name)
    assert row.count() == 1 and "治安巡查员" in row.locator(".gw-member-roles").inner_text()

    web.page.once("dialog", lambda d: d.accept())
    row.locator(".gw-act-unassign summary").click()
    row.locator(".gw-unassign-form button[type=submit]").click()
    _saved(web)
    assert _row(web, name).count() == 0
    web.errors = [e for e in web.errors if "409" not in e]  # the conflict's answer, shown in the page
    _clean(web)

    with h3["engine"].connect() as c:
        member = c.execute(text("SELECT id FROM members WHERE name = :n"), {"n": name}).scalar()
        rows = c.execute(text(
            "SELECT actor, object_type, action, coalesce(after, before) ->> 'grid_code', coalesce(after, before) ->> 'role' "
            "FROM audit_log WHERE object_type = 'member' AND object_id = :m OR object_type = 'member_role' AND "
            "object_id IN (:m || '@' || :a, :m || '@' || :b) ORDER BY id"), {"m": str(member), "a": a, "b": b}).all()
    assert {r[0] for r in rows} == {"admin"}
    assert [tuple(r[1:]) for r in rows] == [("member", "insert", None, None), ("member_role", "insert", a, "security"),
                                            ("member_role", "delete", a, "security"),
                                            ("member_role", "insert", b, "security"),
                                            ("member_role", "delete", b, "security")]


def test_a_grid_changed_behind_the_page_shows_the_conflict_and_writes_nothing(web, h3):
    a, name = h3["a"], h3["name"]
    with h3["engine"].begin() as c:
        member = c.execute(text("INSERT INTO members (name) VALUES (:n) RETURNING id"), {"n": name}).scalar()
        c.execute(text("INSERT INTO member_roles (member_id, grid_code, role) VALUES (:m, :g, 'security')"),
                  {"m": member, "g": a})
    web.login("admin")
    web.goto(f"/grids/{a}")
    with h3["engine"].begin() as c:  # someone else's change after the page was read
        c.execute(text("INSERT INTO member_roles (member_id, grid_code, role) VALUES (:m, :g, 'mediator')"),
                  {"m": member, "g": a})
    row = _row(web, name)
    row.locator(".gw-act-roles summary").click()
    row.locator('.gw-roles-form input[value=publicity]').check()
    row.locator(".gw-roles-form button[type=submit]").click()
    web.page.wait_for_selector("#gw-grid-conflict:not([hidden])", timeout=15000)
    listed = web.page.locator("#gw-grid-conflict-members").inner_text()
    assert name in listed and "矛盾纠纷调解员" in listed
    with h3["engine"].connect() as c:
        roles = c.execute(text("SELECT role FROM member_roles WHERE member_id = :m ORDER BY role"), {"m": member}).scalars().all()
    assert roles == ["mediator", "security"]  # the stale form's publicity was not written
    web.errors = [e for e in web.errors if "409" not in e]
    _clean(web)


def test_a_grid_lead_on_a_phone(phone, live_data):
    grid = live_data[1]["grid"]
    phone.login("lead")
    phone.goto("/grids")
    assert phone.page.locator("#gw-grids-list tr[data-grid]").count() == 1
    phone.page.click(f'a[href="/grids/{grid}"]')
    phone.page.wait_for_selector("#gw-grid-map[data-ready]")
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways ({width} px)"
    summary = phone.page.locator(".gw-act-roles summary").first
    assert summary.bounding_box()["height"] >= 44
    assert phone.page.locator("#gw-assign-form").count() == 0  # assigning is the administrator's
    assert phone.page.evaluate("window.__xss") is None  # the lead's grid carries a script in its name
    assert phone.blocked == [] and phone.errors == []
