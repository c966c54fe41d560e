"""Boundary layers: streets (街道/镇), communities (社区) and grids (网格); popups labelled in the page's
language (``say``, ``layers.words``), a street's kind by its name."""
from __future__ import annotations

import folium
import geopandas as gpd

from layers import popups, style
from layers.base import GeoJsonLayer
from layers.words import Say, popup_rows


def _boundary(frame: gpd.GeoDataFrame, name: str, line_style: dict, fields: list[tuple[str, str, str | None]],
              *, show: bool = True, features: str | None = None, say: Say = None) -> folium.FeatureGroup:
    fg = folium.FeatureGroup(name=name, show=show)
    if len(frame):
        data = frame if features is not None else frame.to_crs(4326)
        fields = [f for f in fields if f[1] in data.columns]
        title = "name" if "name" in data.columns else fields[0][1]
        columns = list(dict.fromkeys([title] + [c for _, c, _ in fields]))
        GeoJsonLayer(features if features is not None else data, columns, popups.feature_js(
            title=title, fields=popup_rows(fields, say), tooltip=title, style=line_style)).add_to(fg)
    return fg


# ``features``: the layer's FeatureCollection text as an earlier call for the same frame embedded it
# (``layers.base.embedded_features``), so a page that keeps its boundaries does not write them again.
def streets(frame: gpd.GeoDataFrame, *, show: bool = True, features: str | None = None,
            say: Say = None) -> folium.FeatureGroup:
    """Street and town boundaries; ``frame`` has ``code``, ``name``, ``kind`` (shown by name: street_kind)."""
    return _boundary(frame, "街道/镇 streets", style.STREET_STYLE,
                     [("map_code", "code", None), ("map_street_kind", "kind", "street_kind")],
                     show=show, features=features, say=say)


def communities(frame: gpd.GeoDataFrame, *, show: bool = True, features: str | None = None,
                say: Say = None) -> folium.FeatureGroup:
    """Community boundaries; ``frame`` has ``code``, ``name``, ``street_code``."""
    return _boundary(frame, "社区 communities", style.COMMUNITY_STYLE,
                     [("map_code", "code", None), ("map_street_code", "street_code", None)],
                     show=show, features=features, say=say)


def grids(frame: gpd.GeoDataFrame, *, show: bool = True, features: str | None = None,
          say: Say = None) -> folium.FeatureGroup:
    """Grid boundaries; ``frame`` has ``code``, ``name``, ``community_code``, ``households``."""
    return _boundary(frame, "网格 grids", style.GRID_STYLE,
                     [("map_code", "code", None), ("map_community_code", "community_code", None),
                      ("map_households", "households", None), ("map_population", "population", None)],
                     show=show, features=features, say=say)
