"""Camera layers: one circle per camera coloured by status (ON/OFF/VLOST/DEFECT), view cones, and the
status legend. Codes stay codes in the features; popups show status, programme and PTZ type by name, and end
with the camera's live-view link when the page has a template (``gw.liveLink``, ``app/cameras/live.py``)."""
from __future__ import annotations

from typing import Mapping

import folium
import geopandas as gpd

from layers import popups, style
from gis.geojson import collection_text
from layers.base import GeoJsonLayer
from layers.words import Say, key_itself, popup_rows

#: popup rows: (message key of the label, property, label kind of the value: ``app.labels``)
FIELDS = [("map_camera_device_id", "device_id", None), ("map_camera_programme", "programme", "programme"),
          ("map_camera_status", "status", "camera_status"), ("map_camera_ptz_type", "ptz_type", "ptz_type"),
          ("map_camera_azimuth", "azimuth", None), ("map_camera_fov", "fov", None),
          ("map_camera_range_m", "range_m", None), ("map_camera_grid_code", "grid_code", None),
          ("map_camera_address", "address", None)]
POINT = {"radius": 4, "weight": 1, "fill": True, "fillOpacity": 0.9}
CONE_STYLE = {"weight": 1, "fillOpacity": 0.15}


def cameras(frame: gpd.GeoDataFrame, *, cones: bool = False, name: str = "摄像头 cameras",
            show: bool = True, features: str | None = None, say: Say = None) -> folium.FeatureGroup:
    """Cameras as circle markers coloured by ``status``; with ``cones`` also their view sectors.

    ``frame`` holds the registry's columns (``device_id``, ``name``, ``status``, ``azimuth``, ``fov``,
    ``range_m``, ``ptz_type``, …) and point geometry in any CRS. All cameras go into one GeoJSON
    layer whose popups are built on click from the properties (``layers.popups.feature_js``): rows of
    ``FIELDS`` labelled in the page's language (``say``: message key → text, ``layers.words``), status,
    programme and PTZ type shown by name, then the live-view link of the ``device_id`` (``gw.liveLink``: only
    on a page whose data carries the ``video_url_template``, and, when the frame has a ``lifecycle`` column,
    only for the lifecycles with video the page names). ``features``: the markers' FeatureCollection text as an
    earlier call for the same frame embedded it (``layers.base.embedded_features``); the properties do
    not depend on the language, so it serves every page.
    """
    fg = folium.FeatureGroup(name=name, show=show)
    if not len(frame) and features is None:
        return fg
    data = frame.to_crs(4326)
    if cones and len(data):
        from gis.coverage import view_sector_frame  # the view geometry lives in gis (optional layer)

        _cone_layer(view_sector_frame(data)).add_to(fg)
    fields = [f for f in FIELDS if f[1] in data.columns]
    shown = data.copy() if features is None else features
    for col in ("azimuth", "fov", "range_m") if features is None else ():
        if col in shown.columns:
            shown[col] = shown[col].astype(float).round(0)
    title = "name" if "name" in data.columns else "device_id"
    columns = list(dict.fromkeys([title, "status"] + [c for _, c, _ in fields]
                                 + [c for c in ("device_id", "lifecycle") if c in data.columns]))
    GeoJsonLayer(shown, columns, popups.feature_js(
        title=title, fields=popup_rows(fields, say), tooltip="device_id" if "device_id" in data.columns else None,
        live="device_id" if "device_id" in data.columns else None,
        colour=popups.colour_by("status", style.CAMERA_STATUS_COLOURS)), point=POINT).add_to(fg)
    return fg


#: a grid's camera count: a grey disc whose area grows with the count (the size of one camera's at 1)
COUNT_POINT = {"weight": 1, "color": "#555", "fillColor": "#636363", "fill": True, "fillOpacity": 0.55}


def camera_counts(frame: gpd.GeoDataFrame, *, name: str = "摄像头数 cameras per grid", show: bool = True,
                  say: Say = None) -> folium.FeatureGroup:
    """How many cameras stand in each grid, one disc per grid at a point inside it (``frame``: ``code``,
    ``n``, point geometry), the count as its tooltip: what a map shows of a registry too big to draw
    camera by camera at a district's zoom (``app.dashboards.map_api``)."""
    fg = folium.FeatureGroup(name=name, show=show)
    if not len(frame):
        return fg
    data = frame.to_crs(4326)
    fields = [("grid_code", "code", None), ("map_camera_count", "n", None)]
    GeoJsonLayer(data, ["code", "n", "radius"], popups.feature_js(
        title="code", fields=popup_rows(fields, say), tooltip="n", radius="radius"), point=COUNT_POINT).add_to(fg)
    return fg


def _cone_spec(columns):
    # no popup: the properties are for the colour (status) and the tooltip (device_id)
    return popups.feature_js(popup=False, tooltip="device_id" if "device_id" in columns else None,
                             style=CONE_STYLE, colour=popups.colour_by("status", style.CAMERA_STATUS_COLOURS,
                                                                       keys=("color",)))


def _cone_layer(sectors: gpd.GeoDataFrame) -> GeoJsonLayer:
    columns = [c for c in ("device_id", "status") if c in sectors.columns]
    return GeoJsonLayer(sectors, columns, _cone_spec(columns))


def view_cones(sectors: gpd.GeoDataFrame | None, *, name: str = "视野 view cones", show: bool = True
               ) -> folium.FeatureGroup:
    """View sectors (polygons, e.g. from ``gis.coverage.view_sector_frame``) coloured by the camera ``status``;
    ``device_id`` shows as a tooltip when given. Pass them simplified for display: they are many. ``None``: an
    empty layer with the same style and tooltip, for a page script to fill (``addData``)."""
    fg = folium.FeatureGroup(name=name, show=show)
    if sectors is None:
        GeoJsonLayer(collection_text([]), None, _cone_spec(["device_id", "status"])).add_to(fg)
    elif len(sectors):
        data = sectors.to_crs(4326)
        if "status" not in data.columns:
            data = data.assign(status="ON")
        _cone_layer(data).add_to(fg)
    return fg


def status_legend(names: Mapping[str, str] | None = None, *, say: Say = None, position: str = "bottomright"):
    """The legend of the camera colours: each status (``style.CAMERA_STATUS_COLOURS``) by its name
    (``names``: code → name in the page's language, ``app.labels`` kind ``camera_status``), titled
    ``say("camera_status")``. Add it to the map the camera layer is on."""
    from layers.coverage import Legend

    names = names or {}
    return Legend((say or key_itself)("camera_status"),
                  [(colour, names.get(code, code)) for code, colour in style.CAMERA_STATUS_COLOURS.items()],
                  position=position)
