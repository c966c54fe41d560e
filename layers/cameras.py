"""Camera layers: one circle per camera coloured by status (ON/OFF/VLOST/DEFECT), and view cones."""
from __future__ import annotations

import folium
import geopandas as gpd

from layers import popups, style
from layers.base import GeoJsonLayer

_FIELDS = [("编号 ID", "device_id"), ("类型 programme", "programme"), ("状态 status", "status"),
           ("云台 PTZ", "ptz_type"), ("方位角 azimuth °", "azimuth"), ("视场角 FOV °", "fov"),
           ("可视距离 range m", "range_m"), ("网格 grid", "grid_code"), ("地址 address", "address")]
POINT = {"radius": 4, "weight": 1, "fill": True, "fillOpacity": 0.9}
CONE_STYLE = {"weight": 1, "fillOpacity": 0.15}


def cameras(frame: gpd.GeoDataFrame, *, cones: bool = False, name: str = "摄像头 cameras",
            show: bool = True, features: str | None = None) -> folium.FeatureGroup:
    """Cameras as circle markers coloured by ``status``; with ``cones`` also their view sectors.

    ``frame`` holds the registry's columns (``device_id``, ``name``, ``status``, ``azimuth``, ``fov``,
    ``range_m``, ``ptz_type``, …) and point geometry in any CRS. All cameras go into one GeoJSON
    layer whose popups are built on click from the properties (``layers.popups.feature_js``).
    ``features``: the markers' FeatureCollection text as an earlier call for the same frame embedded it
    (``layers.base.embedded_features``).
    """
    fg = folium.FeatureGroup(name=name, show=show)
    if not len(frame):
        return fg
    data = frame.to_crs(4326)
    if cones:
        from gis.coverage import view_sector_frame  # the view geometry lives in gis (optional layer)

        _cone_layer(view_sector_frame(data)).add_to(fg)
    fields = [f for f in _FIELDS if f[1] in data.columns]
    shown = data.copy() if features is None else features
    for col in ("azimuth", "fov", "range_m") if features is None else ():
        if col in shown.columns:
            shown[col] = shown[col].astype(float).round(0)
    title = "name" if "name" in data.columns else "device_id"
    columns = list(dict.fromkeys([title, "status"] + [c for _, c in fields]))
    GeoJsonLayer(shown, columns, popups.feature_js(
        title=title, fields=fields, tooltip="device_id" if "device_id" in data.columns else None,
        colour=popups.colour_by("status", style.CAMERA_STATUS_COLOURS)), point=POINT).add_to(fg)
    return fg


def _cone_layer(sectors: gpd.GeoDataFrame) -> GeoJsonLayer:
    fields = [f for f in (("编号 ID", "device_id"), ("状态 status", "status")) if f[1] in sectors.columns]
    return GeoJsonLayer(sectors, [c for _, c in fields], popups.feature_js(
        fields=fields, popup=False, tooltip="device_id" if "device_id" in sectors.columns else None,
        style=CONE_STYLE, colour=popups.colour_by("status", style.CAMERA_STATUS_COLOURS, keys=("color",))))


def view_cones(sectors: gpd.GeoDataFrame, *, name: str = "视野 view cones", show: bool = True
               ) -> folium.FeatureGroup:
    """View sectors (polygons, e.g. from ``gis.coverage.view_sector_frame``) coloured by the camera ``status``;
    ``device_id`` shows as a tooltip when given. Pass them simplified for display: they are many."""
    fg = folium.FeatureGroup(name=name, show=show)
    if len(sectors):
        data = sectors.to_crs(4326)
        if "status" not in data.columns:
            data = data.assign(status="ON")
        _cone_layer(data).add_to(fg)
    return fg
