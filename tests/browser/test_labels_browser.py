"""Words, not codes, in what the scripts draw: popups, the detail panel, lists and legends of the Chinese
interface, read from the page as the reader sees it (``innerText``) in headless Chromium."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from app import labels
from tests.app.test_labels import raw_codes
from tests.browser.test_dashboards_browser import OPEN_FEATURE

pytestmark = pytest.mark.browser

# opens a feature's popup by one property and reads it (popup and tooltip text)



def _shown(watched, account: str) -> str:
    body = watched.page.evaluate("() => document.body.innerText")
    return re.sub(rf"(?<![A-Za-z0-9_]){re.escape(account)}(?![A-Za-z0-9_])", "", body)


def _codes_of(live_data, sql: str):
    from app.db import Database

    with Database(live_data[0]).session() as s:
        return s.execute(text(sql)).first()


def test_operator_sees_names_in_popups_detail_and_lists(web, live_data):
    web.login("operator")
    web.goto("/dashboard/operator?lang=zh&max=300")
    web.page.wait_for_function("() => window.gw && window.gw.map && window.gw.known")
    web.page.wait_for_load_state("networkidle")
    seen = [_shown(web, "operator")]
    # an incident in progress: its popup names the state, its detail panel too
    inc_id, = web.page.evaluate("() => Object.values(gw.known).filter(m => m.feature.properties.state === "
                                "'in_progress').map(m => m.feature.properties.id).slice(0, 1)")
    web.page.evaluate("id => { gw.map.setView(gw.known[id].getLatLng(), 19, {animate: false}); }", inc_id)
    web.page.wait_for_function("id => gw.map.hasLayer(gw.known[id])", arg=inc_id, timeout=10000)
    web.page.evaluate("id => { gw.known[id].openPopup(); }", inc_id)
    web.page.wait_for_function("() => document.getElementById('gw-detail-title').textContent !== ''", timeout=10000)
    web.page.wait_for_load_state("networkidle")
    popup = web.page.inner_text(".leaflet-popup-content")
    assert labels.label("state", "in_progress") in popup
    seen += [popup, _shown(web, "operator")]
    # a camera of each status shown, with its programme and PTZ type by name
    device, status, programme, ptz = _codes_of(live_data, "SELECT device_id, status, programme, ptz_type FROM cameras "
                                                          "WHERE ptz_type IS NOT NULL AND status <> 'ON' ORDER BY 1 LIMIT 1")
    cam = web.page.evaluate(OPEN_FEATURE, ["device_id", device])["popup"]
    for kind, code in (("camera_status", status), ("programme", programme), ("ptz_type", ptz)):
        assert labels.label(kind, code) in cam, (kind, code, cam)
    seen.append(cam)
    # a street's popup names its kind (街道/镇/乡); the camera legend names each status
    street, kind = _codes_of(live_data, "SELECT code, kind FROM streets WHERE kind <> 'street' ORDER BY 1 LIMIT 1")
    web.page.evaluate("() => [...document.querySelectorAll('.leaflet-control-layers-overlays label')]"
                      ".filter(l => l.textContent.includes('街道')).forEach(l => l.querySelector('input').click())")
    seen.append(web.page.evaluate(OPEN_FEATURE, ["code", street])["popup"])
    assert labels.label("street_kind", kind) in seen[-1]
    legend = web.page.inner_text(".gw-legend")
    assert all(n in legend for n in labels.names("camera_status").values()), legend
    for shown in seen:
        assert not raw_codes(shown), raw_codes(shown)
    assert web.errors == [] and web.blocked == []


@pytest.mark.parametrize("account", ["member", "lead"])
def test_field_page_on_a_phone_shows_names(phone, live_data, account):
    phone.login(account)
    phone.goto("/dashboard/grid?lang=zh")
    phone.page.wait_for_function("() => window.gw && window.gw.map")
    phone.page.wait_for_load_state("networkidle")
    shown = _shown(phone, account)
    assert not raw_codes(shown), raw_codes(shown)
    assert phone.errors == [] and phone.blocked == []


def test_planner_and_statistics_show_names(web):
    web.login("planner")
    for path in ("/dashboard/planner?lang=zh", "/dashboard/stats?lang=zh"):
        web.goto(path)
        web.page.wait_for_load_state("networkidle")
        shown = _shown(web, "planner")
        assert not raw_codes(shown), (path, raw_codes(shown))
    assert labels.label("camera_status", "ON") in web.page.inner_text("#stat-camera_status")
    assert web.errors == [] and web.blocked == []
