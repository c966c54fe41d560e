"""The command centre's work-order list and the alerts in headless Chromium: overdue first, a state filter,
a click that flies the map and opens the detail, bulk accept then dispatch, a toast for an incident that
arrives while the page is open, the badges, and the phone layout."""
from __future__ import annotations

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.browser

PAGE = "/dashboard/operator?poll=1000"  # a short poll: a new incident shows within a second or two
# no poll after the first: the list is not reloaded (with the other writer's fresh version) before a click
STILL = "/dashboard/operator?poll=600000"


def _clean(web, expected_status=None):
    """Nothing left the machine, no console error (but the browser's own note of the one refused request a
    test provoked), no injected script ran."""
    assert web.blocked == [], f"requests left the machine: {web.blocked}"
    note = f"the server responded with a status of {expected_status}"
    errors = [e for e in web.errors if not (expected_status and note in e)]
    assert errors == [], f"console errors: {errors}"
    assert web.page.evaluate("window.__xss") is None


def _insert(engine, grid, no, *, state="reported", deadline_h=None, at="now()"):
    with engine.begin() as c:
        return c.execute(text(
            "INSERT INTO incidents (external_id, category_code, source, description, state, grid_code, community_code, "
            f"geom, reported_at, deadline) SELECT :no, (SELECT min(code) FROM categories), 'hotline', 'h4 test', :st, "
            f"g.code, g.community_code, ST_PointOnSurface(g.geom), {at}, "
            "CASE WHEN CAST(:h AS float) IS NULL THEN NULL "
            "ELSE now() + make_interval(secs => CAST(:h AS float) * 3600) END "
            "FROM grids g WHERE g.code = :g RETURNING id"),
            {"no": no, "st": state, "h": deadline_h, "g": grid}).scalar()


@pytest.fixture
def h4(live_data):
    """Incidents of these tests in a grid other than the lead's (deleted afterwards, events and all)."""
    engine = live_data[0]
    with engine.begin() as c:
        grid = c.execute(text("SELECT code FROM grids WHERE code <> :g ORDER BY code OFFSET 40 LIMIT 1"),
                         {"g": live_data[1]["grid"]}).scalar()
    made = []

    def make(no, **kw):
        made.append(_insert(engine, grid, no, **kw))
        return made[-1]

    yield {"engine": engine, "grid": grid, "make": make}
    with engine.begin() as c:
        c.execute(text("DELETE FROM incidents WHERE id = ANY(:i)"), {"i": made})


RANKS = """() => [...document.querySelectorAll('#gw-wo-list .gw-wo-row')].map(li =>
  li.querySelector('[data-mark=overdue]') ? 0 : li.querySelector('[data-mark=due_soon]') ? 1 : 2)"""


def _rows(web):
    web.page.wait_for_function("() => !document.querySelector('#gw-wo-list[aria-busy]') && "
                               "document.querySelectorAll('#gw-wo-list .gw-wo-row').length > 0", timeout=15000)


def _row(web, no):
    return web.page.locator("#gw-wo-list .gw-wo-row", has_text="#" + no)


def _wait_text(web, element_id, text, timeout=10000):
    web.page.wait_for_function("([id, t]) => document.getElementById(id).textContent.includes(t)",
                               arg=[element_id, text], timeout=timeout)


def _state(engine, ids):
    with engine.connect() as c:
        return dict(c.execute(text("SELECT id, state FROM incidents WHERE id = ANY(:i)"), {"i": ids}).all())


def test_operator_works_the_list(web, h4):
    eng = h4["engine"]
    soon = h4["make"]("H4-SOON", state="dispatched", deadline_h=1.0)
    a, b = h4["make"]("H4-A", at="now() - interval '2 hours'"), h4["make"]("H4-B", at="now() - interval '1 hour'")
    web.login("operator")
    web.goto(PAGE)
    _rows(web)
    ranks = web.page.evaluate(RANKS)
    assert ranks[0] == 0 and ranks == sorted(ranks) and 1 in ranks  # overdue first, then due soon, then the rest
    counter = web.page.inner_text("#gw-wo-counter")
    assert "未办结" in counter and "共" in counter  # it says what it counts
    assert "地图上的事件（未办结）" in web.page.inner_text("#gw-counts")
    web.screenshot("desktop-workorders")

    # filter by state: only reported rows, as many as the count beside the box says
    web.page.check("#gw-wo-filters input[name=state][value=reported]")
    web.page.wait_for_function("() => [...document.querySelectorAll('#gw-wo-list .gw-wo-state')].every("
                               "s => s.textContent === '已上报')", timeout=15000)
    _rows(web)
    n = len(web.page.query_selector_all("#gw-wo-list .gw-wo-row"))
    assert web.page.inner_text(".gw-wo-count[data-state=reported]") == f"({n})"
    assert _row(web, "H4-SOON").count() == 0 and _row(web, "H4-A").count() == 1

    # a click flies the map to the incident and opens its detail
    _row(web, "H4-A").locator(".gw-wo-open").click()
    web.page.wait_for_function("() => document.getElementById('gw-detail-title').textContent === 'H4-A'", timeout=10000)
    with eng.connect() as c:
        lon, lat = c.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE id = :i"), {"i": a}).one()
    web.page.wait_for_function("([lon, lat]) => { const c = gw.map.getCenter(); return Math.abs(c.lng - lon) < 1e-4 "
                               "&& Math.abs(c.lat - lat) < 1e-4 && gw.map.getZoom() >= 17; }", arg=[lon, lat],
                               timeout=10000)

    # bulk accept of the two rows, then bulk dispatch (default: the grid's lead)
    for no in ("H4-A", "H4-B"):
        _row(web, no).locator("input[type=checkbox]").check()
    assert "已选 2 条" in web.page.inner_text("#gw-wo-selected")
    web.page.click("#gw-wo-accept")
    _wait_text(web, "gw-wo-msg", "受理")
    assert _state(eng, [a, b]) == {a: "accepted", b: "accepted"}
    web.page.uncheck("#gw-wo-filters input[name=state][value=reported]")
    web.page.check("#gw-wo-filters input[name=state][value=accepted]")
    web.page.wait_for_function("() => [...document.querySelectorAll('#gw-wo-list .gw-wo-state')].every("
                               "s => s.textContent === '已受理') && document.body.innerText.includes('#H4-B')",
                               timeout=15000)
    for no in ("H4-A", "H4-B"):
        _row(web, no).locator("input[type=checkbox]").check()
    # both lie in one grid: the chooser offers its members, the lead first
    web.page.wait_for_function("() => document.getElementById('gw-wo-member').options.length > 1", timeout=10000)
    web.page.click("#gw-wo-dispatch")
    _wait_text(web, "gw-wo-msg", "派遣")
    assert _state(eng, [a, b]) == {a: "dispatched", b: "dispatched"}
    with eng.connect() as c:
        lead = c.execute(text("SELECT member_id FROM member_roles WHERE grid_code = :g AND role = 'lead'"),
                         {"g": h4["grid"]}).scalar()
        got = set(c.execute(text("SELECT assignee_id FROM incidents WHERE id = ANY(:i)"), {"i": [a, b]}).scalars())
    assert got == {lead} and lead is not None
    assert soon in _state(eng, [soon])
    _clean(web)


def test_a_stale_bulk_row_says_reload_and_changes_nothing(web, h4):
    eng = h4["engine"]
    a, b = h4["make"]("H4-S1"), h4["make"]("H4-S2")
    web.login("operator")
    web.goto(STILL)
    web.page.check("#gw-wo-filters input[name=state][value=reported]")
    web.page.wait_for_function("() => document.body.innerText.includes('#H4-S2')", timeout=15000)
    for no in ("H4-S1", "H4-S2"):
        _row(web, no).locator("input[type=checkbox]").check()
    with eng.begin() as c:  # someone else acts on one of them meanwhile
        c.execute(text("UPDATE incidents SET version = version + 1 WHERE id = :i"), {"i": b})
    web.page.click("#gw-wo-accept")
    _wait_text(web, "gw-wo-msg", "已被他人修改")
    assert "H4-S2" in web.page.inner_text("#gw-wo-msg") or str(b) in web.page.inner_text("#gw-wo-msg")
    assert _state(eng, [a, b]) == {a: "reported", b: "reported"}
    _clean(web, expected_status=409)


def test_a_new_incident_shows_a_toast_and_the_badges_follow(web, h4):
    web.login("operator")
    web.goto(PAGE)
    _rows(web)
    web.page.wait_for_function("() => window.gw && window.gw.since", timeout=30000)  # the first poll is done (slow in a full run)
    due_soon_before = int(web.page.inner_text("[data-badge=due_soon]"))
    # the map shows the whole district: the new incident lies in its view
    new_id = h4["make"]("H4-NEW")
    h4["make"]("H4-DUE", state="dispatched", deadline_h=2.0)
    toast = web.page.locator(".gw-toast", has_text="#H4-NEW")
    toast.wait_for(timeout=10000)
    assert web.page.get_attribute("#gw-toasts", "role") == "status"
    assert web.page.get_attribute("#gw-toasts", "aria-live") == "polite"
    assert web.page.locator(".gw-toast", has_text="#H4-DUE").count() == 0  # not new: it was dispatched
    assert web.page.evaluate("id => document.querySelector('.gw-pulse[data-incident=\"' + id + '\"]') !== null",
                             str(new_id))
    web.page.wait_for_function("n => Number(document.querySelector('[data-badge=due_soon]').textContent) === n + 1",
                               arg=due_soon_before, timeout=10000)
    # sound is off by default, a toggle remembered in localStorage
    assert "关" in web.page.inner_text("#gw-sound")
    web.page.click("#gw-sound")
    assert web.page.evaluate("() => localStorage.getItem('gw.alerts.sound')") == "on"
    toast.locator(".gw-toast-open").click()
    web.page.wait_for_function("() => document.getElementById('gw-detail-title').textContent === 'H4-NEW'",
                               timeout=10000)
    web.page.reload()
    assert "开" in web.page.inner_text("#gw-sound")
    _clean(web)


def test_phone_operator_layout(phone, h4):
    phone.login("operator")
    phone.goto(PAGE)
    _rows(phone)
    box = phone.page.evaluate("""() => {
      const r = e => document.querySelector(e).getBoundingClientRect();
      const targets = '#gw-wo button, #gw-wo select, #gw-wo-list label, #gw-wo fieldset label';
      const small = [...document.querySelectorAll(targets)].filter(e => e.offsetParent !== null &&
        e.getBoundingClientRect().height < 44).map(e => e.outerHTML.slice(0, 80));
      return {map: r('.gw-mapbox'), list: r('#gw-wo'), small,
              overflow: document.documentElement.scrollWidth - window.innerWidth};
    }""")
    assert box["map"]["height"] >= 300 and box["map"]["width"] >= 380
    assert box["list"]["top"] >= box["map"]["bottom"] - 1  # the list below the map
    assert box["small"] == [] and box["overflow"] <= 0
    phone.screenshot("phone-workorders")
    phone.page.locator("#gw-wo-list .gw-wo-open").first.tap()
    phone.page.wait_for_function("() => !document.getElementById('gw-detail').hidden", timeout=10000)
    _clean(phone)
