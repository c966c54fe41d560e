"""The preview of a boundary upload as the page shows it: lists and GeoJSON (display coordinates).

Built from :class:`app.grids.service.ImportResult` (what the import would do) and its topology report
(``TopologyReport.to_frame()``); no Flask here. Problems are numbered in report order: the page's list
and the map's features share the number, so a click on a row zooms to its feature.
"""
from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import shapely

from app.grids.service import LAYER, ImportResult
from gis.codes import COMMUNITY
from gis.crs import STORAGE_CRS
from gis.topology import KINDS
from layers.base import to_display
from layers.style import COMMUNITY_STYLE, GRID_STYLE

#: what the map draws, by the part of the preview it shows (Leaflet path options)
STYLES = {
    "grid": GRID_STYLE,
    "community": COMMUNITY_STYLE,
    "added": {"color": "#1a7f37", "weight": 2, "fillColor": "#1a7f37", "fillOpacity": 0.15},
    "reshaped": {"color": "#2166ac", "weight": 2, "fillColor": "#2166ac", "fillOpacity": 0.12},
    "before": {"color": "#555555", "weight": 2, "dashArray": "4 4", "fill": False},
    "removed": {"color": "#b2182b", "weight": 2, "dashArray": "6 4", "fillColor": "#b2182b", "fillOpacity": 0.1},
    "selected": {"color": "#ffcc00", "weight": 5},
}
#: problem colours by topology kind (gis.topology.KINDS): overlaps red, gaps orange, slivers purple, rings magenta
PROBLEM_COLOURS = {"invalid": "#e7298a", "code": "#7f7f7f", "duplicate": "#8c510a", "community": "#01665e",
                   "overlap": "#d7191c", "gap": "#fdae61", "outside": "#a6611a", "sliver": "#7b3294"}
if set(PROBLEM_COLOURS) != set(KINDS):
    raise ValueError("app.boundaries.preview: PROBLEM_COLOURS must name every gis.topology.KINDS kind")


def _collection(frame: gpd.GeoDataFrame, basemap: str) -> dict:
    if not len(frame):
        return {"type": "FeatureCollection", "features": []}
    return json.loads(to_display(frame, basemap).to_json(drop_id=True))


def touched_communities(result: ImportResult) -> set[str]:
    """The communities the preview shows: those of the file's grids, of removed grids, of the scope."""
    out = {c[: COMMUNITY.length] for c in list(result.lines) + result.removed}
    if result.scope not in (None, LAYER):
        out.add(result.scope)
    return out


def problems(result: ImportResult) -> list[dict]:
    frame = result.report.to_frame() if result.report is not None else None
    if frame is None:
        return []
    return [{"i": i, "kind": r["kind"], "codes": r["codes"], "message": r["message"],
             "area_m2": None if r["area_m2"] is None or np.isnan(r["area_m2"]) else round(float(r["area_m2"]), 1),
             "line": result.lines.get(r["codes"].split(";")[0]) if r["codes"] else None,
             "on_map": g is not None and not g.is_empty}
            for i, (r, g) in enumerate(zip(frame.to_dict("records"), frame.geometry))]


def map_data(result: ImportResult, communities: gpd.GeoDataFrame, basemap: str) -> dict:
    """GeoJSON of the layer that results (grids of the touched communities, each with its state), the
    stored outlines it replaces or removes, the touched communities and the problems."""
    touched = touched_communities(result)
    stored, written = result.stored, result.written
    cols = ["code", "name"]
    geom = stored.geometry.name
    written_codes = set(written["code"])
    keep = stored[stored["community_code"].isin(touched) & ~stored["code"].isin(written_codes)
                  & ~stored["code"].isin(result.removed)]
    added, reshaped = set(result.added), {r.code for r in result.reshaped}
    states = ["added" if c in added else "reshaped" if c in reshaped else "grid" for c in written["code"]]
    layer = gpd.GeoDataFrame(
        {"code": list(written["code"]) + list(keep["code"]), "name": list(written["name"]) + list(keep["name"]),
         "state": states + ["grid"] * len(keep)},
        geometry=list(written.geometry) + list(keep[geom]), crs=STORAGE_CRS)
    old = stored[stored["code"].isin(reshaped | set(result.removed))]
    before = gpd.GeoDataFrame(
        {"code": list(old["code"]), "name": list(old["name"]),
         "state": ["removed" if c in set(result.removed) else "before" for c in old["code"]]},
        geometry=list(old[geom]), crs=STORAGE_CRS)
    shown = communities[communities["code"].isin(touched)][["code", "name", communities.geometry.name]]
    frame = result.report.to_frame() if result.report is not None else gpd.GeoDataFrame(geometry=[], crs=STORAGE_CRS)
    frame = frame.assign(i=np.arange(len(frame)))
    frame = frame[frame.geometry.notna() & ~shapely.is_empty(frame.geometry.to_numpy())]
    return {"grids": _collection(layer, basemap), "before": _collection(before, basemap),
            "communities": _collection(shown, basemap),
            "problems": _collection(frame[["i", "kind", "codes", frame.geometry.name]], basemap)}


def grid_names(result: ImportResult) -> dict[str, str]:
    names = dict(zip(result.stored["code"], result.stored["name"]))
    names.update(zip(result.written["code"], result.written["name"]))
    return names


def moves(result: ImportResult) -> list[dict]:
    names = grid_names(result)
    return [{"kind": m.kind, "before": m.before, "before_name": names.get(m.before), "after": m.after,
             "after_name": names.get(m.after), "n": m.n} for m in result.moves]


def summary(result: ImportResult) -> dict:
    return {"grids": result.grids, "added": len(result.added), "removed": len(result.removed),
            "reshaped": len(result.reshaped), "renamed": len(result.renamed), "updated": result.updated,
            "unchanged": result.unchanged, "incidents_moved": result.moved("incident"),
            "cameras_moved": result.moved("camera"), "problems": len(result.report.errors) if result.report else 0,
            "holders": len(result.holders)}


def committable(result: ImportResult) -> bool:
    return result.report is not None and result.report.ok and not result.holders and result.writes
