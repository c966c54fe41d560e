"""Issue 12's first "done when", across two devices: a member reports with a photo from a phone at an emulated
position; the incident lands in the grid PostGIS says and appears in the operator's work-order list on the
desktop, whose detail panel shows the member's photo (the thumbnail actually loads through the access-checked
route)."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tests.browser.test_report_browser import _fill, _incidents, _jpeg, _open_form, _spot

pytestmark = pytest.mark.browser


def test_a_phone_report_reaches_the_command_centre_with_its_photo(phone, web, live_data):
    engine, facts = live_data
    lon, lat = _spot(engine, facts["grid"])
    _open_form(phone, lon, lat)
    description = f"占道经营 {uuid.uuid4().hex[:8]}"
    _fill(phone, description)
    phone.page.set_input_files("#rp-photos", files=[{"name": "stall.jpg", "mimeType": "image/jpeg",
                                                    "buffer": _jpeg()}])
    phone.page.wait_for_selector("#rp-previews canvas")
    phone.page.click("#rp-send")
    phone.page.wait_for_selector("#rp-draft-list li[data-status=sent]", timeout=20000)
    (iid, grid, _source, _key), = _incidents(engine, description)
    with engine.connect() as conn:
        covering = conn.execute(text("SELECT g.code FROM grids g JOIN incidents i ON ST_Contains(g.geom, i.geom) "
                                     "WHERE i.id = :i"), {"i": iid}).scalar()
        photo = conn.execute(text("SELECT id FROM incident_photos WHERE incident_id = :i"), {"i": iid}).scalar()
    assert grid == covering == facts["grid"] and photo is not None

    web.login("operator")
    web.goto("/dashboard/operator")
    page = web.page
    page.wait_for_function("() => !document.querySelector('#gw-wo-list[aria-busy]')", timeout=15000)
    page.check("#gw-wo-filters input[name=state][value=reported]")
    row = page.locator("#gw-wo-list .gw-wo-row", has_text=f"#{iid}")
    row.wait_for(timeout=15000)
    assert "已上报" in row.inner_text()          # the state by its name, not `reported`
    row.locator(".gw-wo-open").click()
    page.wait_for_function("(id) => document.getElementById('gw-detail-title').textContent === String(id)",
                           arg=iid, timeout=10000)
    thumb = page.locator("#gw-detail-photos img").first
    thumb.wait_for(timeout=10000)
    assert thumb.get_attribute("src").endswith(f"/media/photos/{photo}/thumb")
    page.wait_for_function("() => { const i = document.querySelector('#gw-detail-photos img'); "
                           "return i && i.complete && i.naturalWidth > 0; }", timeout=10000)
    web.screenshot("desktop-closed-loop-detail")
    assert web.blocked == [] and phone.blocked == []
    assert web.errors == [] and phone.errors == [], (web.errors, phone.errors)
