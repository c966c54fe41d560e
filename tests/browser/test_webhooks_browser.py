"""The webhook delivery log on a phone (390×844, touch): readable cards, touch-sized controls, retry works,
a receiver's answer in the last error stays text."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from tests.browser.conftest import XSS


@pytest.fixture
def failed_delivery(live_data):
    from app.db import Database

    eng, _facts = live_data
    with Database(eng).session() as s:
        s.execute(text("DELETE FROM webhook_deliveries WHERE dedupe_key LIKE 'browser-test:%'"))
        delivery = s.execute(text(
            "INSERT INTO webhook_deliveries (event, dedupe_key, payload, status, attempts, last_status, last_error) "
            "VALUES ('overdue', 'browser-test:1', CAST(:p AS jsonb), 'failed', 8, 502, :e) RETURNING id"),
            {"p": json.dumps({"occurred_at": "2025-03-01T02:00:00+00:00",
                              "incident": {"no": "B-1", "category_name": "市容环境"}}),
             "e": "HTTP 502: " + XSS}).scalar()
    yield delivery
    with Database(eng).session() as s:
        s.execute(text("DELETE FROM webhook_deliveries WHERE dedupe_key LIKE 'browser-test:%'"))


def test_the_delivery_log_on_a_phone(phone, failed_delivery):
    page = phone.page
    phone.login("admin")
    phone.goto("/admin/webhooks")
    row = page.locator(f"tr[data-delivery='{failed_delivery}']")
    assert row.is_visible()
    assert "发送失败" in row.inner_text() and "已超期" in row.inner_text()  # codes by their names
    assert XSS in row.locator(".gw-error").inner_text()  # shown as text …
    assert page.evaluate("() => window.__xss") is None  # … never run
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    button = row.locator("button[type=submit]")
    for control in (button, page.locator("#gw-hook-filters select[name=status]"),
                    page.locator("#gw-hook-filters button")):
        box = control.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44
    phone.screenshot("phone-admin-webhooks")
    with page.expect_navigation():
        button.tap()
    assert page.locator("#gw-hook-retried").is_visible()
    assert page.locator(f"tr[data-delivery='{failed_delivery}']").get_attribute("data-status") == "pending"
    assert phone.errors == [] and phone.blocked == []
