"""The planner page in Chromium: grid popups with name, coverage and cameras; the what-if's busy indicator
(button disabled, spinner, errors in words); the sites' list, its export and "adopt" (a planned camera with
its audit row, on the map as its own layer); the same on a phone.

The shared browser database is left as found: the planned cameras a test adopts are deleted at its end."""
from __future__ import annotations

import csv
import io

from sqlalchemy import text

from tests.browser.test_dashboards_browser import COUNT_LAYERS, OPEN_FEATURE

#: hold the next plan request until window.__release() (the page must show it is busy meanwhile), or answer
#: it with a canned failure: no timing involved
HOLD_PLAN = """(mode) => {
  const orig = window.__fetch || (window.__fetch = window.fetch);
  window.fetch = function (url, opts) {
    if (!String(url).includes('/api/coverage/plan')) return orig(url, opts);
    window.fetch = orig;
    if (mode === 'offline') return Promise.reject(new TypeError('Failed to fetch'));
    if (mode === 'refused') return Promise.resolve(new Response(JSON.stringify(
      {error: 'InvalidData', message: 'k: no candidate sites in this district'}), {status: 422}));
    return new Promise(function (resolve) { window.__release = function () { orig(url, opts).then(resolve); }; });
  };
}"""


def _ready(web):
    web.page.wait_for_function("() => window.gw && window.gw.map && window.gw.ready")


def _run(web, k):
    web.page.fill("#gw-whatif input[name=k]", str(k))
    web.page.click("#gw-plan-run")


def _drop_planned(live_data, ids):
    with live_data[0].begin() as conn:
        for table in ("camera_events", "camera_revisions", "cameras"):
            conn.execute(text(f"DELETE FROM {table} WHERE device_id = ANY(:ids)"), {"ids": list(ids)})


def test_planner_busy_list_export_and_adopt(web, live_data):
    web.login("planner")
    _ready(web)
    # a grid's popup: its name, coverage %, camera count (the demo's first grid has cameras)
    with live_data[0].connect() as conn:
        code, name, n = conn.execute(text(
            "SELECT g.code, g.name, count(c.*) FROM grids g JOIN cameras c ON c.grid_code = g.code AND "
            "c.lifecycle = 'active' WHERE g.name NOT LIKE '%<%' GROUP BY g.code, g.name ORDER BY count(c.*) DESC "
            "LIMIT 1")).one()
    shown = web.page.evaluate(OPEN_FEATURE, ["code", code])
    assert shown["popup"].startswith(name) and shown["tooltip"] == name
    assert "覆盖率" in shown["popup"] and "摄像头数" in shown["popup"] and f"\t{n}" in shown["popup"]
    web.page.evaluate("() => { gw.map.closePopup(); }")
    overlays = web.page.evaluate(COUNT_LAYERS)["overlays"]
    assert any("规划摄像头" in o for o in overlays) and any("建议点位" in o for o in overlays)
    # busy: the button is disabled and the spinner says so until the answer comes
    web.page.evaluate(HOLD_PLAN, "hold")
    _run(web, 3)
    web.page.wait_for_function("() => typeof window.__release === 'function'")
    assert web.page.is_disabled("#gw-plan-run")
    assert web.page.get_attribute("#gw-gain", "class") == "gw-plan-busy"
    assert "正在计算" in web.page.inner_text("#gw-gain")
    web.page.evaluate("() => { window.__release(); }")
    web.page.wait_for_selector("#gw-sites tbody tr:nth-child(3)", timeout=60000)
    assert not web.page.is_disabled("#gw-plan-run")
    assert "→" in web.page.inner_text("#gw-gain")
    rows = web.page.locator("#gw-sites tbody tr")
    assert rows.count() == 3
    first = rows.nth(0).locator("td").all_inner_texts()
    assert first[0] == "1" and first[1] == first[2] and first[3].startswith("+")  # OSM: the map shows WGS-84
    assert web.page.evaluate("() => gw.sites.getLayers().length") == 2  # discs and points
    # the export is of the plan shown
    with web.page.expect_download() as dl:
        web.page.click(".gw-plan-export[data-fmt=csv]")
    table = list(csv.DictReader(io.StringIO(open(dl.value.path(), encoding="utf-8-sig").read())))
    assert [r["rank"] for r in table] == ["1", "2", "3"]
    assert first[1] == f"{float(table[0]['lon']):.6f}, {float(table[0]['lat']):.6f}"
    # adopt the first site: a planned camera with a provisional ID, its ADD event and audit row
    adopted = []
    try:
        rows.nth(0).locator("button.gw-adopt").click()
        web.page.wait_for_selector("#gw-sites .gw-adopted", timeout=30000)
        did = web.page.inner_text("#gw-sites .gw-adopted").split()[-1]
        adopted.append(did)
        assert web.page.inner_text("#gw-planned-count") != "0"
        with live_data[0].connect() as conn:
            assert conn.execute(text("SELECT lifecycle FROM cameras WHERE device_id = :d"), {"d": did}).scalar() == \
                "planned"
            assert conn.execute(text("SELECT actor FROM audit_log WHERE object_type = 'camera' AND object_id = :d "
                                     "AND action = 'insert'"), {"d": did}).scalar() == "planner"
            assert conn.execute(text("SELECT event FROM camera_events WHERE device_id = :d"), {"d": did}).scalar() \
                == "ADD"
        # a new plan no longer proposes the adopted site (a planned camera stands there)
        _run(web, 3)
        web.page.wait_for_function("() => !document.querySelector('#gw-sites .gw-adopted')")
        web.page.wait_for_selector("#gw-sites tbody tr:nth-child(3)")
        shown = [web.page.locator("#gw-sites tbody tr").nth(i).locator("td").all_inner_texts()[1] for i in range(3)]
        assert first[1] not in shown
        # the map's planned layer has it after a reload
        web.goto("/dashboard/planner")
        _ready(web)
        assert did in web.page.content()
        # errors said in words: a refused plan and no network
        web.page.evaluate(HOLD_PLAN, "refused")
        _run(web, 2)
        web.page.wait_for_selector("#gw-gain.gw-plan-error")
        assert "no candidate sites" in web.page.inner_text("#gw-gain") and not web.page.is_disabled("#gw-plan-run")
        web.page.evaluate(HOLD_PLAN, "offline")
        _run(web, 2)
        web.page.wait_for_function("() => document.querySelector('#gw-gain').textContent.includes('无法连接')")
        _run(web, 0)
        assert "1 到 50" in web.page.inner_text("#gw-gain")
    finally:
        _drop_planned(live_data, adopted)
    assert web.blocked == []
    # the only console errors are the refused adoption's 409 and the canned 422
    assert all("409" in e or "422" in e for e in web.errors), web.errors
    web.screenshot("planner_actions")


def test_planner_on_a_phone(phone, live_data):
    phone.login("planner")
    _ready(phone)
    _run(phone, 2)
    phone.page.wait_for_selector("#gw-sites tbody tr:nth-child(2)", timeout=60000)
    for sel in ("#gw-plan-run", "#gw-sites button.gw-adopt", ".gw-plan-export"):
        box = phone.page.locator(sel).first.bounding_box()
        assert box and box["height"] >= 44, (sel, box)
    phone.page.locator("#gw-sites button.gw-adopt").first.tap()
    phone.page.wait_for_selector("#gw-sites .gw-adopted", timeout=30000)
    did = phone.page.inner_text("#gw-sites .gw-adopted").split()[-1]
    _drop_planned(live_data, [did])
    assert phone.blocked == [] and phone.errors == []
    phone.screenshot("planner_phone")
