"""Boundary layers: streets (街道/镇), communities (社区) and grids (网格)."""
from __future__ import annotations

import folium
import geopandas as gpd

from layers import popups, style
from layers.base import GeoJsonLayer


def _boundary(frame: gpd.GeoDataFrame, name: str, line_style: dict, fields: list[tuple[str, str]],
              *, show: bool = True, features: str | None = None) -> folium.FeatureGroup:
    fg = folium.FeatureGroup(name=name, show=show)
    if len(frame):
        data = frame if features is not None else frame.to_crs(4326)
        fields = [f for f in fields if f[1] in data.columns]
        title = "name" if "name" in data.columns else fields[0][1]
        columns = list(dict.fromkeys([title] + [c for _, c in fields]))
        GeoJsonLayer(features if features is not None else data, columns, popups.feature_js(
            title=title, fields=fields, tooltip=title, style=line_style)).add_to(fg)
    return fg


# ``features``: the layer's FeatureCollection text as an earlier call for the same frame embedded it
# (``layers.base.embedded_features``), so a page that keeps its boundaries does not write them again.
def streets(frame: gpd.GeoDataFrame, *, show: bool = True, features: str | None = None) -> folium.FeatureGroup:
    """Street and town boundaries; ``frame`` has ``code``, ``name``, ``kind``."""
    return _boundary(frame, "街道/镇 streets", style.STREET_STYLE, [("编码 code", "code"), ("类型 kind", "kind")],
                     show=show, features=features)


def communities(frame: gpd.GeoDataFrame, *, show: bool = True, features: str | None = None) -> folium.FeatureGroup:
    """Community boundaries; ``frame`` has ``code``, ``name``, ``street_code``."""
    return _boundary(frame, "社区 communities", style.COMMUNITY_STYLE,
                     [("编码 code", "code"), ("街道 street", "street_code")], show=show, features=features)


def grids(frame: gpd.GeoDataFrame, *, show: bool = True, features: str | None = None) -> folium.FeatureGroup:
    """Grid boundaries; ``frame`` has ``code``, ``name``, ``community_code``, ``households``."""
    return _boundary(frame, "网格 grids", style.GRID_STYLE,
                     [("编码 code", "code"), ("社区 community", "community_code"), ("户数 households", "households"),
                      ("人口 population", "population")], show=show, features=features)
