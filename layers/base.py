"""The base map: no basemap by default (command centres often have no internet), or a configured one."""
from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from folium.utilities import JsCode
from jinja2 import Template

from gis.geojson import geojson_text
from layers.assets import localise

DA_AN_CENTRE = (29.3665, 104.7713)  # lat, lon

BASEMAPS = {
    "osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "© OpenStreetMap contributors"),
    "tianditu": ("https://t0.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk={tk}", "© 天地图"),
    "amap": ("https://webrd01.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
             "© 高德地图"),
}


def basemap_url(basemap: str, tianditu_key: str = "") -> tuple[str, str] | None:
    """(tile URL template, attribution) for a basemap setting, or None for no basemap."""
    if not basemap or basemap == "none":
        return None
    if basemap in BASEMAPS:
        url, attr = BASEMAPS[basemap]
        if basemap == "tianditu":
            if not tianditu_key:
                raise ValueError("basemap 'tianditu' needs a key: set GRIDWATCH_TIANDITU_KEY")
            url = url.replace("{tk}", tianditu_key)
        return url, attr
    if "{z}" in basemap and "{x}" in basemap and "{y}" in basemap:
        if not basemap.startswith(("http://", "https://", "/")):
            raise ValueError(f"basemap {basemap!r}: an XYZ URL must start with http://, https:// or /")
        return basemap, "intranet tiles"
    raise ValueError(f"basemap {basemap!r}: use none, osm, tianditu, amap or an XYZ URL with {{z}}/{{x}}/{{y}}")


#: basemaps whose tiles are drawn in GCJ-02 (火星坐标): data must be shifted to sit on the right street
GCJ02_BASEMAPS = frozenset({"amap"})


def display_crs(basemap: str) -> str:
    """``"gcj02"`` when the basemap's tiles are GCJ-02, else ``"wgs84"``."""
    return "gcj02" if basemap in GCJ02_BASEMAPS else "wgs84"


def shift_lonlat(lon, lat, basemap: str) -> tuple[np.ndarray, np.ndarray]:
    """Display coordinates for WGS-84 lon/lat arrays on ``basemap`` (unchanged unless it is GCJ-02)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if display_crs(basemap) != "gcj02":
        return lon, lat
    from gis.crs import wgs84_to_gcj02  # display only: stored data stays WGS-84

    out = wgs84_to_gcj02(lon, lat)
    return np.asarray(out[0], dtype=float), np.asarray(out[1], dtype=float)


def to_display(frame: gpd.GeoDataFrame, basemap: str) -> gpd.GeoDataFrame:
    """``frame`` in EPSG:4326, its geometry shifted to GCJ-02 when ``basemap`` is Amap (display only).

    Every layer of a page goes through this one frame transform, so markers, boundaries and cones
    stay aligned with each other and with the tiles. The CRS label stays 4326: GCJ-02 has no EPSG code.
    """
    data = frame.to_crs(4326) if frame.crs is not None else frame.set_crs(4326)
    if display_crs(basemap) != "gcj02" or not len(data):
        return data

    def _shift(coords: np.ndarray) -> np.ndarray:
        x, y = shift_lonlat(coords[:, 0], coords[:, 1], basemap)
        return np.column_stack([x, y])

    out = data.copy()
    out[out.geometry.name] = shapely.transform(data.geometry.to_numpy(), _shift)
    return out


def base_map(bounds: tuple[float, float, float, float] | None = None, *, basemap: str = "none",
             tianditu_key: str = "", height: str = "100%") -> folium.Map:
    """A Leaflet map fitted to ``bounds`` (W, S, E, N in lon/lat), with the configured basemap."""
    m = folium.Map(location=DA_AN_CENTRE, zoom_start=12, tiles=None, control_scale=True,
                   prefer_canvas=True, height=height)
    m.options["maxZoom"] = 19  # folium gives maxZoom only to tile layers; needed with no basemap too
    tiles = basemap_url(basemap, tianditu_key)
    if tiles:
        folium.TileLayer(tiles=tiles[0], attr=tiles[1], name="basemap", overlay=False, control=False).add_to(m)
    if bounds is not None:
        w, s, e, n = bounds
        m.fit_bounds([[s, w], [n, e]])
    return m


def finish(m: folium.Map, *, asset_prefix: str = "/vendor", layer_control: bool = True) -> folium.Map:
    """Add the layer control and point every script at local copies."""
    if layer_control:
        folium.LayerControl(collapsed=False).add_to(m)
    return localise(m, asset_prefix)


class GeoJsonLayer(MacroElement):
    """A Leaflet GeoJSON layer of compact embedded features (``geojson_text``) whose popups, tooltips
    and styles come from ``layers.popups.feature_js``; points are drawn as circle markers with
    ``point`` options. Folium's ``GeoJson`` would embed every Chinese character as a 6-byte escape
    and style features through a per-feature lookup table."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJson(null, {
            {%- if this.point is not none %}
            pointToLayer: function (f, ll) { return L.circleMarker(ll, {{ this.point|tojson }}); },
            {%- endif %}
            onEachFeature: {{ this.on_each_feature }}
        });
        {{ this.get_name() }}.addData({{ this.data }});
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, frame: gpd.GeoDataFrame | str, columns: list[str] | None, on_each_feature: JsCode, *,
                 point: dict | None = None):
        super().__init__()
        self._name = "GeoJsonLayer"
        # a str is a FeatureCollection already written by collection_text (e.g. built in the database)
        self.data = frame if isinstance(frame, str) else geojson_text(frame, columns)
        self.on_each_feature = on_each_feature.js_code
        self.point = point


def embedded_features(element) -> str | None:
    """The FeatureCollection text of the first ``GeoJsonLayer`` in ``element`` (depth first), or None."""
    for child in element._children.values():
        if isinstance(child, GeoJsonLayer):
            return child.data
        found = embedded_features(child)
        if found is not None:
            return found
    return None


class _Verbatim(Element):
    """Page text added as it is (never parsed as a template)."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


#: branca's own ``MacroElement.render``, kept for the test that shows the verbatim render writes the same page
BRANCA_MACRO_RENDER = MacroElement.render


def render_macro_verbatim(self: MacroElement, **kwargs) -> None:
    """``MacroElement.render`` without its second template pass.

    branca renders an element's ``header``, ``html`` and ``script`` macros and then wraps each output in
    ``Element(text)``, which compiles that output as a new Jinja template and renders it again. So a
    ``{{ … }}`` or ``{% … %}`` in any text a layer writes (a layer's name, a feature's property, an
    attribution) would run on the server, and every page compiled some twenty templates from its own
    text (about a third of the operator page's Python time). Here each output goes into the page as it
    is; for text without template syntax the page is byte for byte what branca writes (tested).
    """
    figure = self.get_root()
    if not isinstance(figure, Figure):
        raise TypeError(f"{type(self).__name__} can only be rendered in a Figure")
    macros = self._template.module.__dict__
    for part in ("header", "html", "script"):
        macro = macros.get(part)
        if macro is not None:
            getattr(figure, part).add_child(_Verbatim(str(macro(self, kwargs))), name=self.get_name())
    for child in self._children.values():
        child.render(**kwargs)


# every Folium element whose render reaches MacroElement.render (the map, tile layers, feature groups,
# the layer control, marker clusters, heat maps, GeoJsonLayer, the legend) renders verbatim in gridwatch.
# Not folium.Popup, which has a render of its own that still compiles its text: the app's only popups of
# that kind (the proposed sites') hold numbers and fixed labels. Nor would folium.GeoJson's style mapping
# work (it writes placeholders for the second pass): the app draws GeoJSON with GeoJsonLayer.
MacroElement.render = render_macro_verbatim
