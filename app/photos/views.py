"""Serving incident photos: ``GET /media/photos/<id>`` and ``/media/photos/<id>/thumb``.

Only to whoever may see the photo's incident (``visible_grid_codes``): a logged-in account, or an Open311
API key (``?api_key=`` or the ``X-API-Key`` header) acting with its account's scope. A photo of an incident
outside the caller's grids is a 404, the same answer as a photo that does not exist (ids of other grids are
not confirmed). Nobody logged in and no key: the log-in page (a browser), as every page does.

The bytes are read only for the one photo asked for, and only when the browser's copy is stale
(``If-None-Match`` is answered from the ``sha256`` column). See docs/photos.md.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, request, url_for
from sqlalchemy import select

from app import web
from app.accounts.auth import current_user, visible_grid_codes
from app.incidents.models import Incident
from app.photos.models import IncidentPhoto
from app.photos.service import THUMB_CONTENT_TYPE
from gis.errors import NotFound

bp = Blueprint("photos", __name__)

#: the browser may keep a photo this long without asking again; after that a 304 costs no bytes. Short,
#: because access can end (an account moved to another grid, a log-out on a shared phone).
MAX_AGE_S = 600
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
_INT_MAX = 2**31 - 1


@bp.get("/media/photos/<int:photo_id>")
def photo(photo_id: int):
    return _serve(photo_id, thumb=False)


@bp.get("/media/photos/<int:photo_id>/thumb")
def thumb(photo_id: int):
    return _serve(photo_id, thumb=True)


def _viewer(s):
    """The account the request acts for: an API key's (if one is sent) or the logged-in user; else None."""
    key = request.args.get("api_key")
    if key is None:
        key = request.headers.get("X-API-Key")
    if key is not None:
        from app.accounts.keys import KeyRefused, authenticate

        try:
            return authenticate(s, key).user
        except KeyRefused as exc:
            abort(exc.status, description=str(exc))
    return current_user()


def _serve(photo_id: int, *, thumb: bool):
    s = web.db_session()
    user = _viewer(s)
    if user is None:
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    P = IncidentPhoto
    row = None if photo_id > _INT_MAX else s.execute(
        select(P.id, P.content_type, P.sha256, Incident.grid_code)
        .join(Incident, Incident.id == P.incident_id).where(P.id == photo_id)).first()
    grids = visible_grid_codes(user, s)
    if row is None or (grids is not None and row.grid_code not in grids):
        raise NotFound(f"photo {photo_id} not found")
    content_type = THUMB_CONTENT_TYPE if thumb else row.content_type
    etag = f"{row.sha256}-thumb" if thumb else row.sha256
    name = f"photo-{row.id}{'-thumb' if thumb else ''}.{_EXTENSIONS.get(content_type, 'bin')}"
    headers = {"Cache-Control": f"private, max-age={MAX_AGE_S}", "X-Content-Type-Options": "nosniff",
               "Content-Disposition": f'inline; filename="{name}"'}
    if request.if_none_match.contains(etag):
        response = Response(status=304, headers=headers)
        response.set_etag(etag)
        return response
    column = P.thumb if thumb else P.data
    body = s.execute(select(column).where(P.id == row.id)).scalar_one()
    response = Response(body, mimetype=content_type, headers=headers)
    response.set_etag(etag)
    return response
