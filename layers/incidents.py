"""Incident layers (事件): clustered markers coloured by state and overdue, and a heat layer.

Builders take GeoDataFrames in EPSG:4326 (already shifted for display when the basemap needs it).
The marker style and popup of one incident are computed by ``marker_properties`` so the page's
live-update script draws new incidents exactly like the server-rendered ones.
"""
from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd
from folium.plugins import HeatMap, MarkerCluster
from folium.utilities import JsCode

from layers import popups

STATE_COLOURS = {"reported": "#6a3d9a", "accepted": "#1f78b4", "dispatched": "#ff7f00",
                 "in_progress": "#e6ab02", "resolved": "#33a02c", "closed": "#7f7f7f", "voided": "#bdbdbd"}
OVERDUE_STROKE = "#b2182b"
MARKER_RADIUS = 6

_FIELDS = [("no.", "external_id"), ("category", "category"), ("state", "state"), ("reported", "reported_at"),
           ("deadline", "deadline"), ("grid", "grid_code"), ("address", "address"), ("description", "summary")]


def _summary(text) -> str:
    s = "" if text is None or (isinstance(text, float) and pd.isna(text)) else str(text)
    return s if len(s) <= 80 else s[:79] + "…"


def marker_properties(frame: pd.DataFrame) -> pd.DataFrame:
    """Per incident: ``id``, ``colour`` (by state), ``stroke`` (red when overdue) and escaped ``popup`` HTML.

    ``frame`` has ``id``, ``state``, ``overdue`` (bool) and optionally ``external_id``, ``category``,
    ``reported_at``, ``deadline``, ``grid_code``, ``address``, ``description``.
    """
    data = pd.DataFrame(frame.drop(columns=frame.geometry.name) if isinstance(frame, gpd.GeoDataFrame) else frame)
    data["summary"] = data["description"].map(_summary) if "description" in data.columns else ""
    overdue = data["overdue"].fillna(False).astype(bool) if "overdue" in data.columns else \
        pd.Series(False, index=data.index)
    colour = data["state"].map(STATE_COLOURS).fillna("#333333")
    html = popups.column(data, "id", [f for f in _FIELDS if f[1] in data.columns])
    # the page script fills this placeholder with details, timeline and the cameras that see the spot
    html = html + [f'<div class="gw-incident" data-incident="{int(i)}"></div>' for i in data["id"]]
    html = html.where(~overdue.to_numpy(), '<b class="gw-overdue">⚠</b>' + html)
    return pd.DataFrame({"id": data["id"].astype(int).to_numpy(), "colour": colour.to_numpy(),
                         "stroke": overdue.map({True: OVERDUE_STROKE, False: None}).fillna(colour).to_numpy(),
                         "overdue": overdue.to_numpy(), "popup": html.to_numpy()}, index=data.index)


def incidents(frame: gpd.GeoDataFrame, *, name: str = "事件 incidents", show: bool = True,
              cluster: bool = True) -> folium.FeatureGroup:
    """Incidents as circle markers, clustered when zoomed out, coloured by state; overdue ones red-ringed.

    Parameters
    ----------
    frame : GeoDataFrame
        Points in EPSG:4326 with the columns of ``marker_properties``.
    cluster : bool
        Put the markers in a ``MarkerCluster`` (default) so tens of thousands stay usable.
    """
    fg = folium.FeatureGroup(name=name, show=show)
    parent = MarkerCluster(name=name, control=False, options={"disableClusteringAtZoom": 17}).add_to(fg) \
        if cluster else fg
    if not len(frame):
        return fg
    data = frame.to_crs(4326)
    props = marker_properties(data)
    gdf = gpd.GeoDataFrame(props, geometry=data.geometry.to_numpy(), crs=4326)
    folium.GeoJson(
        gdf.to_json(drop_id=True), name=name, control=False,
        marker=folium.CircleMarker(radius=MARKER_RADIUS, weight=2, fill=True, fill_opacity=0.85),
        style_function=lambda f: {"color": f["properties"]["stroke"], "fillColor": f["properties"]["colour"],
                                  "weight": 3 if f["properties"]["overdue"] else 1},
        # each marker owns its popup: a cluster takes the markers out of the GeoJSON group, so a popup
        # bound on the group would never open; the HTML is escaped by layers.popups
        on_each_feature=JsCode("function (f, layer) { layer.bindPopup(f.properties.popup, {maxWidth: 360}); }"),
    ).add_to(parent)
    return fg


def heat(frame: gpd.GeoDataFrame, *, weight: str | None = None, name: str = "热力 heat",
         show: bool = False, radius: int = 14) -> folium.FeatureGroup:
    """A heat layer of incident density (hidden until switched on in the layer control).

    ``frame`` holds points in EPSG:4326, optionally pre-aggregated (one point per cell) with a
    count in column ``weight``, which keeps the page small for hundreds of thousands of incidents.
    """
    fg = folium.FeatureGroup(name=name, show=show)
    if not len(frame):
        return fg
    data = frame.to_crs(4326)
    w = data[weight].astype(float).to_numpy() if weight else None
    if w is not None and w.max() > 0:
        w = w / w.max()
    pts = [[round(y, 5), round(x, 5)] + ([round(float(v), 4)] if w is not None else [])
           for x, y, v in zip(data.geometry.x, data.geometry.y, w if w is not None else [None] * len(data))]
    HeatMap(pts, radius=radius, min_opacity=0.3).add_to(fg)
    return fg
