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
