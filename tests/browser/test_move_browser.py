"""The operator moves an incident on the map (issue 11: the move action answered 500): "move" in the
detail panel, a click on the map places the new spot, confirm posts it; the incident lands in the grid
PostGIS says covers the spot."""
from __future__ import annotations

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.browser


def test_operator_moves_an_incident_by_clicking_the_map(web, live_data):
    engine, facts = live_data
    with engine.connect() as conn:
        # an open incident away from the lead's grid and the incidents other tests look at
        iid, grid = conn.execute(text(
            "SELECT id, grid_code FROM incidents WHERE state IN ('reported', 'accepted', 'dispatched', 'in_progress') "
            "AND grid_code <> :g AND id <> :o ORDER BY id DESC LIMIT 1"),
            {"g": facts["grid"], "o": facts["other_id"]}).one()
        target, lon, lat = conn.execute(text(
            "SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM grids "
            "WHERE code NOT IN (:a, :b) ORDER BY code DESC LIMIT 1"), {"a": grid, "b": facts["grid"]}).one()
    web.login("operator")
    web.page.wait_for_function("() => window.gw && window.gw.map && window.gw.ready")
    web.page.evaluate("id => gw.openIncident(id)", iid)
    web.page.wait_for_selector("#gw-detail-actions button[data-action=move]")
    assert web.page.is_hidden("#gw-move")
    web.page.click("#gw-detail-actions button[data-action=move]")
    assert web.page.is_visible("#gw-move") and web.page.is_hidden("#gw-move-confirm")  # nothing placed yet
    web.page.fill("#gw-detail-form textarea[name=note]", "pin was on the wrong street")
    web.page.evaluate("([lat, lon]) => { gw.map.setView([lat, lon], 17, {animate: false});"
                      " gw.map.fire('click', {latlng: L.latLng(lat, lon)}); }", [lat, lon])
    web.page.click("#gw-move-confirm")
    web.page.wait_for_function(
        "code => [...document.querySelectorAll('#gw-detail-table td')].some(td => td.textContent === code)",
        arg=target, timeout=15000)
    assert web.page.is_hidden("#gw-move")
    assert "pin was on the wrong street" in web.page.inner_text("#gw-detail-timeline")
    with engine.connect() as conn:
        got = conn.execute(text("SELECT grid_code, ST_X(geom), ST_Y(geom) FROM incidents WHERE id = :i"),
                           {"i": iid}).one()
        covering = conn.execute(text("SELECT code FROM grids WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(:x, :y), "
                                     "4326))"), {"x": got[1], "y": got[2]}).scalar()
    assert got[0] == covering == target
    assert abs(got[1] - lon) < 1e-6 and abs(got[2] - lat) < 1e-6
    assert web.blocked == [] and web.errors == [], (web.blocked, web.errors)
