"""Dashboard page sizes, server render times and browser load times at 16,000 (the demo year) and
160,000 incidents (ten years).

Starts a scratch PostGIS cluster, loads the demo district, renders each dashboard through the Flask
test client, then synthesises nine earlier years (copies of the demo incidents shifted back 1–9
years, same places and states) and renders again. When Debian's Chromium is installed it also serves
the app on 127.0.0.1 and times each page in headless Chromium from navigation until the map has
drawn its layers.

The alternative, rendered side by side from the same rows: the operator map the way Folium draws it
by default (``folium.GeoJson`` with ``GeoJsonPopup``/``GeoJsonTooltip`` for boundaries, a
``CircleMarker`` with an HTML ``Popup`` per camera and per incident, the same 1,000 newest incidents
clustered), and every open incident as GeoJSON (what an uncapped page would embed).

    .venv/bin/python benchmarks/dashboard.py
"""
from __future__ import annotations

import logging
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_engine  # noqa: E402  (benchmarks/scratch.py)

PAGES = [("operator", "operator", "/dashboard/operator"), ("grid lead", "lead", "/dashboard/grid"),
         ("planner", "planner", "/dashboard/planner"), ("statistics", "operator", "/dashboard/stats"),
         ("api bbox", "operator", "/api/incidents?bbox=104.70,29.30,104.80,29.40")]
CHROMIUM = "/usr/bin/chromium"


def _login(client, account):
    from app.demo import DEMO_ACCOUNTS

    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    client.post("/login", data={"username": account, "password": DEMO_ACCOUNTS[account][1], "csrf_token": token})


def plain_folium_operator(s, tz: str) -> str:
    """The operator map's content drawn with Folium's defaults (the alternative a Folium user writes)."""
    import folium
    from folium.plugins import MarkerCluster

    from app.dashboards import service
    from app.layers_db import read_layer

    m = folium.Map(location=(29.37, 104.77), zoom_start=12, tiles=None)
    for layer, fields in (("streets", ["code", "name", "kind"]), ("communities", ["code", "name", "street_code"]),
                          ("grids", ["code", "name", "community_code", "households", "population"])):
        frame = read_layer(s, layer)[fields + ["geom"]]
        frame["geom"] = frame.geometry.simplify(2e-5, preserve_topology=True)
        folium.GeoJson(frame.to_json(drop_id=True), name=layer, popup=folium.GeoJsonPopup(fields=fields),
                       tooltip=folium.GeoJsonTooltip(fields=["name"])).add_to(m)
    cams = read_layer(s, "cameras")
    group = folium.FeatureGroup(name="cameras").add_to(m)
    for row in cams.itertuples():
        html = "<br>".join(f"{k}: {getattr(row, k)}" for k in ("device_id", "name", "status", "programme",
                                                                 "azimuth", "fov", "range_m", "address"))
        folium.CircleMarker((row.geom.y, row.geom.x), radius=4, popup=folium.Popup(html, max_width=320)).add_to(group)
    frame, _ = service.incident_frame(s, service.IncidentFilter(), None, tz=tz)
    cluster = MarkerCluster().add_to(m)
    for row in frame.itertuples():
        html = "<br>".join(f"{k}: {getattr(row, k)}" for k in ("external_id", "category", "state", "reported_at",
                                                                 "deadline", "grid_code", "address", "description"))
        folium.CircleMarker((row.geom.y, row.geom.x), radius=6, popup=folium.Popup(html, max_width=360)).add_to(cluster)
    folium.LayerControl().add_to(m)
    return m.get_root().render()


def measure(app, label: str) -> dict:
    from sqlalchemy import text

    from app import web
    from app.dashboards import service

    with app.app_context():
        s = web.db_session()
        n, n_open = s.execute(text("SELECT count(*), count(*) FILTER (WHERE state = ANY(:o)) FROM incidents"),
                              {"o": list(service.OPEN_STATES)}).one()
        t0 = time.perf_counter()
        everything = service.incident_geojson(s, service.IncidentFilter(), None, basemap="none",
                                              tz=web.settings().timezone, limit=10**7)
        t_all = time.perf_counter() - t0
        all_size = len(everything.encode())
        t0 = time.perf_counter()
        plain = len(plain_folium_operator(s, web.settings().timezone).encode())
        t_plain = time.perf_counter() - t0
    print(f"\n== {label}: {n:,} incidents, {n_open:,} open ==")
    print(f"{'page':<12} {'size KB':>9} {'render s':>9}   (server, warm, best of 2)")
    sizes = {}
    for name, account, path in PAGES:
        client = app.test_client()
        _login(client, account)
        best, size = 1e9, 0
        for _ in range(2):
            t0 = time.perf_counter()
            r = client.get(path)
            best = min(best, time.perf_counter() - t0)
            assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:300])
            size = len(r.data)
        sizes[name] = size
        print(f"{name:<12} {size / 1024:>9.0f} {best:>9.2f}")
    print(f"{'plain Folium':<12} {plain / 1024:>9.0f} {t_plain:>9.2f}   the operator map with Folium's defaults: "
          f"{plain / sizes['operator']:.1f}× the operator page")
    print(f"{'every open':<12} {all_size / 1024:>9.0f} {t_all:>9.2f}   every open incident as GeoJSON "
          f"({all_size / 1024 / 1024:.1f} MB: what an uncapped operator page would embed)")
    return sizes


def browser_times(app) -> None:
    """Seconds from navigation until the map has drawn (best of 2), in headless Chromium."""
    if not Path(CHROMIUM).exists():
        print("(no /usr/bin/chromium: browser load times skipped; `make system-browser` installs it)")
        return
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from app.demo import DEMO_ACCOUNTS

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log in the figures
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    ready = "window.gw && window.gw.map && document.querySelectorAll('.leaflet-overlay-pane canvas').length > 0"
    print(f"{'page':<12} {'load s':>9}   (headless Chromium, navigation → map drawn, best of 2)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        for name, account, path in PAGES[:3]:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
            page = context.new_page()
            page.goto(base + "/login")
            page.fill("input[name=username]", account)
            page.fill("input[name=password]", DEMO_ACCOUNTS[account][1])
            with page.expect_navigation():
                page.click("button[type=submit]")
            best = 1e9
            for _ in range(2):
                t0 = time.perf_counter()
                page.goto(base + path, wait_until="load")
                page.wait_for_function(ready, timeout=120000)
                best = min(best, time.perf_counter() - t0)
            print(f"{name:<12} {best:>9.2f}")
            context.close()
        browser.close()
    server.shutdown()


def synthesise(engine, years: int = 9) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO incidents (external_id, category_code, source, description, address, priority, state, "
            "reported_at, dispatched_at, deadline, closed_at, grid_code, community_code, geom) "
            "SELECT 'SYN' || y || '-' || i.id, i.category_code, i.source, i.description, i.address, i.priority, "
            "i.state, i.reported_at - make_interval(years => y), i.dispatched_at - make_interval(years => y), "
            "i.deadline - make_interval(years => y), i.closed_at - make_interval(years => y), i.grid_code, "
            "i.community_code, i.geom FROM incidents i CROSS JOIN generate_series(1, :years) AS y "
            "WHERE i.external_id NOT LIKE 'SYN%'"), {"years": years})
        conn.execute(text("ANALYZE incidents"))


def main() -> None:
    from app import create_app
    from app.config import Settings
    from app.db import Database
    from app.demo import create_demo_accounts, load_demo

    with scratch_engine() as engine:
        db = Database(engine)
        tmp = Path(tempfile.mkdtemp(prefix="gridwatch-bench-var-"))
        settings = Settings({"var_dir": str(tmp), "secret_key": "bench"}, environ={}, config_file=tmp / "none.toml")
        with db.session() as s:
            load_demo(s, ROOT / "data", settings=settings)
            create_demo_accounts(s)
        try:
            app = create_app(settings, database=db)
            measure(app, "one year (demo)")
            browser_times(app)
            synthesise(engine)
            measure(app, "ten years (demo + 9 synthetic years)")
            browser_times(app)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
