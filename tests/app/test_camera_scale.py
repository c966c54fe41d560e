"""Camera layers beyond what a page embeds (issue 16, ``app.dashboards.map_api``): with the threshold lowered
below the demo's 371 cameras, the pages embed per-grid counts instead of cameras, and ``/api/map/cameras``
answers exactly the cameras of a bounding box (PostGIS is the oracle), scoped to what the user may see."""
from __future__ import annotations

import json
from collections import OrderedDict

import pytest
from sqlalchemy import text

from app.dashboards import map_api, pages
from tests.app.dash_helpers import lead_grid, login  # noqa: F401  (lead_grid: a fixture)
from tests.app.dash_helpers import page_data as _data
from tests.maps import collections

def _q(demo_db, sql, **params):
    with demo_db.Session() as s:
        return s.execute(text(sql), params).all()


@pytest.fixture
def big_registry(monkeypatch):
    """The demo's registry treated as too big to embed (and a fresh page cache: its frames depend on it)."""
    monkeypatch.setattr(map_api, "CAMERA_EMBED_MAX", 50)
    monkeypatch.setattr(pages, "_FRAMES", OrderedDict())


def _device_ids(fc: dict) -> list[str]:
    return sorted(f["properties"]["device_id"] for f in fc["features"])


def test_the_demo_registry_is_embedded_as_before(client, demo_db, lead_grid):  # noqa: F811
    login(client, "operator")
    html = client.get("/dashboard/operator").get_data(as_text=True)
    active = _q(demo_db, "SELECT count(*) FROM cameras WHERE lifecycle = 'active'")[0][0]
    assert active <= map_api.CAMERA_EMBED_MAX
    assert any(len(fc["features"]) == active and "device_id" in fc["features"][0]["properties"]
               for fc in collections(html))
    assert _data(html)["map"]["cameras"]["by_bbox"] is False


@pytest.mark.parametrize("page", ["operator", "planner"])
def test_a_big_registry_embeds_counts_per_grid_not_cameras(client, demo_db, big_registry, lead_grid,  # noqa: F811
                                                           page):
    login(client, "operator" if page == "operator" else "planner")
    html = client.get(f"/dashboard/{page}").get_data(as_text=True)
    per_grid = dict(_q(demo_db, "SELECT coalesce(grid_code, '-'), count(*) FROM cameras WHERE lifecycle = 'active' "
                                "GROUP BY 1"))
    fcs = collections(html)
    assert not any(f["properties"].get("device_id") for fc in fcs for f in fc["features"])  # no camera, no cone
    counts = [fc for fc in fcs if fc["features"] and set(fc["features"][0]["properties"]) == {"code", "n", "radius"}]
    assert len(counts) == 1
    got = {f["properties"]["code"] or "-": f["properties"]["n"] for f in counts[0]["features"]}
    assert got == per_grid
    cfg = _data(html)["map"]
    assert cfg["cameras"] == {"by_bbox": True, "min_zoom": map_api.CAMERA_MIN_ZOOM, "cones": page == "planner"}
    assert cfg["names"]["cameras"] and cfg["names"]["camera_counts"]
    assert ("camera_cones" in cfg["names"]) == (page == "planner")


def _box_around(demo_db, n_cameras_wanted=40):
    """A box around the first cameras by longitude (some inside, most outside)."""
    lon = _q(demo_db, "SELECT ST_X(geom) FROM cameras WHERE lifecycle = 'active' ORDER BY ST_X(geom) "
                      "OFFSET :k LIMIT 1", k=n_cameras_wanted)[0][0]
    (w, s, e, n), = _q(demo_db, "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                                "(SELECT ST_Extent(geom) e FROM cameras) x")
    return w - 0.001, s - 0.001, lon, n + 0.001


def test_the_bbox_answer_is_exactly_the_cameras_inside(client, demo_db, lead_grid):  # noqa: F811
    login(client, "operator")
    box = _box_around(demo_db)
    r = client.get("/api/map/cameras?bbox=" + ",".join(f"{v:.6f}" for v in box))
    assert r.status_code == 200, r.get_data(as_text=True)
    fc = r.get_json()
    want = sorted(d for d, in _q(demo_db, "SELECT device_id FROM cameras WHERE lifecycle = 'active' AND "
                                          "geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)",
                                 **dict(zip("wsen", (round(v, 6) for v in box)))))
    assert 0 < len(want) < _q(demo_db, "SELECT count(*) FROM cameras")[0][0]
    assert _device_ids(fc) == want and fc["total"] == len(want) and fc["truncated"] is False
    assert "cones" not in fc
    props = fc["features"][0]["properties"]
    assert {"device_id", "status", "name"} <= set(props)
    with_cones = client.get("/api/map/cameras?cones=1&bbox=" + ",".join(f"{v:.6f}" for v in box)).get_json()
    cone_ids = sorted(f["properties"]["device_id"] for f in with_cones["cones"]["features"])
    assert set(cone_ids) <= set(want) and cone_ids
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in with_cones["cones"]["features"])


def test_a_box_with_more_than_the_limit_says_so(client, demo_db, monkeypatch, lead_grid):  # noqa: F811
    monkeypatch.setattr(map_api, "CAMERA_BBOX_MAX", 5)
    login(client, "operator")
    fc = client.get("/api/map/cameras?bbox=103,28,106,31").get_json()
    active = _q(demo_db, "SELECT count(*) FROM cameras WHERE lifecycle = 'active'")[0][0]
    assert fc == {"type": "FeatureCollection", "features": [], "total": active, "truncated": True, "limit": 5}


def test_a_grid_lead_gets_only_the_cameras_of_their_grids(client, demo_db, lead_grid):  # noqa: F811
    login(client, "lead")
    fc = client.get("/api/map/cameras?bbox=103,28,106,31").get_json()
    want = sorted(d for d, in _q(demo_db, "SELECT device_id FROM cameras WHERE lifecycle = 'active' "
                                          "AND grid_code = :g", g=lead_grid))
    assert _device_ids(fc) == want


@pytest.mark.parametrize("query", ["", "?bbox=", "?bbox=1,2,3", "?bbox=5,0,4,1", "?bbox=a,b,c,d",
                                   "?bbox=103,28,106,31&cones=maybe", "?bbox=nan,28,106,31"])
def test_bad_parameters_are_a_422_naming_them(client, lead_grid, query):  # noqa: F811
    login(client, "operator")
    r = client.get("/api/map/cameras" + query)
    assert r.status_code == 422  # the dashboards' APIs: InvalidData, each bad parameter named
    body = json.dumps(r.get_json())
    assert ("cones" if "cones" in query else "bbox") in body


def test_the_api_needs_a_log_in(client):
    r = client.get("/api/map/cameras?bbox=103,28,106,31")
    assert r.status_code == 401


def test_the_planner_loads_blind_spots_on_demand_exactly(client, demo_db, lead_grid):  # noqa: F811
    """The page embeds an empty layer; the API's polygons are the blind spots of the coverage core (the
    oracle: gis.coverage.blind_spots on the same cameras and grids), areas included."""
    from app.coverage.service import load_cameras
    from app.layers_db import read_layer
    from gis.coverage import blind_spots

    login(client, "planner")
    html = client.get("/dashboard/planner").get_data(as_text=True)
    names = _data(html)["map"]["names"]
    assert names["blind_spots"] and names["blind_spots_group"]
    r = client.get("/api/map/blind-spots")
    assert r.status_code == 200
    fc = r.get_json()
    with demo_db.Session() as s:
        want = blind_spots(load_cameras(s), read_layer(s, "grids"), code="code")
    assert len(fc["features"]) == len(want) > 0
    got = sorted((f["properties"]["code"], f["properties"]["area_m2"]) for f in fc["features"])
    oracle = sorted(zip(want["code"], want["area_m2"].astype(float)))
    assert [g[0] for g in got] == [o[0] for o in oracle]
    assert all(abs(g[1] - o[1]) <= 1 for g, o in zip(got, oracle))  # shown to the m²
    login(client, "operator")
    assert client.get("/api/map/blind-spots").status_code == 403


def test_outside_view_counts_the_open_incidents_of_the_demand_period(demo_session):
    """Brute force (each open incident of the period against every working camera's view polygon) is the
    oracle; an incident left open for years is not counted (at 100× the incidents, all years' open ones
    made the planner 5× slower)."""
    import shapely

    from app.coverage.service import DEMAND_DAYS, load_cameras
    from app.dashboards.planning import outside_view
    from app.incidents.models import OPEN_STATES
    from gis.coverage import view_sectors

    s = demo_session
    old = s.execute(text("UPDATE incidents SET state = 'reported', reported_at = reported_at - interval '3 years' "
                         "WHERE id IN (SELECT id FROM incidents WHERE state = 'closed' ORDER BY id LIMIT 50) "
                         "RETURNING id")).scalars().all()
    cams = load_cameras(s)
    got = outside_view(s, cams)
    assert not set(got["code"]) & set(old)
    rows = s.execute(text(
        "SELECT id, ST_X(geom), ST_Y(geom) FROM incidents WHERE state = ANY(:o) AND reported_at >= "
        "(SELECT max(reported_at) FROM incidents) - make_interval(days => :d)"),
        {"o": list(OPEN_STATES), "d": DEMAND_DAYS}).all()
    views = [v for v in view_sectors(cams).to_numpy()]
    want = {i for i, x, y in rows if not any(v.covers(shapely.Point(x, y)) for v in views)}
    assert set(got["code"]) == want and len(want) > 0
    assert len(outside_view(s, cams, days=None)) >= len(want) + 1  # every year: the old ones come back
    # what the coverage report already asked of the same cameras (the planner page passes it on)
    import numpy as np

    from app.coverage.service import DemandSeen, coverage_report

    known = coverage_report(s, cameras=cams).attrs["demand_seen"]
    assert set(outside_view(s, cams, known=known)["code"]) == want
    keep = np.arange(len(known.ids)) % 2 == 0  # half of them unknown (as if reported since): asked of GEOS
    assert set(outside_view(s, cams, known=DemandSeen(known.ids[keep], known.seen[keep]))["code"]) == want
    lie = DemandSeen(known.ids[keep], np.ones(int(keep.sum()), dtype=bool))  # the known answers are used as given
    assert set(outside_view(s, cams, known=lie)["code"]) == want - set(known.ids[keep].tolist())
