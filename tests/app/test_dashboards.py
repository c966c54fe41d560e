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
