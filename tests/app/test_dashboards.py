"""Dashboards through the Flask client: pages per role, scoping, masking, endpoints, downloads."""
from __future__ import annotations

import re

from tests.app.dash_helpers import csrf, lead_grid, login  # noqa: F401  (fixture)


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
    assert body["incident"]["id"] == iid and "timeline" in body and body["seeing"]["available"]


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
    rep = patrol_report(demo_session, today - timedelta(days=6), today, grid_codes=[lead_grid])
    rep = rep[rep["grid_code"] == lead_grid]
    assert int(cells[1]) == len(pts) == int(rep["points"].sum())
    assert float(cells[4]) == round(float(rep["minutes_in_grid"].sum()), 1) > 0
    assert "gw-overdue" not in row  # patrolled, so not flagged
