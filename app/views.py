"""The home page (sends each role to its dashboard), health check and the locally served map scripts."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, redirect, send_file, url_for
from sqlalchemy import text

from app import web
from app.accounts.auth import current_user, home_endpoint
from layers.assets import ASSET_FILES

bp = Blueprint("core", __name__)


@bp.get("/")
def home():
    # the map holds incidents and camera positions: nothing is shown before log-in
    user = current_user()
    if user is None:
        return redirect(url_for("accounts.login"))
    return redirect(url_for(home_endpoint(user)))


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
