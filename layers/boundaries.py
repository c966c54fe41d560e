"""Boundary layers: streets (街道/镇), communities (社区) and grids (网格)."""
from __future__ import annotations

import folium
import geopandas as gpd

from layers import popups, style
from layers.base import GeoJsonLayer


def _boundary(frame: gpd.GeoDataFrame, name: str, line_style: dict, fields: list[tuple[str, str]],
              *, show: bool = True) -> folium.FeatureGroup:
    fg = folium.FeatureGroup(name=name, show=show)
    if len(frame):
        data = frame.to_crs(4326)
        fields = [f for f in fields if f[1] in data.columns]
        title = "name" if "name" in data.columns else fields[0][1]
        columns = list(dict.fromkeys([title] + [c for _, c in fields]))
        GeoJsonLayer(data, columns, popups.feature_js(title=title, fields=fields, tooltip=title,
                                                      style=line_style)).add_to(fg)
    return fg


def streets(frame: gpd.GeoDataFrame, *, show: bool = True) -> folium.FeatureGroup:
    """Street and town boundaries; ``frame`` has ``code``, ``name``, ``kind``."""
    return _boundary(frame, "街道/镇 streets", style.STREET_STYLE, [("编码 code", "code"), ("类型 kind", "kind")], show=show)


def communities(frame: gpd.GeoDataFrame, *, show: bool = True) -> folium.FeatureGroup:
    """Community boundaries; ``frame`` has ``code``, ``name``, ``street_code``."""
    return _boundary(frame, "社区 communities", style.COMMUNITY_STYLE,
                     [("编码 code", "code"), ("街道 street", "street_code")], show=show)


def grids(frame: gpd.GeoDataFrame, *, show: bool = True) -> folium.FeatureGroup:
    """Grid boundaries; ``frame`` has ``code``, ``name``, ``community_code``, ``households``."""
    return _boundary(frame, "网格 grids", style.GRID_STYLE,
                     [("编码 code", "code"), ("社区 community", "community_code"), ("户数 households", "households"),
                      ("人口 population", "population")], show=show)
