"""Camera layer: one circle per camera, coloured by status (ON/OFF/VLOST/DEFECT)."""
from __future__ import annotations

import folium
import geopandas as gpd

from layers import popups, style

_FIELDS = [("ID", "device_id"), ("programme", "programme"), ("status", "status"), ("PTZ", "ptz_type"),
           ("azimuth °", "azimuth"), ("FOV °", "fov"), ("range m", "range_m"), ("grid", "grid_code"),
           ("address", "address")]


def cameras(frame: gpd.GeoDataFrame, *, cones: bool = False, name: str = "摄像头 cameras",
            show: bool = True) -> folium.FeatureGroup:
    """Cameras as circle markers coloured by ``status``; with ``cones`` also their view sectors.

    ``frame`` holds the registry's columns (``device_id``, ``name``, ``status``, ``azimuth``, ``fov``,
    ``range_m``, ``ptz_type``, …) and point geometry in any CRS.
    """
    fg = folium.FeatureGroup(name=name, show=show)
    if not len(frame):
        return fg
    data = frame.to_crs(4326)
    html = popups.column(data, "name", [f for f in _FIELDS if f[1] in data.columns])
    if cones:
        from gis import coverage  # the view geometry lives in gis; imported lazily (optional layer)

        sectors = coverage.view_sectors(data)
        folium.GeoJson(
            gpd.GeoDataFrame({"status": data["status"].to_numpy()}, geometry=sectors.to_numpy(), crs=4326).to_json(),
            name="view cones",
            style_function=lambda f: {"color": style.CAMERA_STATUS_COLOURS.get(f["properties"]["status"], "#333"),
                                      "weight": 1, "fillOpacity": 0.15},
        ).add_to(fg)
    for (x, y), status, popup in zip(zip(data.geometry.x, data.geometry.y), data["status"], html):
        colour = style.CAMERA_STATUS_COLOURS.get(status, "#333333")
        folium.CircleMarker(location=(y, x), radius=4, color=colour, fill=True, fill_color=colour,
                            fill_opacity=0.9, weight=1, popup=folium.Popup(popup, max_width=320)).add_to(fg)
    return fg
