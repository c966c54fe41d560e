"""The loop end to end in headless Chromium (issue 12): the operator accepts and dispatches to a member of the
grid who is not its lead (desktop), the member starts and resolves with a note and an after-photo (phone,
390×844, touch), the operator passes the check; a failed check with its reason; a stale action in a second
tab gets the 409 message and the panel reloads. Every step is checked in the database."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.browser


@pytest.fixture
def fresh(live_data):
    """New incidents in the lead's (and the demo member's) grid, deleted afterwards: ``fresh(state)`` → id."""
    engine, facts = live_data
    made = []

    def make(state="reported"):
        with engine.begin() as conn:
            iid = conn.execute(text(
                "INSERT INTO incidents (external_id, category_code, source, description, state, grid_code, "
                "community_code, geom, deadline, assignee_id) SELECT 'LOOP-' || left(md5(random()::text), 10), "
                "'city_appearance', 'patrol', 'rubbish by the gate', CAST(:st AS varchar), code, community_code, "
                "ST_PointOnSurface(geom), CASE WHEN CAST(:st AS varchar) = 'reported' THEN NULL ELSE now() + interval '2 days' END, "
                "(SELECT member_id FROM users WHERE username = 'member') FROM grids WHERE code = :g RETURNING id"),
                {"st": state, "g": facts["grid"]}).scalar()
            if state == "resolved":
                conn.execute(text("INSERT INTO incident_events (incident_id, actor, action, from_state, to_state) "
                                  "VALUES (:i, 'member', 'resolve', 'in_progress', 'resolved')"), {"i": iid})
        made.append(iid)
        return iid

    yield make
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM incidents WHERE id = ANY(:ids)"), {"ids": made})


def _db(engine, iid):
    with engine.connect() as conn:
        return conn.execute(text("SELECT state, version, assignee_id FROM incidents WHERE id = :i"), {"i": iid}).one()


def _open(w, iid):
    w.page.wait_for_function("() => window.gw && window.gw.ready && window.gw.openIncident")
    w.page.evaluate("id => gw.openIncident(id)", iid)
    w.page.wait_for_function("id => document.getElementById('gw-detail').dataset.incident === String(id)", arg=iid)


def _state_shown(w, state):
    w.page.wait_for_selector(f"#gw-detail-table tr[data-state={state}]", timeout=15000)


def _act(w, action, *, note=None, member=None, photo=None, tap=False):
    """Take ``action`` in the panel as a person does: its button, the form's fields, its send button."""
    click = w.page.tap if tap else w.page.click
    click(f"#gw-detail-actions button[data-action={action}]")
    w.page.wait_for_selector(f"#gw-detail-form[data-action={action}]")
    if member is not None:
        w.page.wait_for_selector(f"#gw-detail-form select[name=member_id] option[value='{member}']", state="attached")
        w.page.select_option("#gw-detail-form select[name=member_id]", str(member))
    if note is not None:
        w.page.fill("#gw-detail-form textarea[name=note]", note)
    if photo is not None:
        w.page.set_input_files("#gw-detail-form input[name=photos]",
                               files=[{"name": "after.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    click(f"#gw-detail-form button[data-submit={action}]")


def _jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 160, 60)).save(out, "JPEG")
    return out.getvalue()


def _clean(w):
    assert w.blocked == [], w.blocked
    assert w.errors == [], w.errors


#: the panel's visible controls smaller than a fingertip (44 px), as "tag text WxH"
SMALL_TARGETS = """() => [...document.querySelectorAll(
  '#gw-detail button, #gw-detail select, #gw-detail textarea, #gw-detail input')]
  .filter(e => e.offsetParent !== null).map(e => [e, e.getBoundingClientRect()])
  .filter(([e, r]) => r.height < 44 || r.width < 44)
  .map(([e, r]) => e.tagName + ' ' + e.textContent.trim() + ' ' + Math.round(r.width) + 'x' + Math.round(r.height))"""


def test_the_loop_end_to_end_on_the_desktop_and_the_phone(web, phone, live_data, fresh):
    engine, facts = live_data
    iid = fresh("reported")
    with engine.connect() as conn:
        member, name = conn.execute(text(
            "SELECT m.id, m.name FROM users u JOIN members m ON m.id = u.member_id WHERE u.username = 'member'")).one()
        lead = conn.execute(text("SELECT member_id FROM member_roles WHERE grid_code = :g AND role = 'lead'"),
                            {"g": facts["grid"]}).scalar()
    assert member != lead  # the member chosen is not the grid's lead (the default)
    # the command centre accepts and dispatches to the member
    web.login("operator")
    _open(web, iid)
    _act(web, "accept")
    _state_shown(web, "accepted")
    _act(web, "dispatch", member=member)
    _state_shown(web, "dispatched")
    assert _db(engine, iid)[0::2] == ("dispatched", member)
    assert f"派给 {name}" in web.page.inner_text("#gw-detail-timeline")  # the system note, translated
    assert "已派遣" in web.page.inner_text("#gw-detail-table")           # states by name, not code
    # the member, on the phone: start, then resolve with a note and an after-photo
    phone.login("member")
    _open(phone, iid)
    assert phone.page.evaluate(SMALL_TARGETS) == []
    _act(phone, "start", tap=True)
    _state_shown(phone, "in_progress")
    _act(phone, "resolve", tap=True)
    assert phone.page.evaluate(SMALL_TARGETS) == []  # the resolve form's fields too
    phone.page.fill("#gw-detail-form textarea[name=note]", "bags collected, gate swept")
    phone.page.set_input_files("#gw-detail-form input[name=photos]",
                               files=[{"name": "after.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}])
    phone.page.tap("#gw-detail-form button[data-submit=resolve]")
    _state_shown(phone, "resolved")
    phone.page.wait_for_selector("#gw-detail-photos [data-kind=after] img")
    phone.page.wait_for_function("() => [...document.querySelectorAll('#gw-detail-photos img')].every(i => i.complete "
                                 "&& i.naturalWidth > 0)")
    assert "bags collected, gate swept" in phone.page.inner_text("#gw-detail-timeline")
    phone.page.locator("#gw-detail").scroll_into_view_if_needed()
    phone.screenshot("phone-detail")
    with engine.connect() as conn:
        photos = conn.execute(text("SELECT p.kind, e.action FROM incident_photos p JOIN incident_events e ON "
                                   "e.id = p.event_id WHERE p.incident_id = :i"), {"i": iid}).all()
    assert photos == [("after", "resolve")]
    # the operator checks the work: pass
    _open(web, iid)
    web.page.wait_for_selector("#gw-detail-photos [data-kind=after] img")
    _act(web, "pass_check")
    _state_shown(web, "closed")
    assert _db(engine, iid)[0] == "closed"
    web.screenshot("desktop-detail")
    _clean(web)
    _clean(phone)


def test_a_failed_check_needs_its_reason(web, live_data, fresh):
    engine, _facts = live_data
    iid = fresh("resolved")
    web.login("operator")
    _open(web, iid)
    _act(web, "fail_check")
    web.page.click("#gw-detail-form button[data-submit=fail_check]")  # no reason: the form does not send
    assert _db(engine, iid)[0] == "resolved"
    web.page.fill("#gw-detail-form textarea[name=note]", "the bags are still there")
    web.page.click("#gw-detail-form button[data-submit=fail_check]")
    _state_shown(web, "dispatched")
    assert _db(engine, iid)[0] == "dispatched"
    assert "the bags are still there" in web.page.inner_text("#gw-detail-timeline")
    _clean(web)


def test_a_stale_action_in_a_second_tab_gets_the_409_message_and_reloads(web, live_data, fresh):
    engine, _facts = live_data
    iid = fresh("reported")
    web.login("operator")
    second = web.context.new_page()
    errors = []
    second.on("console", lambda m: errors.append(m.text) if m.type == "error" and "409" not in m.text else None)
    second.goto(web.base + "/dashboard/operator?max=20", wait_until="load")
    _open(web, iid)
    second.wait_for_function("() => window.gw && window.gw.openIncident")
    second.evaluate("id => gw.openIncident(id)", iid)
    second.wait_for_function("id => document.getElementById('gw-detail').dataset.incident === String(id)", arg=iid)
    version = _db(engine, iid)[1]
    assert second.evaluate("() => document.getElementById('gw-detail').dataset.version") == str(version)
    _act(web, "accept")  # the first tab wins
    _state_shown(web, "accepted")
    second.click("#gw-detail-actions button[data-action=void]")
    second.fill("#gw-detail-form textarea[name=note]", "a prank call")
    second.click("#gw-detail-form button[data-submit=void]")
    from app.i18n import translate

    second.wait_for_function("t => document.getElementById('gw-detail-message').textContent === t",
                             arg=translate("loop_conflict", "zh"), timeout=15000)
    assert _db(engine, iid)[:2] == ("accepted", version + 1)  # nothing changed by the stale page
    # it shows what is there now: the new state and version, and the actions that state allows
    assert second.evaluate("() => document.getElementById('gw-detail').dataset.version") == str(version + 1)
    second.wait_for_selector("#gw-detail-table tr[data-state=accepted]")
    assert second.locator("#gw-detail-actions button[data-action=dispatch]").count() == 1
    assert second.evaluate("window.__xss") is None
    second.close()
    assert errors == [] and web.blocked == [], (errors, web.blocked)


def test_the_phones_live_update_sends_the_maps_real_bounds_or_none(phone, live_data):
    """Issue 12: on a phone the grid page's map box was 0 px and every poll sent lat −89.99…89.99 → 422."""
    from urllib.parse import parse_qs, urlparse

    from tests.browser.conftest import PHONE

    engine, facts = live_data
    with engine.connect() as conn:
        w, s, e, n = conn.execute(text("SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) FROM "
                                       "(SELECT ST_Extent(geom) AS x FROM grids) g")).one()
    polls = []
    phone.page.on("response", lambda r: polls.append((r.url, r.status)) if "/api/incidents?" in r.url else None)
    phone.login("lead")
    phone.goto("/dashboard/grid?poll=700&max=0")  # capped: the page polls by its view (a full page polls its scope)
    phone.page.wait_for_function("() => window.gw && window.gw.ready && window.gw.since")
    size = phone.page.evaluate("() => gw.map.getSize()")
    assert 300 <= size["x"] <= PHONE["viewport"]["width"] and size["y"] >= 300  # a real map box
    phone.page.wait_for_timeout(1600)
    phone.page.evaluate("() => { gw.map.getContainer().style.display = 'none'; gw.map.invalidateSize(); }")
    seen = len(polls)
    phone.page.wait_for_timeout(1600)
    assert len(polls) >= seen + 1 and seen >= 2, polls
    boxes = [parse_qs(urlparse(u).query).get("bbox") for u, _status in polls]
    assert all(status == 200 for _u, status in polls), polls
    assert phone.page.evaluate("() => gw.mapConfig.truncated")
    # the first poll may run before the phone's layout gave the map its size (no box then); once it has
    # one: its own bounds, around the lead's grid, inside valid degrees
    assert seen >= 3 and all(box is not None for box in boxes[1:seen]), polls
    for box in boxes[1:seen]:
        bw, bs, be, bn = (float(v) for v in box[0].split(","))
        assert -180 <= bw < be <= 180 and -90 <= bs < bn <= 90
        assert bn - bs < 1 and w - 1 < bw and be < e + 1 and s - 1 < bs and bn < n + 1
    assert boxes[-1] is None  # no size, no box
    _clean(phone)


def _suspected_pair(engine, fresh):
    """Two reported incidents, the second flagged as a suspected duplicate of the first."""
    original, copy = fresh("reported"), fresh("reported")
    with engine.begin() as conn:
        conn.execute(text("UPDATE incidents SET duplicate_of_id = :o, duplicate_status = 'suspected' WHERE id = :c"),
                     {"o": original, "c": copy})
    return original, copy


def test_the_other_actions_by_the_other_roles_on_phone_and_desktop(web, phone, live_data, fresh):
    """What the first test does not take: the lead reassigns and comments on the phone, the operator voids
    with a reason and rejects a suspected duplicate on the phone, the admin confirms one on the desktop."""
    engine, facts = live_data
    with engine.connect() as conn:
        lead = conn.execute(text("SELECT member_id FROM member_roles WHERE grid_code = :g AND role = 'lead'"),
                            {"g": facts["grid"]}).scalar()
    # the grid lead, on the phone: reassign a dispatched incident (assigned to the member) to themself, comment
    iid = fresh("dispatched")
    phone.login("lead")
    _open(phone, iid)
    _act(phone, "reassign", member=lead, tap=True)
    phone.page.wait_for_function("([id, v]) => document.getElementById('gw-detail').dataset.incident === String(id)"
                                 " && document.getElementById('gw-detail-timeline').innerText.includes('改派')",
                                 arg=[iid, 0], timeout=15000)
    assert _db(engine, iid)[0::2] == ("dispatched", lead)
    _act(phone, "comment", note="已联系物业，明早清运", tap=True)
    phone.page.wait_for_function("() => document.getElementById('gw-detail-timeline').innerText"
                                 ".includes('已联系物业，明早清运')", timeout=15000)
    assert phone.page.evaluate(SMALL_TARGETS) == []
    # the operator, on the phone: void with a reason (refused without one), reject a suspected duplicate
    with phone.page.expect_navigation():   # the lead logs out (the bar's button), the operator logs in
        phone.page.tap("#gw-logout button[type=submit]")
    phone.login("operator")
    void_me = fresh("reported")
    _open(phone, void_me)
    _act(phone, "void", tap=True)   # no reason given: the form refuses to send and nothing changes
    assert phone.page.evaluate("() => document.querySelector('#gw-detail-form textarea[name=note]')"
                               ".validity.valueMissing") is True
    phone.page.wait_for_timeout(300)
    assert _db(engine, void_me)[0] == "reported"
    # and the server refuses it too when a client skips the form (a reason is required: 422 naming note)
    answer = phone.page.evaluate("""([id, v]) => gw.api(gw.url(gw.data.map.urls.actions, {id: id}),
        {json: {action: 'void', version: v}}).then(() => 'sent', e => e.status + ' ' + JSON.stringify(e.body))""",
                                 [void_me, _db(engine, void_me)[1]])
    assert answer.startswith("422") and '"note"' in answer, answer
    assert _db(engine, void_me)[0] == "reported"
    phone.page.fill("#gw-detail-form textarea[name=note]", "重复来电，已在别处办理")
    phone.page.tap("#gw-detail-form button[data-submit=void]")
    _state_shown(phone, "voided")
    assert _db(engine, void_me)[0] == "voided"
    original, copy = _suspected_pair(engine, fresh)
    _open(phone, copy)
    _act(phone, "reject_duplicate", tap=True)
    phone.page.wait_for_function("() => !document.querySelector('#gw-detail-actions "
                                 "button[data-action=reject_duplicate]')", timeout=15000)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT duplicate_status FROM incidents WHERE id = :i"), {"i": copy}).scalar() \
            == "rejected"
    # the admin, on the desktop: confirm a suspected duplicate (the copy is voided, the original carries on)
    original, copy = _suspected_pair(engine, fresh)
    web.login("admin")
    _open(web, copy)
    with engine.connect() as conn:
        number = conn.execute(text("SELECT external_id FROM incidents WHERE id = :i"), {"i": original}).scalar()
    assert f"#{number}" in web.page.inner_text("#gw-detail")     # which incident it duplicates is shown
    _act(web, "confirm_duplicate")
    _state_shown(web, "voided")
    assert _db(engine, copy)[0] == "voided" and _db(engine, original)[0] == "reported"
    _clean(web)
    assert phone.blocked == []
    # the one console error is Chromium reporting the 422 the test provoked on purpose
    assert [e for e in phone.errors if "status of 422" not in e] == [] and len(phone.errors) <= 1, phone.errors
