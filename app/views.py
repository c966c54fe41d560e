"""The home map page, health check and the locally served map scripts."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, send_file
from sqlalchemy import text

from app import web
from app.layers_db import district_bounds, read_layer
from layers import boundaries, cameras as camera_layer
from layers.assets import ASSET_FILES
from layers.base import base_map, finish

bp = Blueprint("core", __name__)


@bp.get("/")
def home():
    s = web.db_session()
    st = web.settings()
    m = base_map(district_bounds(s), basemap=st.basemap, tianditu_key=st.tianditu_key)
    boundaries.streets(read_layer(s, "streets")).add_to(m)
    boundaries.communities(read_layer(s, "communities")).add_to(m)
    boundaries.grids(read_layer(s, "grids"), show=True).add_to(m)
    camera_layer.cameras(read_layer(s, "cameras")).add_to(m)
    finish(m)
    html = m.get_root().render()
    return html.replace("<head>", "<head><title>gridwatch · 大安区</title>", 1)


@bp.get("/healthz")
def healthz():
    try:
        web.db_session().execute(text("SELECT 1"))
        return jsonify(status="ok", database="reachable")
    except Exception as exc:  # any driver error means "not reachable"; the message helps the operator
        return jsonify(status="error", database="unreachable", detail=str(exc).splitlines()[0]), 503


@bp.get("/vendor/<path:name>")
def vendor(name: str):
    path = ASSET_FILES.get(name)
    if path is None:
        abort(404)
    return send_file(path, max_age=86400)
