"""Coverage layers (覆盖): grid choropleth of camera coverage ratio with a legend, blind spots (盲区),
proposed camera sites (建议点位) and planned cameras (规划摄像头, adopted sites not yet built).

Builders take GeoDataFrames in EPSG:4326 (already shifted for display when the basemap needs it) and
``say`` (message key → text in the page's language, ``layers.words``) for their popups and legends.
"""
from __future__ import annotations

from html import escape

import folium
import geopandas as gpd
import numpy as np
from branca.element import MacroElement
from jinja2 import Template

from gis.geojson import collection_text
from layers import popups
from layers.base import GeoJsonLayer
from layers.words import Say, key_itself, popup_rows

#: class breaks of the coverage ratio (0–1) and their colours (ColorBrewer RdYlGn, 5 classes)
RATIO_BREAKS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
RATIO_COLOURS = ("#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641")
NO_DATA_COLOUR = "#cccccc"
BLIND_STYLE = {"color": "#67001f", "weight": 1, "fillColor": "#b2182b", "fillOpacity": 0.35}
CHOROPLETH_STYLE = {"color": "#555", "weight": 1, "fillOpacity": 0.6}
SITE_CONE_STYLE = {"color": "#2c7bb6", "weight": 1, "fillOpacity": 0.2}
SITE_COLOUR = "#2c7bb6"
#: a planned camera: hollow and dashed, so it never reads as a built (status-coloured) one
PLANNED_POINT = {"radius": 7, "weight": 2, "color": "#6a3d9a", "dashArray": "3", "fill": True,
                 "fillColor": "#ffffff", "fillOpacity": 0.9}
#: the choropleth's popup rows: (message key, column, label kind)
CHOROPLETH_FIELDS = (("grid_code", "code", None), ("map_coverage_pct", "ratio_pct", None),
                     ("plan_cameras", "cameras", None), ("plan_unseen_incidents", "unseen_incidents", None),
                     ("map_area_m2", "area_m2", None))


def ratio_colour(ratio) -> np.ndarray:
    """Colour of each coverage ratio (0–1) by ``RATIO_BREAKS``; NaN gets ``NO_DATA_COLOUR``."""
    r = np.asarray(ratio, dtype=float)
    idx = np.clip(np.searchsorted(RATIO_BREAKS, r, side="right") - 1, 0, len(RATIO_COLOURS) - 1)
    out = np.asarray(RATIO_COLOURS, dtype=object)[idx]
    out[np.isnan(r)] = NO_DATA_COLOUR
    return out


class Legend(MacroElement):
    """A fixed legend box (a Leaflet control) with escaped labels; no external script (branca's
    colormap legend would pull d3 from a CDN)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function() {
            var legend = L.control({position: {{ this.position|tojson }}});
            legend.onAdd = function() {
                var div = L.DomUtil.create('div', 'gw-legend');
                div.innerHTML = {{ this.html|tojson }};
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
    """)

    def __init__(self, title: str, items: list[tuple[str, str]], position: str = "bottomright"):
        super().__init__()
        self._name = "Legend"
        self.position = position
        rows = "".join(f'<div><i style="background:{escape(c)};display:inline-block;width:14px;height:10px;'
                       f'margin-right:4px"></i>{escape(label)}</div>' for c, label in items)
        self.html = (f'<div style="background:#fff;padding:6px 8px;border-radius:4px;font:12px sans-serif;'
                     f'box-shadow:0 0 4px #888"><b>{escape(title)}</b>{rows}</div>')


def ratio_legend(title: str = "覆盖率 coverage") -> Legend:
    """The choropleth's legend; ``title`` in the page's language (the page passes ``say("coverage")``)."""
    items = [(c, f"{lo:.0%}–{hi:.0%}") for c, lo, hi in zip(RATIO_COLOURS, RATIO_BREAKS, RATIO_BREAKS[1:])]
    return Legend(title, items + [(NO_DATA_COLOUR, "—")])


def coverage_choropleth(frame: gpd.GeoDataFrame, *, name: str = "覆盖率 coverage", show: bool = True,
                        say: Say = None) -> folium.FeatureGroup:
    """Grids coloured by coverage ``ratio`` (0–1), with their legend as a child of the group's map.

    ``frame`` has ``code``, ``ratio`` and optionally ``name`` (the popup's title and the tooltip),
    ``area_m2``, ``cameras`` (how many stand in the grid) and ``unseen_incidents`` (incidents out of
    view): the popup rows are those of ``CHOROPLETH_FIELDS`` the frame has.
    Add the returned group to a map and then ``ratio_legend().add_to(map)``.
    """
    fg = folium.FeatureGroup(name=name, show=show)
    if not len(frame):
        return fg
    data = frame.to_crs(4326)
    ratio = data["ratio"].astype(float)
    out = gpd.GeoDataFrame({"code": data["code"].to_numpy(), "colour": ratio_colour(ratio),
                            "ratio_pct": (ratio * 100).round(1).to_numpy()}, geometry=data.geometry.to_numpy(), crs=4326)
    for col in ("name", "cameras", "unseen_incidents"):
        if col in data.columns:
            out[col] = data[col].to_numpy()
    if "area_m2" in data.columns:
        out["area_m2"] = data["area_m2"].astype(float).round(0).to_numpy()
    fields = [f for f in CHOROPLETH_FIELDS if f[1] in out.columns]
    title = "name" if "name" in out.columns else "code"
    GeoJsonLayer(out, None, popups.feature_js(
        title=title, fields=popup_rows(fields, say), tooltip=title, style=CHOROPLETH_STYLE,
        colour=popups.colour_by("colour", None, default=NO_DATA_COLOUR, keys=("fillColor",)))).add_to(fg)
    return fg


def blind_spots(frame: gpd.GeoDataFrame | None, *, name: str = "盲区 blind spots", show: bool = True,
                say: Say = None) -> folium.FeatureGroup:
    """Blind-spot polygons (areas no camera sees); their grid and ``area_m2`` show in the popup. ``frame``
    None: an empty layer with the popups and style of ``gis.coverage.blind_spots``' columns (``code``,
    ``area_m2``), for a page script to fill when the layer is turned on (``app.dashboards.map_api``)."""
    fg = folium.FeatureGroup(name=name, show=show)
    if frame is not None and not len(frame):
        return fg
    labels = {"grid_code": "grid_code", "code": "grid_code", "area_m2": "map_area_m2"}
    if frame is None:
        keep, out = ["code", "area_m2"], collection_text([])
    else:
        data = frame.to_crs(4326)
        keep = [c for c in ("grid_code", "code", "area_m2") if c in data.columns]
        out = data[keep + [data.geometry.name]].copy()
        if "area_m2" in out.columns:
            out["area_m2"] = out["area_m2"].astype(float).round(0)
    rows = popup_rows([(labels[c], c, None) for c in keep], say)
    GeoJsonLayer(out, keep, popups.feature_js(title=None, fields=rows, style=BLIND_STYLE,
                                              popup=bool(keep))).add_to(fg)
    return fg


def proposed_sites(frame: gpd.GeoDataFrame, *, cones: gpd.GeoSeries | None = None,
                   name: str = "建议点位 proposed sites", show: bool = True, say: Say = None) -> folium.FeatureGroup:
    """Proposed camera sites as blue markers, optionally with their view cones (``cones``, EPSG:4326).

    ``frame`` holds points; a ``gain_m2`` column (area the site adds) shows in the popup.
    """
    fg = folium.FeatureGroup(name=name, show=show)
    if not len(frame):
        return fg
    data = frame.to_crs(4326)
    if cones is not None and len(cones):
        GeoJsonLayer(gpd.GeoDataFrame(geometry=gpd.GeoSeries(cones).to_crs(4326).to_numpy(), crs=4326), [],
                     popups.feature_js(popup=False, style=SITE_CONE_STYLE)).add_to(fg)
    say = say or key_itself
    fields = [(say(key), c) for key, c in (("map_gain_m2", "gain_m2"), ("map_rank", "rank")) if c in data.columns]
    html = popups.column(data.assign(_title=say("proposed_sites")), "_title", fields)
    for x, y, popup in zip(data.geometry.x, data.geometry.y, html):
        folium.CircleMarker(location=(y, x), radius=7, color="#000", weight=2, fill=True, fill_color=SITE_COLOUR,
                            fill_opacity=0.95, popup=folium.Popup(popup, max_width=260)).add_to(fg)
    return fg


#: the planned-camera popup rows: (message key, column, label kind)
PLANNED_FIELDS = (("plan_device_id", "device_id", None), ("grid_code", "grid_code", None),
                  ("plan_range_m", "range_m", None), ("plan_adopted_by", "updated_by", None))


def planned_cameras(frame: gpd.GeoDataFrame, *, name: str = "规划摄像头 planned cameras", show: bool = True,
                    say: Say = None) -> folium.FeatureGroup:
    """Planned cameras (adopted from the planner, not built) as hollow dashed markers, with their view
    discs; popups from the properties (``name`` the title, the rows of ``PLANNED_FIELDS`` present).
    They are not part of the coverage layers: a planned camera covers nothing until it is built and ON."""
    fg = folium.FeatureGroup(name=name, show=show)
    if not len(frame):
        return fg
    data = frame.to_crs(4326)
    fields = [f for f in PLANNED_FIELDS if f[1] in data.columns]
    columns = list(dict.fromkeys(["name", "device_id"] + [c for _, c, _ in fields]))
    GeoJsonLayer(data, [c for c in columns if c in data.columns], popups.feature_js(
        title="name", fields=popup_rows(fields, say), tooltip="name"), point=PLANNED_POINT).add_to(fg)
    return fg
