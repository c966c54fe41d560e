"""Reporting from a phone (issue 12): a member at an emulated position reports with a photo and the incident
lands in the grid PostGIS says; offline the report is kept as a draft (IndexedDB) and, when the network
returns, stored exactly once even though the first send's answer is lost and the page sends it again."""
from __future__ import annotations

import io
import time
import uuid

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.browser


def _jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


def _spot(engine, grid):
    with engine.connect() as conn:
        return conn.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids "
                                 "WHERE code = :g) q"), {"g": grid}).one()


def _incidents(engine, description):
    with engine.connect() as conn:
        return conn.execute(text("SELECT id, grid_code, source, idempotency_key FROM incidents WHERE description = :d"),
                            {"d": description}).all()


def _open_form(phone, lon, lat):
    phone.context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 12})
    phone.login("member")
    phone.goto("/report")
    phone.page.wait_for_function("() => document.getElementById('rp-accuracy').textContent.includes('12')")
    phone.page.wait_for_function("() => document.getElementById('rp-grid').className === 'rp-ok'")


def _fill(phone, description):
    page = phone.page
    page.select_option("#rp-category", index=1)
    page.fill("#rp-description", description)


def test_a_member_reports_with_a_photo_at_their_position(phone, live_data):
    engine, facts = live_data
    lon, lat = _spot(engine, facts["grid"])
    _open_form(phone, lon, lat)
    page = phone.page
    # the grid's name (an XSS payload in this data) is shown as text
    assert "<img" in page.inner_text("#rp-grid") and page.evaluate("() => window.__xss") is None
    description = f"井盖破损 {uuid.uuid4().hex[:8]}"
    _fill(phone, description)
    page.set_input_files("#rp-photos", files=[{"name": "well.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}])
    page.wait_for_selector("#rp-previews canvas")
    page.locator("#rp-previews").scroll_into_view_if_needed()   # the photo, the nearby offer and the button
    phone.screenshot("phone-report")
    page.click("#rp-send")
    page.wait_for_selector("#rp-draft-list li[data-status=sent]", timeout=20000)
    rows = _incidents(engine, description)
    assert len(rows) == 1
    iid, grid, source, key = rows[0]
    with engine.connect() as conn:
        covering = conn.execute(text(
            "SELECT g.code FROM grids g, incidents i WHERE i.id = :i AND ST_Contains(g.geom, i.geom)"), {"i": iid}).scalar()
        photos = conn.execute(text("SELECT kind, width, height, event_id = (SELECT min(id) FROM incident_events e "
                                   "WHERE e.incident_id = :i) FROM incident_photos WHERE incident_id = :i"),
                              {"i": iid}).all()
    assert grid == covering == facts["grid"] and source == "patrol"
    assert uuid.UUID(key)          # the page's crypto.randomUUID(), stored with the incident
    assert [tuple(p) for p in photos] == [("before", 64, 48, True)]
    assert str(iid) in page.inner_text("#rp-draft-list li[data-status=sent]")
    with engine.connect() as conn:
        photo_id = conn.execute(text("SELECT id FROM incident_photos WHERE incident_id = :i"), {"i": iid}).scalar()
    served = page.request.get(f"{phone.base}/media/photos/{photo_id}")
    assert served.status == 200 and served.headers["content-type"].startswith("image/jpeg")
    assert phone.blocked == [] and phone.errors == [], (phone.blocked, phone.errors)


def test_offline_the_report_waits_and_is_stored_once_when_the_network_returns(phone, live_data):
    engine, facts = live_data
    lon, lat = _spot(engine, facts["grid"])
    _open_form(phone, lon, lat)
    page = phone.page
    # the service worker has kept the form and its files
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    deadline = time.monotonic() + 15
    while page.evaluate("() => caches.open('gridwatch-report-v1').then(c => c.keys()).then(k => k.length)") < 8:
        assert time.monotonic() < deadline, "the service worker did not keep the form's files"
        page.wait_for_timeout(200)   # (not time.sleep: route handlers run while Playwright waits)
    phone.context.set_offline(True)
    page.reload(wait_until="load")        # the form opens with no network, from the worker's copy
    page.wait_for_function("() => !document.getElementById('rp-offline').hidden")
    page.wait_for_function("() => document.getElementById('rp-accuracy').textContent.includes('12')")
    description = f"路灯不亮 {uuid.uuid4().hex[:8]}"
    _fill(phone, description)
    page.click("#rp-send")
    page.wait_for_selector("#rp-draft-list li[data-status=pending]")
    page.locator("#rp-drafts").scroll_into_view_if_needed()
    phone.screenshot("phone-report-offline")
    assert _incidents(engine, description) == []

    # back online, the first send reaches the server but its answer is lost on the way back
    posts = []

    def lose_first_answer(route):
        if route.request.method != "POST":
            return route.fallback()
        posts.append(route.request.post_data_buffer)
        response = route.fetch()
        if len(posts) == 1:
            assert response.status == 201
            return route.abort("connectionreset")
        return route.fulfill(response=response)

    page.route("**/report", lose_first_answer)
    phone.context.set_offline(False)
    deadline = time.monotonic() + 20
    while not posts:
        assert time.monotonic() < deadline, "the draft was not sent when the network returned"
        page.wait_for_timeout(200)   # (not time.sleep: route handlers run while Playwright waits)
    page.wait_for_selector("#rp-draft-list li[data-status=pending]")   # no answer: still waiting
    assert len(_incidents(engine, description)) == 1
    page.reload(wait_until="load")                                       # the page sends it again on load
    page.wait_for_selector("#rp-draft-list li[data-status=sent]", timeout=20000)
    rows = _incidents(engine, description)
    assert len(posts) == 2 and len(rows) == 1 and rows[0][1] == facts["grid"]
    assert str(rows[0][0]) in page.inner_text("#rp-draft-list li[data-status=sent]")
    errors = [e for e in phone.errors if "ERR_INTERNET_DISCONNECTED" not in e and "ERR_CONNECTION_RESET" not in e
              and "Failed to fetch" not in e]
    assert phone.blocked == [] and errors == [], (phone.blocked, phone.errors)


def test_a_member_adds_the_report_to_the_nearby_incident_it_repeats(phone, live_data):
    engine, facts = live_data
    lon, lat = _spot(engine, facts["grid"])
    with engine.begin() as conn:
        category = conn.execute(text("SELECT min(code) FROM categories")).scalar()
        target = conn.execute(text(
            "INSERT INTO incidents (category_code, source, description, state, grid_code, geom) VALUES "
            "(:c, 'public', 'pothole here', 'reported', :g, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"),
            {"c": category, "g": facts["grid"], "x": lon, "y": lat}).scalar()
    _open_form(phone, lon, lat)
    page = phone.page
    page.select_option("#rp-category", category)
    page.wait_for_selector(f"#rp-nearby input[value='{target}']")
    # the other nearby incident's text (an XSS payload) is shown as text
    assert "<script>" in page.inner_text("#rp-nearby") and page.evaluate("() => window.__xss") is None
    page.check(f"#rp-nearby input[value='{target}']")
    assert str(target) in page.inner_text("#rp-send")
    description = f"坑更大了 {uuid.uuid4().hex[:8]}"
    page.fill("#rp-description", description)
    page.click("#rp-send")
    page.wait_for_selector("#rp-draft-list li[data-status=sent]", timeout=20000)
    assert _incidents(engine, description) == []          # no copy opened
    with engine.connect() as conn:
        events = conn.execute(text("SELECT actor, action FROM incident_events WHERE incident_id = :i AND note = :n"),
                              {"i": target, "n": description}).all()
    assert [tuple(e) for e in events] == [("member", "comment")]
    assert phone.blocked == [] and phone.errors == [], (phone.blocked, phone.errors)


def test_an_operator_takes_a_phone_call_on_the_desktop(web, live_data):
    engine, facts = live_data
    with engine.connect() as conn:
        grid, lon, lat = conn.execute(text(
            "SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM grids WHERE code <> :g "
            "ORDER BY code DESC LIMIT 1"), {"g": facts["grid"]}).one()
    web.login("operator")
    web.goto("/report")
    page = web.page
    page.wait_for_function("() => window.gw && gw.report && gw.report.map")
    assert page.input_value("#rp-source") == "hotline"
    page.evaluate("([lat, lon]) => { gw.report.map.setView([lat, lon], 17, {animate: false});"
                  " gw.report.map.fire('click', {latlng: L.latLng(lat, lon)}); }", [lat, lon])
    page.wait_for_function("() => document.getElementById('rp-grid').textContent !== ''")
    description = f"来电：噪音扰民 {uuid.uuid4().hex[:8]}"
    _fill(web, description)
    page.fill("#rp-caller-phone", "13900001234")
    page.click("#rp-send")
    page.wait_for_selector("#rp-draft-list li[data-status=sent]", timeout=20000)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT grid_code, source, reporter_phone FROM incidents WHERE description = :d"),
                           {"d": description}).one()
    assert tuple(row) == (grid, "hotline", "13900001234")
    assert web.blocked == [] and web.errors == [], (web.blocked, web.errors)


def test_log_out_forgets_the_kept_form_but_not_the_drafts(phone, live_data):
    """On a shared phone the next account must not be handed the previous one's form (its user, grids and
    CSRF token) by the service worker; the drafts in IndexedDB stay for the account that made them."""
    engine, facts = live_data
    lon, lat = _spot(engine, facts["grid"])
    _open_form(phone, lon, lat)
    page = phone.page
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    has_form = "() => caches.open('gridwatch-report-v1').then(c => c.match('/report')).then(r => !!r)"
    # everything the page asked the worker to keep (the form and its files), each under its path
    wanted = page.evaluate("() => new Set([gw.data.report.urls.report].concat(gw.data.report.urls.cache)"
                           ".map(u => new URL(u, location.href).pathname)).size")
    count = "() => caches.open('gridwatch-report-v1').then(c => c.keys()).then(k => k.length)"
    deadline = time.monotonic() + 15
    while not (page.evaluate(has_form) and page.evaluate(count) == wanted):  # the worker keeps them one by one
        assert time.monotonic() < deadline, "the service worker did not keep the form and its files"
        page.wait_for_timeout(200)
    assets = page.evaluate(count)
    dbs = page.evaluate("() => indexedDB.databases().then(d => d.map(x => x.name))")
    with page.expect_navigation():
        page.click("#gw-logout button[type=submit]")
    assert "/login" in page.url
    assert page.evaluate(has_form) is False
    # the scripts and styles stay (they hold nothing of anyone), and so do the drafts' databases
    assert page.evaluate("() => caches.open('gridwatch-report-v1').then(c => c.keys()).then(k => k.length)") \
        == assets - 1
    assert page.evaluate("() => indexedDB.databases().then(d => d.map(x => x.name))") == dbs
    assert phone.errors == [] and phone.blocked == []
