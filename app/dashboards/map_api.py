"""Camera layers of a registry too big to embed (issue 16): per-grid counts on the page, each camera (and its
view cone) loaded by the map's bounding box as it moves in.

Measured at 10× the demo's cameras (4,710): the operator page embedding every camera was 1.9 MB, the planner's
(cameras, cones) 4.0 MB; at 100× (47,100) ten times that. Up to ``CAMERA_EMBED_MAX`` cameras in a page's
scope the page embeds them as before (the district's 371, a grid lead's few: nothing changes, and they work
offline); beyond, the page embeds one disc per grid with its count, and from zoom ``CAMERA_MIN_ZOOM`` on
``map.js`` fetches the cameras of the view from ``/api/map/cameras`` (at most ``CAMERA_BBOX_MAX`` per answer;
more: the answer says so and the page keeps the counts). Clusters of markers were the other candidate: they
still ship every camera to the browser (the megabytes this removes). The right-click "which cameras see this
spot" and the planner's coverage are computed on the server over every camera, so they stay exact.
"""
from __future__ import annotations

import json

import geopandas as gpd
from flask import Response, jsonify, request
from sqlalchemy import text
from sqlalchemy.orm import Session

from app import web
from app.accounts.auth import PAGE_ROLES, current_user, login_required, role_required, visible_grid_codes
from app.dashboards.pages import light
from app.dashboards.params import Params, display_bbox_to_wgs84
from app.layers_db import read_layer, read_postgis
from gis.geojson import collection_text
from layers import cameras as camera_layer
from layers.base import embedded_features, to_display

#: most cameras a map page embeds one by one; beyond, per-grid counts and loading by bounding box
CAMERA_EMBED_MAX = 1000
#: most cameras one /api/map/cameras answer carries (a view at CAMERA_MIN_ZOOM holds a few hundred)
CAMERA_BBOX_MAX = 2000
#: the zoom from which a page loads the cameras of its view (about 2.5 km across on a phone)
CAMERA_MIN_ZOOM = 15
#: a count's disc: the radius of one camera's marker at 1, its area growing with the count, capped
COUNT_RADIUS_PX, COUNT_RADIUS_MAX = camera_layer.POINT["radius"], 28


def _scope(grids, alias: str = "", *, active: bool = True) -> tuple[str, dict]:
    """The cameras of the map layer (built: ``lifecycle = 'active'``, as ``app.layers_db``'s "cameras", which
    filters so itself: ``active=False``) in ``grids`` (None: the district)."""
    conds = [f"{alias}lifecycle = 'active'"] if active else ["TRUE"]
    if grids is None:
        return conds[0], {}
    return f"{conds[0]} AND {alias}grid_code = ANY(:grids)", {"grids": sorted(grids)}


def camera_total(s: Session, grids) -> int:
    where, p = _scope(grids)
    return int(s.execute(text(f"SELECT count(*) FROM cameras WHERE {where}"), p).scalar())


def embeds_cameras(s: Session, grids) -> bool:
    """Whether a page for ``grids`` (None: the district) embeds its cameras (else counts + bounding box)."""
    return camera_total(s, grids) <= CAMERA_EMBED_MAX


def camera_counts(s: Session, grids, basemap: str) -> gpd.GeoDataFrame:
    """Cameras per grid (``code``, ``n``, ``radius``) at a point inside the grid, in display coordinates;
    cameras outside every grid as one more disc (``code`` None) at their centre."""
    where, p = _scope(grids, "c.")
    frame = read_postgis(s.connection(), text(
        "SELECT g.code, count(*) AS n, ST_PointOnSurface(g.geom) AS geom FROM cameras c JOIN grids g "
        f"ON g.code = c.grid_code WHERE {where} GROUP BY g.code, g.geom "
        "UNION ALL SELECT NULL, count(*), ST_Centroid(ST_Collect(geom)) FROM cameras c "
        f"WHERE c.grid_code IS NULL AND {where} HAVING count(*) > 0 ORDER BY 1"), p)
    frame["radius"] = (COUNT_RADIUS_PX * frame["n"].astype(float) ** 0.5).clip(upper=COUNT_RADIUS_MAX).round(1)
    return to_display(frame, basemap)


def cameras_in_view(s: Session, grids, bbox, basemap: str, *, cones: bool = False,
                    limit: int | None = None) -> dict:
    """The cameras of ``grids`` inside ``bbox`` (WGS-84 W, S, E, N): ``features``, the FeatureCollection the
    page's camera layer draws (the embedded layer's properties exactly), ``total`` in the box, ``truncated``
    when more than ``limit`` (default ``CAMERA_BBOX_MAX``), and with ``cones`` their view sectors (``cones``, a
    FeatureCollection)."""
    limit = CAMERA_BBOX_MAX if limit is None else limit
    where, p = _scope(grids)
    box = "geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)"
    p.update(dict(zip("wsen", bbox)))
    total = int(s.execute(text(f"SELECT count(*) FROM cameras WHERE {where} AND {box}"), p).scalar())
    if total > limit:
        return {"fc": collection_text([]), "total": total, "truncated": True, "limit": limit}
    layer_where, _ = _scope(grids, active=False)
    frame = read_layer(s, "cameras", where=f"{layer_where} AND {box}", params=p)
    shown = to_display(frame, basemap)
    fc = embedded_features(camera_layer.cameras(shown)) if len(shown) else collection_text([])
    out = {"fc": fc, "total": total, "truncated": False, "limit": limit}
    if cones:
        from gis.coverage import view_sector_frame

        sectors = light(view_sector_frame(frame), basemap) if len(frame) else frame
        out["cones"] = embedded_features(camera_layer.view_cones(sectors)) if len(sectors) else collection_text([])
    return out


def blind_spot_features(s: Session, settings, basemap: str) -> str:
    """The planner's blind spots (``gis.coverage.blind_spots`` of every grid: exact, computed once per state of
    the cameras and grids and shared with the OGC API's ``blind_spots`` collection), simplified for display,
    as the FeatureCollection text the planner's (empty) blind-spot layer is filled with when turned on: the
    page no longer computes and embeds them (at 100× the cameras, 14 s and megabytes for a layer that is off
    by default)."""
    import shapely

    from app.ogc import computed
    from layers import coverage as coverage_layer

    def build() -> str:
        a = computed.arrays(s, settings, "blind_spots")
        frame = gpd.GeoDataFrame({"code": a["grid_code"], "area_m2": a["area_m2"]},
                                 geometry=shapely.from_wkb(a["wkb"]) if a["wkb"] else [], crs=4326)
        if not len(frame):
            return collection_text([])
        return embedded_features(coverage_layer.blind_spots(light(frame, basemap)))

    return computed.memoised(s, ("blind_spot_features", basemap), (computed.CAMERAS_FP, computed.GRIDS_FP), build)


from app.dashboards.views import bp  # noqa: E402  (the blueprint these routes are on)


@bp.get("/api/map/cameras")
@login_required
def api_map_cameras():
    """The cameras in ``bbox`` (W,S,E,N in display coordinates) the user may see; ``cones=1``: with their view
    sectors. Answer: a FeatureCollection with ``total``, ``truncated`` and ``limit`` (and ``cones``)."""
    st, user = web.settings(), current_user()
    p = Params(request.args)
    box = p.bbox("bbox")
    if p.raw("bbox") is None:
        p.bad("bbox", "required: bbox=W,S,E,N in degrees (the map's view)")
    cones = p.flag("cones", default=False)
    p.done()
    got = cameras_in_view(web.read_session(), visible_grid_codes(user), display_bbox_to_wgs84(box, st.basemap),
                          st.basemap, cones=bool(cones))
    out = {**json.loads(got.pop("fc")), **got}
    if "cones" in out:
        out["cones"] = json.loads(out["cones"])
    return jsonify(out)


@bp.get("/api/map/blind-spots")
@role_required(*PAGE_ROLES["planner"])
def api_map_blind_spots():
    """The blind spots of every grid (display coordinates), as the planner's layer draws them."""
    st = web.settings()
    return Response(blind_spot_features(web.read_session(), st, st.basemap), mimetype="application/json")
