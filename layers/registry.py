"""Every map layer builder by name (one registry dict), so pages, docs and meta-tests agree.

A meta-test checks that each name here has a test in ``tests/layers/`` and a line in
``docs/dashboards.md``.
"""
from __future__ import annotations

from typing import Callable

import folium

from layers import boundaries, cameras, coverage, incidents

LAYERS: dict[str, Callable[..., folium.FeatureGroup]] = {
    "streets": boundaries.streets,
    "communities": boundaries.communities,
    "grids": boundaries.grids,
    "cameras": cameras.cameras,
    "view_cones": cameras.view_cones,
    "incidents": incidents.incidents,
    "incident_heat": incidents.heat,
    "coverage": coverage.coverage_choropleth,
    "blind_spots": coverage.blind_spots,
    "proposed_sites": coverage.proposed_sites,
    "planned_cameras": coverage.planned_cameras,
}
