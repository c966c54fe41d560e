"""Dashboard layer builders, by structure (Folium writes random ids), plus the registry meta-test."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import shapely

from gis import geojson
from layers import base, coverage, incidents
from layers.registry import LAYERS
from tests.maps import collections

ROOT = Path(__file__).resolve().parents[2]


def _render(*groups) -> str:
    m = base.base_map((104.6, 29.3, 104.9, 29.45))
    for g in groups:
        g.add_to(m)
    base.finish(m)
    return re.sub(r"\s+", "", m.get_root().render())


def _points(n=3):
    return shapely.points(np.linspace(104.70, 104.80, n), np.linspace(29.30, 29.40, n))


XSS = "<script>alert(1)</script>"


def test_incidents(tmp_path):
    frame = gpd.GeoDataFrame({"id": [1, 2, 3], "external_id": [XSS, None, "C-3"],
                              "state": ["reported", "dispatched", "closed"], "overdue": [False, True, False],
                              "category": ["a", "b", "c"], "description": ["long text", "a", "b"]},
                             geometry=_points(), crs=4326)
    fg = incidents.incidents(frame)
    assert isinstance(fg, folium.FeatureGroup)
    html = _render(fg)
    assert "L.markerClusterGroup" in html and "<script>alert" not in html and "\\u003cscript" in html
    (fc,) = collections(html)
    props = [f["properties"] for f in fc["features"]]
    assert [p["no"] for p in props] == [XSS, "2", "C-3"]  # the number, else the id
    assert [p["overdue"] for p in props] == [False, True, False] and "description" not in props[0]
    assert [f["geometry"]["coordinates"] for f in fc["features"]] == \
        [[round(x, 6), round(y, 6)] for x, y in shapely.get_coordinates(frame.geometry)]
    # colours and the overdue ring come from the layer's script, by state
    assert all(c in html for c in incidents.STATE_COLOURS.values()) and incidents.OVERDUE_STROKE in html
    empty = _render(incidents.incidents(frame.iloc[:0]))  # empty frame: an empty layer live updates can fill
    assert collections(empty) == [{"type": "FeatureCollection", "features": []}]


def test_geojson_text_writes_any_cell_as_safe_json():
    import datetime
    import decimal
    import json

    import pandas as pd

    frame = gpd.GeoDataFrame({
        "text": ["</script><script>alert(1)</script>", "line\u2028sep & 'quote'"],
        "day": [datetime.date(2025, 1, 2), None], "dec": [decimal.Decimal("1.5"), None],
        "inf": [np.inf, np.nan], "when": pd.to_datetime(["2025-01-01T00:00Z", None]),
        "n": np.array([3, 4], dtype=np.int64)}, geometry=[shapely.Point(104.12345678, 29.5), None], crs=4326)
    text = geojson.geojson_text(frame)
    assert "</" not in text and "<script" not in text and "'" not in text
    fc = json.loads(text)
    a, b = (f["properties"] for f in fc["features"])
    assert a == {"text": "</script><script>alert(1)</script>", "day": "2025-01-02", "dec": 1.5, "inf": None,
                 "when": "2025-01-01T00:00:00+00:00", "n": 3}
    assert b["text"] == "line\u2028sep & 'quote'" and b["day"] is None and b["when"] is None
    assert fc["features"][0]["geometry"]["coordinates"] == [104.123457, 29.5]
    assert fc["features"][1]["geometry"] is None  # a missing geometry is null, not a script error
    with_extra = json.loads(geojson.geojson_text(frame.iloc[:0], extra={"total": np.int64(7), "note": "</b>"}))
    assert with_extra == {"type": "FeatureCollection", "features": [], "total": 7, "note": "</b>"}


def test_feature_js_spec_cannot_close_the_script():
    from layers import popups

    js = popups.feature_js(title="t", fields=[("</script><b>", "x")]).js_code
    assert "</script>" not in js and "\\u003c/script" in js


def test_incident_heat():
    frame = gpd.GeoDataFrame({"n": [1, 4, 2]}, geometry=_points(), crs=4326)
    fg = incidents.heat(frame, weight="n")
    assert not fg.show
    html = _render(fg)
    assert "L.heatLayer" in html and "/vendor/heat/leaflet_heat.min.js" in html
    assert "[29.4,104.8,0.5]" in html  # weights normalised by the largest cell


def test_coverage():
    grids = gpd.GeoDataFrame({"code": ["a", "b", "c"], "ratio": [0.1, 0.95, np.nan]},
                             geometry=shapely.buffer(_points(), 0.01), crs=4326)
    assert list(coverage.ratio_colour(grids["ratio"])) == [coverage.RATIO_COLOURS[0], coverage.RATIO_COLOURS[-1],
                                                           coverage.NO_DATA_COLOUR]
    m_html = _render(coverage.coverage_choropleth(grids), coverage.ratio_legend())
    assert "gw-legend" in m_html and coverage.RATIO_COLOURS[0] in m_html and "d3" not in m_html.lower().split("vendor")[0]


def test_blind_spots():
    spots = gpd.GeoDataFrame({"code": ["a"], "area_m2": [1234.4]}, geometry=shapely.buffer(_points(1), 0.002), crs=4326)
    html = _render(coverage.blind_spots(spots))
    assert coverage.BLIND_STYLE["fillColor"] in html and "1234.0" in html


def test_proposed_sites():
    sites = gpd.GeoDataFrame({"rank": [1, 2], "gain_m2": [10.0, 5.0]}, geometry=_points(2), crs=4326)
    fg = coverage.proposed_sites(sites, cones=gpd.GeoSeries(shapely.buffer(_points(2), 0.001), crs=4326))
    html = _render(fg)
    assert html.count("L.circleMarker(") == 2 and coverage.SITE_COLOUR in html


def test_planned_cameras():
    planned = gpd.GeoDataFrame({"name": ["规划点位 1", "<b>x</b>"], "device_id": ["51030400001320990000", "51030400001320990001"],
                                "grid_code": ["510304002001001", None], "range_m": [100.0, 100.0],
                                "updated_by": ["planner", "admin"]}, geometry=_points(2), crs=4326)
    html = _render(coverage.planned_cameras(planned))
    assert html.count("51030400001320990001") >= 1 and coverage.PLANNED_POINT["color"] in html
    assert "<b>x</b>" not in html  # a name is data in the GeoJSON, never markup in the page
    assert _render(coverage.planned_cameras(planned.iloc[:0])).count(coverage.PLANNED_POINT["color"]) == 0


def test_streets():
    assert "streets" in LAYERS and LAYERS["streets"].__module__ == "layers.boundaries"


def test_communities():
    assert LAYERS["communities"].__name__ == "communities"


def test_grids():
    g = gpd.GeoDataFrame({"code": ["510304001001001"], "name": ["<b>x</b>"], "households": [12]},
                         geometry=shapely.buffer(_points(1), 0.01), crs=4326)
    html = _render(LAYERS["grids"](g))
    assert "<b>x</b>" not in html
    (fc,) = collections(html)
    assert fc["features"][0]["properties"] == {"name": "<b>x</b>", "code": "510304001001001", "households": 12}


def test_cameras():
    import pandas as pd

    cams = gpd.GeoDataFrame({"device_id": ["51030400001310000001", "51030400001310000002"], "name": ["c", "d"],
                             "status": ["ON", "VLOST"], "azimuth": [90.4, 181.6]}, geometry=_points(2), crs=4326)
    html = _render(LAYERS["cameras"](cams))
    (fc,) = collections(html)  # one layer, not a marker each
    assert [f["properties"]["status"] for f in fc["features"]] == ["ON", "VLOST"]
    assert [f["properties"]["azimuth"] for f in fc["features"]] == [90.0, 182.0]
    with_cones = collections(_render(LAYERS["cameras"](cams.assign(fov=[60.0, 60.0], range_m=[80.0, 80.0]),
                                                        cones=True)))
    assert [fc["features"][0]["geometry"]["type"] for fc in with_cones] == ["Polygon", "Point"]
    assert [f["properties"]["device_id"] for f in with_cones[0]["features"]] == ["51030400001310000001"]  # ON only
    twice = pd.concat([cams, cams]).assign(fov=60.0, range_m=80.0)  # repeated index labels
    cones_twice = collections(_render(LAYERS["cameras"](twice, cones=True)))[0]["features"]
    assert [f["properties"]["device_id"] for f in cones_twice] == ["51030400001310000001"] * 2


def test_view_cones():
    from gis.coverage import view_sectors

    cams = gpd.GeoDataFrame({"device_id": ["1", "2"], "status": ["ON", "OFF"], "azimuth": [0.0, 90.0],
                             "fov": [60.0, 90.0], "range_m": [100.0, 50.0]}, geometry=_points(2), crs=4326)
    views = view_sectors(cams, include_offline=True)
    sectors = gpd.GeoDataFrame(cams[["device_id", "status"]], geometry=views.to_numpy(), crs=4326)
    (fc,) = collections(_render(LAYERS["view_cones"](sectors)))
    assert [f["properties"] for f in fc["features"]] == [{"device_id": "1", "status": "ON"},
                                                         {"device_id": "2", "status": "OFF"}]
    assert LAYERS["view_cones"](sectors.iloc[:0]).get_name()


def test_amap_display_shift_moves_every_vertex_like_the_point_function():
    from gis.crs import wgs84_to_gcj02

    poly = gpd.GeoDataFrame(geometry=[shapely.box(104.7, 29.3, 104.71, 29.31)], crs=4326)
    shifted = base.to_display(poly, "amap").geometry.iloc[0]
    xy = shapely.get_coordinates(poly.geometry.iloc[0])
    ex, ey = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    np.testing.assert_allclose(shapely.get_coordinates(shifted), np.column_stack([ex, ey]), atol=1e-12)
    assert base.to_display(poly, "osm").geometry.iloc[0].equals(poly.geometry.iloc[0])
    moved = shapely.get_coordinates(shifted) - xy
    assert 0.002 < np.abs(moved).max() < 0.01  # some hundreds of metres near Da'an


def test_basemaps():
    assert base.basemap_url("none") is None
    assert base.basemap_url("tianditu", "KEY")[0].endswith("tk=KEY")
    assert base.basemap_url("http://tiles.local/{z}/{x}/{y}.png")[1] == "intranet tiles"
    for bad in ("tianditu", "ftp://x/{z}/{x}/{y}", "nonsense"):
        try:
            base.basemap_url(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_every_registered_layer_has_a_test_and_a_docs_line():
    tests = {node.name for path in (ROOT / "tests" / "layers").glob("test_*.py")
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.FunctionDef)}
    docs = (ROOT / "docs" / "dashboards.md").read_text(encoding="utf-8")
    missing = [n for n in LAYERS if f"test_{n}" not in tests]
    undocumented = [n for n in LAYERS if f"`{n}`" not in docs]
    assert not missing and not undocumented, (missing, undocumented)


TEMPLATE_TEXT = "{{ 7*7 }}{% if true %}XYZZY{% endif %}{# QUUX #}"


def test_text_in_folium_elements_is_never_run_as_a_template():
    # a layer's name reaches the layer control's script, an attribution the tile layer's: branca compiled
    # each rendered macro again as a Jinja template, so "{{ 7*7 }}" came out as 49 (and ran on the server)
    m = base.base_map((104.6, 29.3, 104.9, 29.45))
    folium.TileLayer(tiles="/tiles/{z}/{x}/{y}.png", attr=TEMPLATE_TEXT, name="t").add_to(m)
    folium.FeatureGroup(name=TEMPLATE_TEXT).add_to(m)
    base.finish(m)
    html = m.get_root().render()
    assert html.count(TEMPLATE_TEXT) == 2
    assert "49XYZZY" not in html and html.count("QUUX") == 2


def test_the_verbatim_render_writes_the_page_branca_writes(monkeypatch):
    # text without template syntax: the same page, element for element (ids and order normalised)
    def page():
        m = base.base_map((104.6, 29.3, 104.9, 29.45), basemap="osm")
        frame = gpd.GeoDataFrame({"id": [1, 2, 3], "external_id": ["A-1", None, "C-3"],
                                  "state": ["reported", "dispatched", "closed"], "overdue": [False, True, False],
                                  "category": ["a", "b", "c"], "description": ["x", "y", "z"]},
                                 geometry=_points(), crs=4326)
        incidents.incidents(frame).add_to(m)
        incidents.heat(frame).add_to(m)
        coverage.ratio_legend().add_to(m)
        base.finish(m)
        return m

    ours = page().get_root().render()
    monkeypatch.setattr(base.MacroElement, "render", base.BRANCA_MACRO_RENDER)
    theirs = page().get_root().render()
    ids = re.compile(r"[0-9a-f]{32}")
    assert ids.sub("ID", ours) == ids.sub("ID", theirs)
    assert "L.control.layers" in ours and "L.markerClusterGroup" in ours and "L.heatLayer" in ours
