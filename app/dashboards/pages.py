"""Compose the dashboard maps from ``layers`` builders and cut them into parts a page template embeds.

Folium renders a whole HTML document; a dashboard needs its scripts (head), the map ``<div>`` and the
map script separately, plus the JavaScript names of the layers the page script talks to.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import folium
import geopandas as gpd
from folium.plugins import MarkerCluster
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.dashboards import service
from app.layers_db import district_bounds, read_layer
from app.security import nonce_scripts  # Folium's inline scripts run under the page's CSP nonce
from layers import boundaries, cameras as camera_layer, incidents as incident_layer
from gis.geojson import collection_text
from layers.base import GeoJsonLayer, base_map, embedded_features, finish, to_display


@dataclass
class MapParts:
    head: str
    body: str
    script: str
    names: dict = field(default_factory=dict)  # role in the page → Folium JS variable name
    info: dict = field(default_factory=dict)


def render_parts(m: folium.Map, names: dict, info: dict | None = None) -> MapParts:
    root = m.get_root()
    root.render()
    names = {"map": m.get_name(), **names}
    from app.dashboards.page_js import head_scripts  # features.js: every layer's onEachFeature is gw.feature

    return MapParts(head=nonce_scripts(root.header.render()) + str(head_scripts()), body=root.html.render(),
                    script=root.script.render(), names=names, info=info or {})


DISPLAY_TOLERANCE_DEG = 2e-5  # ~2 m: invisible at district zoom, cuts the vertices of boundaries, arcs, blind spots


def light(frame: gpd.GeoDataFrame, basemap: str) -> gpd.GeoDataFrame:
    """Display copy (``to_display``) with simplified polygons, so boundary and cone layers stay small."""
    out = to_display(frame, basemap)
    out[out.geometry.name] = out.geometry.simplify(DISPLAY_TOLERANCE_DEG, preserve_topology=True)
    return out[~out.geometry.is_empty]


def _bounds(frame: gpd.GeoDataFrame):
    if not len(frame):
        return None
    return tuple(float(v) for v in frame.total_bounds)


def _scoped(s: Session, layer: str, grids, column: str = "grid_code") -> gpd.GeoDataFrame:
    if grids is None:
        return read_layer(s, layer)
    return read_layer(s, layer, where=f"{column} = ANY(:grids)", params={"grids": sorted(grids)})


# Boundaries and cameras change rarely but cost most of a map page to read and simplify, so each
# process keeps their display frames. A new tuple version gets the writing transaction's id as
# xmin, so (count, sum of xmin) changes with every insert, update or delete by any writer, in any
# process: checked in one query per page, the cache is never stale (and never shared between workers).
_MAP_TABLES = ("streets", "communities", "grids", "cameras")
_VERSION_SQL = text("SELECT " + ", ".join(
    f"(SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) FROM {t})" for t in _MAP_TABLES))
_FRAMES: OrderedDict = OrderedDict()  # (database, basemap, grids) -> (version, frames)
_FRAMES_MAX = 64                      # scopes kept: the district and the grid leads' grid sets
_FRAMES_LOCK = threading.Lock()


def map_frames(s: Session, basemap: str, grids) -> dict:
    """Display frames of the map's unchanging layers for ``grids`` (None = the district): ``streets``,
    ``communities`` and ``grids`` simplified (``light``), ``cameras``, ``bounds`` (W, S, E, N), and
    ``features``: the FeatureCollection text each layer's builder embeds for them.
    The frames are shared: callers must not change them in place (the layer builders copy)."""
    version = tuple(s.execute(_VERSION_SQL).one())
    bind = s.get_bind()
    slot = (str(getattr(bind, "engine", bind).url), basemap, grids)
    with _FRAMES_LOCK:
        hit = _FRAMES.get(slot)
        if hit is not None and hit[0] == version:
            _FRAMES.move_to_end(slot)
            return hit[1]
    from app.dashboards import map_api

    grid_frame = _scoped(s, "grids", grids, column="code")
    embed = map_api.embeds_cameras(s, grids)
    cams = _scoped(s, "cameras", grids) if embed else read_layer(s, "cameras", where="FALSE")  # columns only
    frames = {"grids": light(grid_frame, basemap), "cameras": to_display(cams, basemap),
              "bounds": district_bounds(s) if grids is None else _bounds(grid_frame),
              "camera_counts": None if embed else map_api.camera_counts(s, grids, basemap)}
    if grids is None:
        frames.update(streets=light(read_layer(s, "streets"), basemap),
                      communities=light(read_layer(s, "communities"), basemap))
    # and the text each layer embeds, written once: the builders take it instead of writing it per page
    build = {"streets": boundaries.streets, "communities": boundaries.communities, "grids": boundaries.grids,
             "cameras": camera_layer.cameras}
    frames["features"] = {name: embedded_features(build[name](frames[name])) for name in build if name in frames}
    if not embed:  # an empty layer the page fills by bounding box (with the embedded layer's popups and styles)
        frames["features"]["cameras"] = collection_text([])
    with _FRAMES_LOCK:
        _FRAMES[slot] = (version, frames)
        while len(_FRAMES) > _FRAMES_MAX:
            _FRAMES.popitem(last=False)
    return frames


def say_in(lang: str):
    """The ``say`` of the ``layers`` builders (``layers.words``): a message key → its text in ``lang``."""
    from app.i18n import translate

    return lambda key: translate(key, lang)


def camera_legend(lang: str):
    """The camera colours' legend, each status by its name in ``lang`` (``app.labels``)."""
    from app.labels import names

    return camera_layer.status_legend(names("camera_status", lang), say=say_in(lang))


def incident_map(s: Session, settings, flt: service.IncidentFilter, grids, *, lang: str = "zh",
                 max_markers: int = service.PAGE_MARKERS, boundaries_layers: bool = True) -> MapParts:
    """Operator / grid-lead map: boundaries, cameras by status, clustered incidents, heat on demand; popups
    and the camera legend (the command centre's district map only: a phone's map has no room) in ``lang``."""
    basemap = settings.basemap
    say = say_in(lang)
    frames = map_frames(s, basemap, frozenset(grids) if grids is not None else None)
    m = base_map(frames["bounds"], basemap=basemap, tianditu_key=settings.tianditu_key)
    text = frames["features"]
    if boundaries_layers and grids is None:
        boundaries.streets(frames["streets"], show=False, features=text["streets"], say=say).add_to(m)
        boundaries.communities(frames["communities"], features=text["communities"], say=say).add_to(m)
    boundaries.grids(frames["grids"], show=grids is not None, features=text["grids"], say=say).add_to(m)
    cam_names = camera_layers(m, frames, say)
    if grids is None:
        camera_legend(lang).add_to(m)
    markers = service.incident_markers(s, flt, grids, basemap=basemap, tz=settings.timezone, lang=lang,
                                       limit=max_markers)
    inc = incident_layer.incidents(collection_text(markers.features), say=say)
    inc.add_to(m)
    incident_layer.heat(to_display(service.heat_cells(s, flt, grids), basemap), weight="n").add_to(m)
    cones = folium.FeatureGroup(name="视野 view cones", show=True).add_to(m)
    finish(m)
    names = {"incidents": inc.get_name(), "cones": cones.get_name(), "cluster": descendant(inc, MarkerCluster),
             "markers": descendant(inc, GeoJsonLayer), **cam_names}
    return render_parts(m, names, {"shown": len(markers.features), "total": markers.total, "cursor": markers.cursor})


def camera_layers(m, frames: dict, say) -> dict:
    """The cameras of ``map_frames`` on map ``m``: embedded, or (a registry beyond
    ``map_api.CAMERA_EMBED_MAX``) an empty layer ``map.js`` fills by bounding box and the per-grid counts.
    Returns the Folium names the page script needs (``cameras``, ``camera_counts``)."""
    group = camera_layer.cameras(frames["cameras"], features=frames["features"]["cameras"], say=say)
    group.add_to(m)
    names = {"cameras": descendant(group, GeoJsonLayer)}
    if frames.get("camera_counts") is not None:
        counts = camera_layer.camera_counts(frames["camera_counts"], name=say("map_camera_counts"), say=say)
        counts.add_to(m)
        names["camera_counts"] = counts.get_name()
    return names


def descendant(element, cls) -> str | None:
    """JavaScript name of the first ``cls`` element below ``element`` (depth first)."""
    for child in element._children.values():
        if isinstance(child, cls):
            return child.get_name()
        found = descendant(child, cls)
        if found:
            return found
    return None
