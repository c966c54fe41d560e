"""Incident layers (事件): clustered markers coloured by state and overdue, and a heat layer.

Builders take GeoDataFrames in EPSG:4326 (already shifted for display when the basemap needs it).
A marker carries only what its style and short popup need (``marker_properties``); the page script
fetches the details and timeline when a popup opens and fills the popup's ``gw-incident`` slot. The
page adds live updates through the layer's own Leaflet options, so new markers look exactly like
the server-rendered ones.
"""
from __future__ import annotations

import folium
import geopandas as gpd
import pandas as pd
from folium.plugins import HeatMap, MarkerCluster

from layers import popups
from layers.base import GeoJsonLayer
from layers.words import Say, popup_rows

STATE_COLOURS = {"reported": "#6a3d9a", "accepted": "#1f78b4", "dispatched": "#ff7f00",
                 "in_progress": "#e6ab02", "resolved": "#33a02c", "closed": "#7f7f7f", "voided": "#bdbdbd"}
OVERDUE_STROKE = "#b2182b"
MARKER_RADIUS = 6
POINT = {"radius": MARKER_RADIUS, "weight": 1, "fill": True, "fillOpacity": 0.85}
OVERDUE_STYLE = {"color": OVERDUE_STROKE, "weight": 3}

#: the popup's rows before the details arrive: (message key of the row's label, property, label kind of the
#: value or None: the popup shows that code by its name, ``app.labels``); the title is ``no``
POPUP_FIELDS = [("category", "category", None), ("state", "state", "state"), ("reported_at", "reported_at", None),
                ("deadline", "deadline", None), ("grid_code", "grid_code", None)]
PROPERTIES = ["id", "no", "state", "overdue"] + [c for _, c, _ in POPUP_FIELDS if c != "state"]
SLOT = ("gw-incident", "data-incident")


def marker_properties(frame: pd.DataFrame) -> pd.DataFrame:
    """Per incident the embedded properties: ``id``, ``no`` (external number, else id), ``state``,
    ``overdue`` (bool) and, when present, ``category``, ``reported_at``, ``deadline``, ``grid_code``.

    ``frame`` has ``id``, ``state`` and optionally ``overdue``, ``external_id`` and the others.
    """
    data = pd.DataFrame(frame.drop(columns=frame.geometry.name) if isinstance(frame, gpd.GeoDataFrame) else frame)
    out = pd.DataFrame({"id": data["id"].astype(int)}, index=data.index)
    ext = data["external_id"] if "external_id" in data.columns else pd.Series(None, index=data.index, dtype=object)
    out["no"] = ext.where(ext.notna() & (ext.astype(str) != ""), out["id"].astype(str))
    out["state"] = data["state"]
    out["overdue"] = data["overdue"].fillna(False).astype(bool) if "overdue" in data.columns else False
    for col in PROPERTIES[4:]:
        if col in data.columns:
            out[col] = data[col]
    return out


def marker_js(say: Say = None):
    """The ``onEachFeature`` of incident markers: colour by state, red ring and ⚠ when overdue, the
    short popup with its details slot; row labels in the page's language (``say``), the state by its name."""
    return popups.feature_js(title="no", fields=popup_rows(POPUP_FIELDS, say),
                             colour=popups.colour_by("state", STATE_COLOURS),
                             flag=("overdue", OVERDUE_STYLE, "⚠"), slot=SLOT)


def incidents(frame: gpd.GeoDataFrame | str, *, name: str = "事件 incidents", show: bool = True,
              cluster: bool = True, say: Say = None) -> folium.FeatureGroup:
    """Incidents as circle markers, clustered when zoomed out, coloured by state; overdue ones red-ringed.

    Parameters
    ----------
    frame : GeoDataFrame or str
        Points in EPSG:4326 with the columns of ``marker_properties``, or their FeatureCollection
        text already written with those properties (``app.dashboards.service.incident_markers``).
    cluster : bool
        Put the markers in a ``MarkerCluster`` (default) so tens of thousands stay usable.
    say : callable, optional
        Message key → text in the page's language, for the popup's row labels (``app.dashboards.pages``
        passes it; ``layers`` has no catalogue of its own).
    """
    fg = folium.FeatureGroup(name=name, show=show)
    parent = MarkerCluster(name=name, control=False, options={"disableClusteringAtZoom": 17}).add_to(fg) \
        if cluster else fg
    if not isinstance(frame, str):
        data = frame.to_crs(4326)
        frame = gpd.GeoDataFrame(marker_properties(data), geometry=data.geometry.to_numpy(), crs=4326)
    # each marker owns its popup: a cluster takes the markers out of the GeoJSON group, so a popup
    # bound on the group would never open. The layer exists even when empty: live updates use it.
    GeoJsonLayer(frame, None, marker_js(say), point=POINT).add_to(parent)
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
