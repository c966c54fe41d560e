"""Patrol endpoints of the field pages (巡查): the phone's positions in, today's tracks out.

``POST /api/patrols/points`` (member, grid lead; CSRF header): JSON ``{track_id, points: [{at, lon, lat,
accuracy_m}]}``, the account's own member's track; idempotent (see ``app.patrols.phone``).
``GET /api/patrols/today`` (member, grid lead, admin): today's tracks inside the user's grids as GeoJSON;
an admin names one grid (``?grid=``), as on the grid page.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from app import web
from app.accounts.auth import PAGE_ROLES, current_user, role_required, visible_grid_codes
from app.accounts.models import FIELD_ROLES
from app.dashboards.params import Params
from app.patrols import phone
from gis.codes import GRID
from gis.errors import InvalidData, RowError

bp = Blueprint("patrols", __name__)

#: who may send positions: the field roles (their account names their member record)
SENDER_ROLES = FIELD_ROLES
#: who may read today's tracks: the roles of the grid page
READER_ROLES = PAGE_ROLES["grid"]


@bp.post("/api/patrols/points")
@role_required(*SENDER_ROLES)
def api_points():
    user = current_user()
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict):
        raise InvalidData(RowError(None, "body", "send JSON {track_id, points: [{at, lon, lat, accuracy_m}]}"))
    if user.member_id is None:  # cannot happen for the field roles (the schema requires it): say so anyway
        raise InvalidData(RowError(None, "member_id", f"account {user.username} has no member record"))
    s = web.db_session()
    answer = phone.record_points(s, user.member_id, body.get("track_id"), body.get("points"),
                                 settings=web.settings())
    s.commit()
    return jsonify(answer)


@bp.get("/api/patrols/today")
@role_required(*READER_ROLES)
def api_today():
    user, s = current_user(), web.db_session()
    p = Params(request.args)
    code = p.code("grid", GRID)
    p.done()
    grids = visible_grid_codes(user)
    if grids is None:  # an admin looks at one grid at a time, as on the grid page
        from app.dashboards.grid_view import admin_grid

        grids = admin_grid(s, code)
    elif code is not None:
        grids = grids & {code}
    return jsonify(phone.today_tracks(s, grids, settings=web.settings(), basemap=web.settings().basemap))
