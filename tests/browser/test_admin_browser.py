"""/admin/reference and /admin/audit in a real browser: a category saved, a stale edit shown side by side
and written only after taking the stored row, a bad field marked and named, a code's new name reaching the
other pages' code names, the change's audit row found on a phone, and a planner's read-only page.

The live database is shared: the tests change only a category they create (``browser_ref``) and put a
renamed code back."""
from __future__ import annotations

import pytest
from sqlalchemy import text

CODE = "browser_ref"


@pytest.fixture
def category(live_data):
    from app.db import Database

    eng, _facts = live_data
    with Database(eng).session() as s:
        s.execute(text("DELETE FROM categories WHERE code = :c"), {"c": CODE})
        s.execute(text("INSERT INTO categories (code, name_zh, name_en, weight, urgent_h, high_h, normal_h, low_h) "
                       "VALUES (:c, '浏览器测试类别', 'Browser test category', 1, 1, 4, 24, 72)"), {"c": CODE})
    yield Database(eng)
    with Database(eng).session() as s:
        s.execute(text("DELETE FROM categories WHERE code = :c"), {"c": CODE})


def _stored(db, column: str):
    with db.session() as s:
        return s.execute(text(f"SELECT {column} FROM categories WHERE code = :c"), {"c": CODE}).scalar()


def _save(page, row):
    row.locator(".gw-save").click()
    page.wait_for_function("r => !r.querySelector('.gw-save').disabled && r.querySelector('.gw-msg').textContent",
                           arg=row.element_handle())


def test_edit_conflict_and_a_bad_field_on_the_desktop(web, category):
    page = web.page
    web.login("admin")
    web.goto("/admin/reference")
    row = page.locator(f"tr[data-code='{CODE}']")
    row.locator("input[name=normal_h]").fill("30")
    _save(page, row)
    assert "已保存" in row.locator(".gw-msg").inner_text() and _stored(category, "normal_h") == 30

    # someone else changes the row meanwhile: the save is refused with both versions, nothing written
    with category.session() as s:
        s.execute(text("UPDATE categories SET low_h = 100 WHERE code = :c"), {"c": CODE})
    row.locator("input[name=weight]").fill("2")
    _save(page, row)
    conflict = row.locator(".gw-conflict")
    assert conflict.is_visible() and "未写入" in conflict.inner_text()
    low = conflict.locator("tr[data-field=low_h]")
    assert low.get_attribute("class") == "gw-differs"
    assert low.locator(".gw-yours").inner_text() == "72" and low.locator(".gw-current").inner_text() == "100"
    assert _stored(category, "weight") == 1 and _stored(category, "low_h") == 100
    conflict.locator(".gw-take").click()
    assert row.locator("input[name=low_h]").input_value() == "100"
    row.locator("input[name=weight]").fill("2")
    _save(page, row)
    assert "已保存" in row.locator(".gw-msg").inner_text()
    assert (_stored(category, "weight"), _stored(category, "low_h")) == (2, 100)

    # a more urgent priority with a longer deadline: the field is marked and named, nothing written
    row.locator("input[name=high_h]").fill("0.5")
    _save(page, row)
    assert row.locator("input[name=high_h]").get_attribute("aria-invalid") == "true"
    assert "紧急时限" in row.locator(".gw-msg").inner_text()
    assert _stored(category, "high_h") == 4
    with category.session() as s:
        rows = s.execute(text("SELECT actor, changed FROM audit_log WHERE object_type = 'category' "
                              "AND object_id = :c AND action = 'update' ORDER BY id"), {"c": CODE}).all()
    assert [(a, c) for a, c in rows if a == "admin"] == [("admin", ["normal_h"]), ("admin", ["weight"])]
    assert [c for a, c in rows if a != "admin"] == [["low_h"]]
    assert all("409" in e or "422" in e for e in web.errors), web.errors  # only the refused saves' fetches
    assert web.blocked == []


def test_a_renamed_source_shows_on_the_other_pages(web, live_data):
    from app.reference.service import forget_names

    page = web.page
    web.login("admin")
    web.goto("/admin/reference")
    row = page.locator("#gw-ref-source tr[data-code='wechat']")
    old = row.locator("input[name=name_zh]").input_value()
    try:
        row.locator("input[name=name_zh]").fill("微信小程序（新）")
        _save(page, row)
        assert "已保存" in row.locator(".gw-msg").inner_text()
        web.goto("/dashboard/operator")
        assert page.evaluate("() => gw.label('source', 'wechat')") == "微信小程序（新）"
    finally:
        web.goto("/admin/reference")
        row = page.locator("#gw-ref-source tr[data-code='wechat']")
        row.locator("input[name=name_zh]").fill(old)
        _save(page, row)
        forget_names()
    assert "已保存" in row.locator(".gw-msg").inner_text()


def test_the_change_and_its_audit_row_on_a_phone(phone, category):
    page = phone.page
    phone.login("admin")
    phone.goto("/admin/reference")
    row = page.locator(f"tr[data-code='{CODE}']")
    row.locator("input[name=weight]").fill("3")
    row.locator(".gw-save").tap()
    page.wait_for_function("r => r.querySelector('.gw-msg').textContent", arg=row.element_handle())
    assert _stored(category, "weight") == 3
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert row.locator(".gw-save").bounding_box()["height"] >= 44
    phone.goto(f"/admin/audit?object_type=category&object_id={CODE}&action=update")
    entry = page.locator("#gw-audit-log > tbody > tr").first
    text_ = entry.inner_text()
    assert "事件类别" in text_ and "修改" in text_ and "权重" in text_ and "1" in text_ and "3" in text_
    assert entry.locator(".gw-actor").inner_text().strip() == "admin"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    for control in (page.locator("#gw-audit-filters select[name=object_type]"),
                    page.locator("#gw-audit-filters button"), page.locator("#gw-audit-csv")):
        box = control.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44
    phone.screenshot("phone-admin-audit")
    assert phone.errors == [] and phone.blocked == []


def test_a_planner_reads_the_reference_data_without_controls(phone):
    page = phone.page
    phone.login("planner")
    phone.goto("/admin/reference")
    assert page.locator("#gw-ref-readonly").is_visible()
    assert page.locator(".gw-save").count() == 0
    assert page.locator("tr[data-code='dispute'] input[name=name_zh]").get_attribute("readonly") is not None
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    phone.goto("/admin/audit")
    assert "403" in page.content() or "audit.read" in page.content()
    assert phone.blocked == []
