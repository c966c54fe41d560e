"""Security headers on every response, script nonces, cookie flags, /healthz, language links, favicon."""
from __future__ import annotations

import html as html_lib
import re

import pytest

from app import create_app
from app.security import STATIC_HEADERS, tile_sources
from layers.base import BASEMAPS
from tests.app.dash_helpers import login, lead_grid  # noqa: F401  (fixture)

SCRIPT_TAG = re.compile(r"<script\b[^>]*>", re.I)
NONCE = re.compile(r"""\bnonce=["']([^"']+)["']""")
EVENT_HANDLER = re.compile(r"""<[^>]+\son[a-z]+\s*=""", re.I)


def directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


def header_nonce(response) -> str:
    (source,) = [s for s in directives(response)["script-src"] if s.startswith("'nonce-")]
    return source[len("'nonce-"):-1]


def assert_secure_headers(response, img=()):
    csp = directives(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"][0] == "'self'" and len(csp["script-src"]) == 2
    assert len(header_nonce(response)) >= 16
    assert csp["img-src"] == ["'self'", "data:", *img]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in str(csp)
    for name, value in STATIC_HEADERS.items():
        assert response.headers[name] == value, name
    # the values themselves, not only the constant they come from (a weaker constant must fail here)
    assert response.headers["Referrer-Policy"] in ("strict-origin-when-cross-origin", "same-origin", "no-referrer")
    assert "microphone=()" in response.headers["Permissions-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "geolocation=(self)" in response.headers["Permissions-Policy"]
    assert "camera=(self)" in response.headers["Permissions-Policy"]


def test_every_kind_of_response_has_the_headers(client, lead_grid):
    anonymous = {
        "redirect": client.get("/"),
        "login page": client.get("/login"),
        "not found": client.get("/no-such-page"),
        "api without log-in": client.get("/api/incidents"),
        "open311": client.get("/open311/v2/services.json"),
        "vendor script": client.get("/vendor/leaflet/leaflet.js"),
        "static file": client.get("/static/favicon.svg"),
        "favicon": client.get("/favicon.ico"),
        "health": client.get("/healthz"),
    }
    login(client, "operator")
    signed_in = {
        "page": client.get("/dashboard/operator?max=5"),
        "json": client.get("/api/incidents?max=5"),
        "bad csrf": client.post("/api/incidents/1/actions", json={"action": "accept"}),
        "bad parameter": client.get("/dashboard/operator?max=x"),
    }
    for name, r in {**anonymous, **signed_in}.items():
        assert_secure_headers(r), name
    assert anonymous["redirect"].status_code == 302 and anonymous["not found"].status_code == 404
    assert signed_in["bad csrf"].status_code == 400 and signed_in["bad parameter"].status_code in (400, 422)


def test_a_server_error_has_the_headers(settings, demo_db):
    app = create_app(settings, database=demo_db)  # not TESTING: the 500 is answered, not raised

    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    r = app.test_client().get("/boom")
    assert r.status_code == 500
    assert_secure_headers(r)


def test_each_response_has_its_own_nonce_on_every_page_script(client, lead_grid):
    login(client, "operator")
    seen = set()
    for _ in range(2):
        r = client.get("/dashboard/operator?max=20")
        page, nonce = r.get_data(as_text=True), header_nonce(r)
        tags = SCRIPT_TAG.findall(page)
        assert len(tags) >= 5  # Leaflet & plugins, Folium's inline settings, the map script, the page script
        assert [NONCE.search(t).group(1) if NONCE.search(t) else None for t in tags] == [nonce] * len(tags)
        seen.add(nonce)
    assert len(seen) == 2


@pytest.mark.parametrize("account, path", [
    ("operator", "/dashboard/operator?max=50"), ("planner", "/dashboard/planner"),
    ("lead", "/dashboard/grid"), ("operator", "/dashboard/stats"), (None, "/login")])
def test_pages_have_no_inline_handlers_or_script_urls(client, lead_grid, account, path):
    """A nonce CSP refuses onclick=… and javascript: links: the pages must work without them."""
    if account:
        login(client, account)
    r = client.get(path)
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    assert not EVENT_HANDLER.search(page), EVENT_HANDLER.search(page).group(0)
    assert "javascript:" not in page.lower()
    nonce = header_nonce(r)
    assert all(f'nonce="{nonce}"' in t for t in SCRIPT_TAG.findall(page))


def test_the_nonce_is_never_added_to_a_response_body(settings, demo_db):
    """Markup a view sends on (e.g. injected text) gets no nonce: only the app's own templates carry it."""
    app = create_app(settings, database=demo_db)

    @app.get("/echo")
    def echo():
        return "<p>hi</p><script>alert(1)</script><SCRIPT src=/x.js></SCRIPT>"

    r = app.test_client().get("/echo")
    assert r.get_data(as_text=True) == "<p>hi</p><script>alert(1)</script><SCRIPT src=/x.js></SCRIPT>"
    assert header_nonce(r) not in r.get_data(as_text=True)


@pytest.mark.parametrize("basemap, key, expected", [
    ("none", "", ()),
    ("osm", "", ("https://tile.openstreetmap.org",)),
    ("tianditu", "KEY", ("https://t0.tianditu.gov.cn",)),
    ("amap", "", ("https://webrd01.is.autonavi.com",)),
    ("/tiles/{z}/{x}/{y}.png", "", ()),  # this server: 'self'
    ("https://{s}.Tiles.example.org/{z}/{x}/{y}.png", "", ("https://*.tiles.example.org",)),
    ("http://10.0.0.5:8080/t/{z}/{x}/{y}.png", "", ("http://10.0.0.5:8080",)),
])
def test_tile_sources(basemap, key, expected):
    assert tile_sources(basemap, key) == expected


def test_tile_sources_come_from_the_basemap_definition():
    """One definition: every named basemap's source is where its tile URL points."""
    for name, (url, _attr) in BASEMAPS.items():
        (source,) = tile_sources(name, "KEY")
        assert url.startswith(source + "/"), name


@pytest.mark.parametrize("basemap", ["https://a.{s}.example.org/{z}/{x}/{y}.png",
                                     "https://x;script-src *;/{z}/{x}/{y}.png",
                                     "https://x y/{z}/{x}/{y}.png"])
def test_a_tile_host_that_cannot_go_in_the_header_stops_the_app(settings, demo_db, basemap):
    with pytest.raises(ValueError, match="'basemap'"):
        create_app(settings.replace(basemap=basemap), database=demo_db)


@pytest.mark.parametrize("basemap, host", [("osm", "https://tile.openstreetmap.org"),
                                           ("amap", "https://webrd01.is.autonavi.com")])
def test_the_configured_basemap_host_is_allowed_for_images(settings, demo_db, basemap, host):
    r = create_app(settings.replace(basemap=basemap), database=demo_db).test_client().get("/login")
    assert_secure_headers(r, img=(host,))
    assert host not in directives(r)["default-src"] + directives(r)["script-src"]


def _session_cookie(response) -> str:
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return cookie


@pytest.mark.parametrize("secure", [False, True])
def test_cookie_secure_setting(settings, demo_db, secure):
    app = create_app(settings.replace(cookie_secure=secure), database=demo_db)
    flags = [f.strip().lower() for f in _session_cookie(app.test_client().get("/login")).split(";")]
    assert "httponly" in flags and "samesite=lax" in flags
    assert ("secure" in flags) is secure


def test_healthz_ok(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json()["status"] == "ok"


@pytest.mark.parametrize("url", ["postgresql://nobody@/gridwatch?host=/nonexistent/gridwatch-socket-dir",
                                 "postgresql://nobody@127.0.0.1:1/gridwatch"])
def test_healthz_unavailable_names_no_internals(settings, url):
    r = create_app(settings.replace(database_url=url)).test_client().get("/healthz")
    body = r.get_data(as_text=True)
    assert r.status_code == 503 and r.get_json()["status"] == "unavailable"
    assert int(r.headers["Retry-After"]) > 0
    for internal in ("nonexistent", "socket", "127.0.0.1", "nobody", "gridwatch", "5432", "connection"):
        assert internal not in body.lower(), internal
    assert_secure_headers(r)


def _lang_links(page: str) -> dict[str, str]:
    links = re.findall(r'<a href="([^"]*)" hreflang="(\w+)"', page)
    return {lang: html_lib.unescape(href) for href, lang in links}


def test_language_links_keep_the_page_and_its_query(client, lead_grid):
    login(client, "operator")
    query = "max=5&category=advertising&state=all&state=reported"
    links = _lang_links(client.get(f"/dashboard/operator?{query}&lang=zh").get_data(as_text=True))
    assert links == {"zh": f"?{query}&lang=zh", "en": f"?{query}&lang=en"}  # lang replaced, not repeated
    english = client.get("/dashboard/operator" + links["en"]).get_data(as_text=True)
    assert "Filters" in english and '<option value="advertising" selected' in english
    # the choice is remembered: the next page without ?lang= stays English
    assert "Filters" in client.get("/dashboard/operator?max=5").get_data(as_text=True)


def test_language_links_keep_the_grid(client, lead_grid):
    login(client, "admin")
    page = client.get(f"/dashboard/grid?grid={lead_grid}&max=5").get_data(as_text=True)
    assert _lang_links(page)["en"] == f"?grid={lead_grid}&max=5&lang=en"
    english = client.get(f"/dashboard/grid?grid={lead_grid}&max=5&lang=en")
    assert english.status_code == 200 and lead_grid in english.get_data(as_text=True)


def test_language_links_on_the_login_page_stay_on_it(client):
    links = _lang_links(client.get("/login?next=/dashboard/stats").get_data(as_text=True))
    assert links["en"] == "?next=%2Fdashboard%2Fstats&lang=en"


def test_favicon(client):
    ico = client.get("/favicon.ico")
    assert ico.status_code == 200 and ico.mimetype == "image/vnd.microsoft.icon"
    assert ico.data[:4] == b"\x00\x00\x01\x00"  # an ICO directory
    page = client.get("/login").get_data(as_text=True)
    icons = re.findall(r'<link rel="icon" href="([^"]+)"', page)
    assert "/favicon.ico" in icons and len(icons) == 2
    for href in icons:
        r = client.get(href)
        assert r.status_code == 200 and r.mimetype.startswith("image/"), href
    assert b"<svg" in client.get(icons[0]).data
