"""The live-view link in headless Chromium (issue 15): with ``video_url_template`` set, the operator clicks a camera
marker (its popup's link), right-clicks a spot a camera sees (the list's link), opens an incident's detail (its
cameras' links) and a camera's page (the link); each href is what ``app.cameras.live.live_url`` builds, and
``gw.liveUrl`` gives the same URL as Python for the same ID. With the setting empty, none of the four shows a link.
On a desktop window and on a 390×844 phone. Every non-local request is blocked and recorded (none is made: the
links are only read, never followed)."""
from __future__ import annotations

import threading

import pytest

from app.cameras.live import live_url
from tests.browser.conftest import PHONE, ROOT, _watched_context

pytestmark = pytest.mark.browser

TEMPLATE = "https://video.example/live?deviceId={device_id}&t=1"
#: IDs (and strings no ID has) the script must quote exactly as Python does
ODD_IDS = ["51030400001310000001", "a b/c?d&e#f=g+h", "!'()*~._-", "摄像机 1", "%41", "<b>"]


def _serve(live_data, tmp_path_factory, template: str):
    from werkzeug.serving import make_server

    from app import create_app
    from app.config import Settings
    from app.db import Database

    tmp = tmp_path_factory.mktemp("live-view")
    settings = Settings({"var_dir": str(tmp / "var"), "secret_key": "browser-secret", "data_dir": str(ROOT / "data"),
                         "video_url_template": template}, environ={}, config_file=tmp / "none.toml")
    server = make_server("127.0.0.1", 0, create_app(settings, database=Database(live_data[0])), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture(scope="module", params=["template", "empty"])
def server(request, live_data, tmp_path_factory):
    """(base URL, template): a server with the template set, then one without."""
    template = TEMPLATE if request.param == "template" else ""
    srv, thread = _serve(live_data, tmp_path_factory, template)
    yield f"http://127.0.0.1:{srv.server_port}", template
    srv.shutdown()
    thread.join(timeout=10)


@pytest.fixture(params=["desktop", "phone"])
def browser(request, chromium, server):
    options = PHONE if request.param == "phone" else {"viewport": {"width": 1400, "height": 900}}
    watched = _watched_context(chromium, server[0], **options)
    yield watched
    watched.context.close()


@pytest.fixture(scope="module")
def facts(live_data):
    """A built camera that sees something, a spot inside its view sector, and an open incident some built camera
    sees (with the cameras that see it, as the server lists them)."""
    import geopandas as gpd

    from app.coverage.service import cameras_seeing
    from app.db import Database
    from app.layers_db import read_layer
    from gis.coverage import view_sectors

    with Database(live_data[0]).session() as s:
        cam = read_layer(s, "cameras", where="status = 'ON' AND ptz_type = 3").iloc[:1]
        spot = view_sectors(cam).iloc[0].representative_point()
        cams = read_layer(s, "cameras", where="status = 'ON'")
        sectors = gpd.GeoDataFrame(geometry=view_sectors(cams), crs=4326)
        inc = read_layer(s, "incidents", where="state IN ('reported', 'accepted', 'dispatched')")
        seen = gpd.sjoin(inc, sectors, predicate="within").sort_values("code")
        incident = int(seen["code"].iloc[0])
        row = inc[inc["code"] == incident].iloc[0]
        seeing = list(cameras_seeing(s, row["geom"].x, row["geom"].y)["device_id"])
    assert seeing
    return {"camera": cam["device_id"].iloc[0], "spot": (spot.x, spot.y), "incident": incident, "seeing": seeing}


def _screen(web, latlng: str) -> tuple[float, float]:
    """Where on the screen the map shows ``latlng`` (a JS expression), for a real mouse click there."""
    x, y = web.page.evaluate(f"() => {{ const p = gw.map.latLngToContainerPoint({latlng});"
                             " const r = gw.map.getContainer().getBoundingClientRect();"
                             " return [r.left + p.x, r.top + p.y]; }")
    return x, y


def _clean(web):
    assert web.blocked == [], f"requests left the machine: {web.blocked}"
    assert web.errors == [], f"console errors: {web.errors}"


LINKS = """sel => [...document.querySelectorAll(sel)].map(a => ({href: a.getAttribute('href'), target: a.target,
  rel: a.rel, text: a.textContent, device: a.dataset.device}))"""


def _check(links, expected_ids, template):
    """Each link's href is Python's live_url of its device, opening in a new tab without an opener."""
    if not template:
        assert links == []
        return
    assert sorted(x["device"] for x in links) == sorted(expected_ids)
    for x in links:
        assert x["href"] == live_url(template, x["device"])
        assert x["target"] == "_blank" and x["rel"] == "noopener noreferrer" and x["text"] == "实时视频"


def test_the_live_view_link_on_the_map_the_spot_list_the_incident_and_the_camera_page(browser, server, facts):
    base, template = server
    web = browser
    web.login("operator")
    web.goto("/dashboard/operator?max=50")
    web.page.wait_for_function("() => window.gw && window.gw.map && window.gw.ready")

    # one helper in the scripts, the same URL as Python's for the same ID (or none without a template)
    got = web.page.evaluate("ids => ids.map(id => gw.liveUrl(id))", ODD_IDS)
    assert got == [live_url(template, i) for i in ODD_IDS]

    # (1) click a camera marker: its popup ends with the link (the incidents' clusters set aside to reach it)
    web.page.evaluate("""id => { gw.map.removeLayer(gw.cluster); let hit = null;
      gw.map.eachLayer(l => { if (!hit && l.feature && l.feature.properties.device_id === id && l.getPopup()) hit = l; });
      gw.map.setView(hit.getLatLng(), 19, {animate: false}); window.__cam = hit; }""", facts["camera"])
    web.page.mouse.click(*_screen(web, "window.__cam.getLatLng()"))
    web.page.wait_for_selector(".leaflet-popup-content .gw-popup")
    assert facts["camera"] in web.page.inner_text(".leaflet-popup-content")
    _check(web.page.evaluate(LINKS, ".leaflet-popup-content a.gw-live"), [facts["camera"]], template)
    web.screenshot(f"live_view_popup_{'set' if template else 'empty'}_{web.page.viewport_size['width']}")

    # (2) right-click a spot the camera sees: the list of cameras, each with its link
    web.page.evaluate("() => { gw.map.closePopup(); }")
    lon, lat = facts["spot"]
    web.page.evaluate("([lat, lon]) => { gw.map.setView([lat, lon], 18, {animate: false}); }", [lat, lon])
    web.page.mouse.click(*_screen(web, f"L.latLng({lat}, {lon})"), button="right")
    web.page.wait_for_selector("#gw-spot-cameras li[data-device]")
    listed = web.page.evaluate("() => [...document.querySelectorAll('#gw-spot-cameras li')].map(l => l.dataset.device)")
    assert facts["camera"] in listed
    _check(web.page.evaluate(LINKS, "#gw-spot-cameras a.gw-live"), listed, template)

    # (3) an incident's detail: the cameras that see it, each with its link
    web.page.evaluate("id => gw.openIncident(id)", facts["incident"])
    web.page.wait_for_selector("#gw-detail-cameras li[data-device]")
    listed = web.page.evaluate("() => [...document.querySelectorAll('#gw-detail-cameras li')].map(l => l.dataset.device)")
    assert sorted(listed) == sorted(facts["seeing"])
    _check(web.page.evaluate(LINKS, "#gw-detail-cameras a.gw-live"), listed, template)
    web.screenshot(f"live_view_operator_{'set' if template else 'empty'}_{web.page.viewport_size['width']}")

    # (4) the camera's page
    web.goto(f"/cameras/{facts['camera']}")
    web.page.wait_for_selector("#cam-fields")
    _check(web.page.evaluate(LINKS, "a.gw-live"), [facts["camera"]], template)
    if template:
        assert web.page.is_visible("#cam-live")
        box = web.page.eval_on_selector("#cam-live", "a => a.getBoundingClientRect().height")
        assert box >= 44  # a finger's target on the phone as well
    else:
        assert web.page.is_hidden("#gw-live-view")  # the empty slot takes no room
    _clean(web)
