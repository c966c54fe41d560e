"""The Content-Security-Policy in a real Chromium: every page runs with no violation and draws its map,
an injected script is refused, a configured basemap's tiles are allowed, the language switch keeps the query.

``wait_for_function`` always gets a function (``"() => …"``): Playwright polls a bare expression with
``eval``, which the policy refuses."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest

from tests.browser.conftest import ROOT

pytestmark = pytest.mark.browser

#: every violation the page sees, from before its first script runs
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || ''));
});
"""

DESKTOP, PHONE = {"width": 1400, "height": 900}, {"width": 390, "height": 844}

#: what the map drew: its panes, its size, layers, markers, and painted pixels on the vector canvas
MAP_DRAWN = """() => {
  const m = window.gw.map, size = m.getSize();
  let layers = 0, vectors = 0;
  m.eachLayer(l => { layers++; if (l instanceof L.Path) vectors++; });
  const panes = ['map', 'tile', 'overlay', 'marker', 'popup'].filter(p => document.querySelector('.leaflet-' + p + '-pane'));
  let painted = 0;
  document.querySelectorAll('.leaflet-overlay-pane canvas').forEach(c => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i]) painted++;
  });
  return {x: size.x, y: size.y, layers, vectors, panes, painted,
          markers: window.gw.cluster ? window.gw.cluster.getLayers().length : 0};
}"""

PAGES = [  # account, path, has a map, has markers
    (None, "/login", False, False),
    ("operator", "/dashboard/operator?max=300", True, True),
    ("planner", "/dashboard/planner", True, False),
    ("lead", "/dashboard/grid", True, True),
    ("operator", "/dashboard/stats", False, False),
]


def _watch(web):
    web.page.add_init_script(WATCH_CSP)
    web.csp_console = []
    web.page.on("console", lambda msg: web.csp_console.append(msg.text)
                if "Content Security Policy" in msg.text else None)


def _violations(web) -> list[str]:
    return web.page.evaluate("window.__csp") + web.csp_console


@pytest.mark.parametrize("account, path, has_map, has_markers", PAGES,
                         ids=[p[1].split("?")[0] for p in PAGES])
def test_every_page_runs_under_the_policy(web, account, path, has_map, has_markers):
    _watch(web)
    if account:
        web.login(account)
    for viewport in (DESKTOP, PHONE):
        web.page.set_viewport_size(viewport)
        r = web.goto(path)
        assert r.status == 200 and "'nonce-" in r.headers["content-security-policy"]
        if has_map:
            web.page.wait_for_function("() => window.gw && window.gw.map")
            web.page.wait_for_timeout(300)  # canvas redraws on the next animation frame
            drawn = web.page.evaluate(MAP_DRAWN)
            assert drawn["x"] >= 200 and drawn["y"] >= 200, (viewport, drawn)  # a map one can use on a phone
            assert drawn["panes"] == ["map", "tile", "overlay", "marker", "popup"], drawn
            assert drawn["layers"] > 10 and drawn["vectors"] > 0 and drawn["painted"] > 500, (viewport, drawn)
            if has_markers:
                assert drawn["markers"] > 0, (viewport, drawn)
        assert _violations(web) == [], (path, viewport)
        web.screenshot(f"csp{path.split('?')[0].replace('/', '-')}-{viewport['width']}")
    assert web.blocked == []
    assert [e for e in web.errors if "Content Security Policy" in e] == []


INJECT = """async () => {
  const wait = () => new Promise(r => setTimeout(r, 200));
  const add = (setup) => { const s = document.createElement('script'); setup(s); document.body.appendChild(s); };
  add(s => { s.textContent = 'window.__ran = (window.__ran || []).concat("no nonce")'; });
  add(s => { s.nonce = 'not-the-nonce'; s.textContent = 'window.__ran = (window.__ran || []).concat("wrong nonce")'; });
  add(s => { s.src = 'http://127.0.0.2:9/evil.js'; });
  const img = document.createElement('img');
  img.setAttribute('onerror', 'window.__ran = (window.__ran || []).concat("handler")');
  img.src = '/no-such-image.png';
  document.body.appendChild(img);
  const a = document.createElement('a');
  a.href = 'javascript:window.__ran = (window.__ran || []).concat("js url")';
  document.body.appendChild(a); a.click();
  await wait();
  const refused = window.__ran || [];
  /* control: the page's own nonce does run, so "did not run" above means refused, not broken */
  add(s => { s.nonce = document.querySelector('script[nonce]').nonce; s.textContent = 'window.__ran = ["own nonce"]'; });
  await wait();
  return {refused, control: window.__ran || []};
}"""


def test_a_script_without_the_nonce_is_refused(web):
    _watch(web)
    web.login("operator")
    web.goto("/dashboard/operator?max=20")
    web.page.wait_for_function("() => window.gw && window.gw.map")
    assert _violations(web) == []
    out = web.page.evaluate(INJECT)
    assert out == {"refused": [], "control": ["own nonce"]}
    seen = web.page.evaluate("window.__csp")
    # no nonce, a wrong nonce and the javascript: link are inline scripts; then the other origin, the handler
    assert sorted(seen) == sorted(["script-src-elem inline "] * 3 + ["script-src-elem http://127.0.0.2:9/evil.js ",
                                                                     "script-src-attr inline "]), seen


@contextmanager
def _server(live_data, tmp_path, **values):
    from werkzeug.serving import make_server

    from app import create_app
    from app.config import Settings
    from app.db import Database

    settings = Settings({"var_dir": str(tmp_path / "var"), "secret_key": "browser-secret",
                         "data_dir": str(ROOT / "data"), **values}, environ={}, config_file=tmp_path / "none.toml")
    server = make_server("127.0.0.1", 0, create_app(settings, database=Database(live_data[0])), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.mark.parametrize("basemap, key, tile_prefix", [
    ("osm", "", "https://tile.openstreetmap.org/"),
    ("amap", "", "https://webrd01.is.autonavi.com/"),
    ("tianditu", "KEY", "https://t0.tianditu.gov.cn/"),
    ("https://{s}.tiles.example.org/{z}/{x}/{y}.png", "", "https://a.tiles.example.org/"),
])
def test_the_basemap_tiles_are_allowed(web, live_data, tmp_path, basemap, key, tile_prefix):
    """The policy lets the tiles go out (they are then stopped by the test's network guard, not by CSP)."""
    _watch(web)
    with _server(live_data, tmp_path, basemap=basemap, tianditu_key=key) as base:
        web.base = base
        web.login("operator")
        web.goto("/dashboard/operator?max=20")
        web.page.wait_for_function("() => window.gw && window.gw.map")
        deadline = time.monotonic() + 15
        while not any(u.startswith(tile_prefix) for u in web.blocked) and time.monotonic() < deadline:
            web.page.wait_for_timeout(100)
        assert any(u.startswith(tile_prefix) for u in web.blocked), web.blocked[:5]
        assert _violations(web) == []
        assert {u.split("/")[2] for u in web.blocked} <= {tile_prefix.split("/")[2], "b.tiles.example.org",
                                                         "c.tiles.example.org"}


def test_switching_language_keeps_the_filters(web):
    web.login("operator")
    web.goto("/dashboard/operator?max=20&category=advertising&state=all")
    with web.page.expect_navigation():
        web.page.click("a[hreflang=en]")
    url = web.page.url
    assert url.endswith("/dashboard/operator?max=20&category=advertising&state=all&lang=en"), url
    assert web.page.input_value("select[name=category]") == "advertising"
    assert web.page.input_value("select[name=state]") == "all"
    assert "Filters" in web.page.inner_text("#gw-filters")
    with web.page.expect_navigation():
        web.page.click("a[hreflang=zh]")
    assert web.page.url.endswith("?max=20&category=advertising&state=all&lang=zh")
    assert "筛选" in web.page.inner_text("#gw-filters")
