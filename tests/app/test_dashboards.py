"""Dashboards through the Flask client: pages per role, scoping, masking, endpoints, downloads."""
from __future__ import annotations

import re

import pytest

from tests.app.dash_helpers import csrf, lead_grid, login  # noqa: F401  (fixture)
from tests.settings import TEST_SETTINGS


def test_operator_page_renders(client, lead_grid):
    login(client, "operator")
    r = client.get("/dashboard/operator?max=200")
    assert r.status_code == 200, r.get_data(as_text=True)[-2000:]
    html = r.get_data(as_text=True)
    assert "L.markerClusterGroup" in html


def test_incident_detail_api(client, lead_grid, demo_session):
    login(client, "operator")
    iid = demo_session.execute(__import__("sqlalchemy").text(
        "SELECT min(id) FROM incidents WHERE state = 'reported'")).scalar()
    r = client.get(f"/api/incidents/{iid}")
    assert r.status_code == 200, r.get_data(as_text=True)[-3000:]
    body = r.get_json()
    assert body["incident"]["id"] == iid and body["timeline"][0]["action"] == "report"
    assert set(body["seeing"]) == {"cameras", "cones", "spot"}


def test_incident_api_filters_equal_plain_sql(client, lead_grid, demo_session):
    """bbox, category, state, community and since through /api/incidents agree with a direct PostGIS query."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import text

    login(client, "operator")
    w, s, e, n = 104.70, 29.33, 104.76, 29.38
    community = demo_session.execute(text(
        "SELECT community_code FROM incidents GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")).scalar()
    cases = [
        ({"state": "all", "bbox": f"{w},{s},{e},{n}", "category": "dispute"},
         "category_code = 'dispute' AND ST_Intersects(geom, ST_MakeEnvelope(:w, :s, :e, :n, 4326))"),
        ({"state": ["closed", "voided"], "community": community},
         "state IN ('closed', 'voided') AND community_code = :community"),
        ({}, "state IN ('reported', 'accepted', 'dispatched', 'in_progress', 'resolved')"),
    ]
    for args, where in cases:
        expected = demo_session.execute(text(f"SELECT count(*) FROM incidents WHERE {where}"),
                                        {"w": w, "s": s, "e": e, "n": n, "community": community}).scalar()
        assert expected > 0
        body = client.get("/api/incidents", query_string=args).get_json()
        assert body["total"] == expected, args
        assert len(body["features"]) == min(expected, 2000)
    # since: only what changed after the given time (an incident touched now, the rest long ago)
    demo_session.execute(text("UPDATE incidents SET updated_at = now() - interval '30 days'"))
    touched = demo_session.execute(text("UPDATE incidents SET updated_at = now() WHERE id = "
                                        "(SELECT min(id) FROM incidents WHERE state = 'reported') RETURNING id")).scalar()
    since = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    body = client.get("/api/incidents", query_string={"since": since}).get_json()
    assert [f["properties"]["id"] for f in body["features"]] == [touched]


def test_heat_cells_count_every_matching_incident_once(demo_session):
    from sqlalchemy import text

    from app.dashboards.service import IncidentFilter, heat_cells

    flt = IncidentFilter(states=["closed"], categories=["dispute"])
    cells = heat_cells(demo_session, flt, None)
    expected = demo_session.execute(text(
        "SELECT count(*) FROM incidents WHERE state = 'closed' AND category_code = 'dispute'")).scalar()
    assert int(cells["n"].sum()) == expected > 0
    assert cells.geometry.is_valid.all() and len(cells) < expected  # aggregated, not one point each
    grid = demo_session.execute(text("SELECT grid_code FROM incidents WHERE category_code = 'dispute' "
                                     "AND state = 'closed' LIMIT 1")).scalar()
    scoped = heat_cells(demo_session, flt, {grid})
    assert int(scoped["n"].sum()) == demo_session.execute(text(
        "SELECT count(*) FROM incidents WHERE state = 'closed' AND category_code = 'dispute' AND grid_code = :g"),
        {"g": grid}).scalar()


def test_grid_lead_sees_patrol_coverage_of_their_grid(client, lead_grid, demo_session):
    """Points planted along the grid's own road: the page shows the patrol report's minutes and road share."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import text

    from app.patrols.service import patrol_report

    lead = demo_session.execute(text("SELECT member_id FROM member_roles WHERE grid_code = :g AND role = 'lead'"),
                                {"g": lead_grid}).scalar()
    pts = demo_session.execute(text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_DumpPoints(ST_Intersection(r.geom, g.geom))).geom AS p "
        "FROM roads r JOIN grids g ON g.code = :g AND ST_Intersects(r.geom, g.geom)) s "
        "WHERE ST_GeometryType(p) = 'ST_Point' LIMIT 4"), {"g": lead_grid}).all()
    if len(pts) < 2:  # a grid without roads: walk across its inside instead
        pts = demo_session.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_Dump(ST_GeneratePoints(geom, 4, 1)))"
                                        ".geom p FROM grids WHERE code = :g) s"), {"g": lead_grid}).all()
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    for k, (x, y) in enumerate(pts):
        demo_session.execute(text(
            "INSERT INTO patrol_points (member_id, at, geom, grid_code) VALUES "
            "(:m, :at, ST_SetSRID(ST_MakePoint(:x, :y), 4326), :g)"),
            {"m": lead, "at": start + timedelta(minutes=5 * k), "x": x, "y": y, "g": lead_grid})
    demo_session.commit()
    login(client, "lead")
    html = client.get("/dashboard/grid").get_data(as_text=True)
    table = re.search(r'<table class="gw" id="gw-patrols">(.*?)</table>', html, re.S).group(1)
    row = re.search(rf"<tr[^>]*><td>{lead_grid}</td>(.*?)</tr>", table, re.S).group(0)
    cells = re.findall(r"<td>([^<]*)</td>", row)
    today = datetime.now(timezone.utc).astimezone(timezone(timedelta(hours=8))).date()
    rep = patrol_report(demo_session, today - timedelta(days=6), today, grid_codes=[lead_grid], settings=TEST_SETTINGS)
    rep = rep[rep["grid_code"] == lead_grid]
    assert int(cells[1]) == len(pts) == int(rep["points"].sum())
    assert float(cells[4]) == round(float(rep["minutes_in_grid"].sum()), 1) > 0
    assert "gw-overdue" not in row  # patrolled, so not flagged


def _geodesic_seeing(cams, lon, lat, *, edge_m=1.0, edge_deg=0.5):
    """Independent oracle: (sees, after turn, ambiguous) device ids by geodesic distance and bearing on
    the WGS-84 ellipsoid (pyproj.Geod), not the planar EPSG:4544 geometry the app uses; spots within
    ``edge_m`` / ``edge_deg`` of a sector's edge are ambiguous between the two and left out."""
    import numpy as np
    from pyproj import Geod

    from gis.coverage import EXCLUDED_STATUS, TURNABLE_PTZ
    from gis.viewshed import camera_parameters

    cams = cams[~cams["status"].isin(EXCLUDED_STATUS)]
    az, fov, rng, disc = camera_parameters(cams)
    fwd, _back, dist = Geod(ellps="WGS84").inv(cams.geometry.x.to_numpy(), cams.geometry.y.to_numpy(),
                                               np.full(len(cams), lon), np.full(len(cams), lat))
    off = np.abs((fwd % 360.0 - az + 180.0) % 360.0 - 180.0)
    in_range, in_sector = dist <= rng, disc | (off <= fov / 2)
    turnable = np.isin(cams["ptz_type"].to_numpy(dtype=float), TURNABLE_PTZ)
    ambiguous = (np.abs(dist - rng) < edge_m) | (~disc & (np.abs(off - fov / 2) < edge_deg) & in_range)
    ids = cams["device_id"].to_numpy()
    return set(ids[in_range & in_sector]), set(ids[in_range & ~in_sector & turnable]), set(ids[ambiguous])


def test_cameras_seeing_a_spot_agree_with_a_geodesic_oracle(client, lead_grid, demo_session):
    """Right-click 'which cameras see this spot': the API (planar EPSG:4544 sectors, 600 m index
    prefilter) against geodesic distance/bearing over the whole registry, at spots in front of, beside
    and behind cameras."""
    import numpy as np
    from pyproj import Geod
    from sqlalchemy import text

    from app.layers_db import read_layer

    login(client, "operator")
    rng = np.random.default_rng(7)
    sample = read_layer(demo_session, "cameras").sample(40, random_state=7)
    # the demo has no turnable bullet cameras (PTZ 4): make half the sampled fixed ones turnable
    demo_session.execute(text("UPDATE cameras SET ptz_type = 4 WHERE ptz_type = 3 AND device_id = ANY(:ids)"),
                         {"ids": list(sample["device_id"].iloc[::2])})
    cams = read_layer(demo_session, "cameras")
    geod = Geod(ellps="WGS84")
    spots = [geod.fwd(p.x, p.y, float(rng.uniform(0, 360)), float(rng.uniform(5, 120)))[:2] for p in sample.geometry]
    checked = seen_any = turned_any = 0
    for lon, lat in spots:
        body = client.get("/api/cameras/seeing", query_string={"lon": f"{lon:.7f}", "lat": f"{lat:.7f}"}).get_json()
        sees = {c["device_id"] for c in body["cameras"] if c["sees"]}
        turn = {c["device_id"] for c in body["cameras"] if c["after_turn"]}
        want_sees, want_turn, ambiguous = _geodesic_seeing(cams, lon, lat)
        assert sees - ambiguous == want_sees - ambiguous, (lon, lat)
        assert turn - ambiguous == want_turn - ambiguous, (lon, lat)
        assert {f["properties"]["device_id"] for f in body["cones"]["features"]} == sees | turn
        checked += 1
        seen_any += bool(sees)
        turned_any += bool(turn)
    assert checked == 40 and seen_any >= 5 and turned_any >= 1  # the sample exercises both answers


def test_cameras_seeing_on_an_amap_basemap_takes_gcj02_clicks(settings, demo_db, demo_session):
    """On a GCJ-02 basemap the click arrives shifted; the answer is the one for the true spot."""
    from app import create_app
    from app.demo import create_demo_accounts
    from app.layers_db import read_layer
    from gis.coverage import view_sectors
    from gis.crs import wgs84_to_gcj02

    with demo_db.session() as s:
        create_demo_accounts(s)
    amap = create_app(settings.replace(basemap="amap"), database=demo_db).test_client()
    plain = create_app(settings, database=demo_db).test_client()
    for c in (amap, plain):
        login(c, "operator")
    cam = read_layer(demo_session, "cameras", where="status = 'ON'").iloc[:1]
    spot = view_sectors(cam).iloc[0].representative_point()
    gx, gy = wgs84_to_gcj02(spot.x, spot.y)
    shifted = amap.get("/api/cameras/seeing", query_string={"lon": float(gx), "lat": float(gy)}).get_json()
    true = plain.get("/api/cameras/seeing", query_string={"lon": spot.x, "lat": spot.y}).get_json()
    assert cam["device_id"].iloc[0] in {c["device_id"] for c in true["cameras"] if c["sees"]}
    assert shifted["cameras"] == true["cameras"]
    # the cones come back in display coordinates: shifted by some hundreds of metres on Amap
    dx = shifted["cones"]["features"][0]["geometry"]["coordinates"][0][0][0] - \
        true["cones"]["features"][0]["geometry"]["coordinates"][0][0][0]
    assert 0.001 < abs(dx) < 0.01


@pytest.mark.parametrize("query, field", [({"lon": "abc", "lat": "29.3"}, "lon"), ({"lon": "104.7"}, "lat"),
                                          ({"lon": "104.7", "lat": "95"}, "lat"), ({"lon": "nan", "lat": "29"}, "lon")])
def test_cameras_seeing_bad_spot_is_a_clear_422(client, lead_grid, query, field):
    login(client, "operator")
    r = client.get("/api/cameras/seeing", query_string=query)
    assert r.status_code == 422 and field in r.get_data(as_text=True)


def test_cameras_seeing_is_not_for_grid_leads(client, lead_grid):
    login(client, "lead")
    assert client.get("/api/cameras/seeing", query_string={"lon": 104.7, "lat": 29.3}).status_code == 403


def test_incident_detail_shows_a_grid_lead_only_their_grids_cameras(app, lead_grid, demo_session):
    """The cameras seeing an incident's spot follow the same scoping as every other camera list: a
    camera of a neighbouring grid that sees the lead's incident is listed for an operator, not for the lead."""
    from sqlalchemy import text

    iid, lon, lat = demo_session.execute(text(
        "SELECT id, ST_X(geom), ST_Y(geom) FROM incidents WHERE grid_code = :g ORDER BY id LIMIT 1"),
        {"g": lead_grid}).one()
    # a dome camera of another grid, 15 m away: it sees the spot whatever its azimuth
    other = demo_session.execute(text(
        "UPDATE cameras SET geom = ST_Project(ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography, 15, 0)::geometry, "
        "ptz_type = 1, status = 'ON', range_m = 80 WHERE device_id = (SELECT min(device_id) FROM cameras "
        "WHERE grid_code <> :g) RETURNING device_id"), {"x": lon, "y": lat, "g": lead_grid}).scalar()

    def seeing(account):
        client = app.test_client()
        login(client, account)
        body = client.get(f"/api/incidents/{iid}").get_json()
        return {c["device_id"] for c in body["seeing"]["cameras"]}, \
            {f["properties"]["device_id"] for f in body["seeing"]["cones"]["features"]}

    cams, cones = seeing("operator")
    assert other in cams and other in cones
    cams, cones = seeing("lead")
    assert other not in cams and other not in cones
    own = {r[0] for r in demo_session.execute(text("SELECT device_id FROM cameras WHERE grid_code = :g"),
                                              {"g": lead_grid})}
    assert cams <= own


def test_dashboard_times_follow_the_timezone_setting(settings, demo_db, demo_session):
    """Marker times, the incident API and the detail panel all show the district's zone (setting
    ``timezone``), not a zone written into the code."""
    from zoneinfo import ZoneInfo

    from sqlalchemy import text

    from app import create_app
    from app.demo import create_demo_accounts

    with demo_db.session() as s:
        create_demo_accounts(s)
    iid, reported = demo_session.execute(text(
        "SELECT id, reported_at FROM incidents WHERE state = 'reported' ORDER BY reported_at DESC LIMIT 1")).one()
    for tz, offset in (("Asia/Shanghai", "+08:00"), ("UTC", "+00:00")):
        c = create_app(settings.replace(timezone=tz), database=demo_db).test_client()
        login(c, "operator")
        detail = c.get(f"/api/incidents/{iid}").get_json()
        local = reported.astimezone(ZoneInfo(tz))
        assert detail["incident"]["reported_at"] == local.isoformat(timespec="seconds")
        assert detail["incident"]["reported_at"].endswith(offset)
        assert all(e["at"].endswith(offset) for e in detail["timeline"])
        feature = next(f for f in c.get("/api/incidents").get_json()["features"] if f["properties"]["id"] == iid)
        assert feature["properties"]["reported_at"] == local.strftime("%Y-%m-%d %H:%M")
