"""The field report (现场上报): ``/report`` for members, grid leads and the command centre, its service
worker, and two small JSON endpoints the form asks while the pin moves.

- ``GET /report``: the form (phone first); ``POST /report``: multipart, CSRF, one report with its photos
  → JSON ``{id, no, grid_code, state, replayed, joined}`` (201 stored, 200 a replay of a stored one) for
  scripts (``Accept: application/json``), a redirect to ``/report/sent/<id>`` for a plain form post.
- ``GET /report/sw.js``: the service worker that keeps the form usable offline (scope ``/report``).
- ``GET /api/grids/at?lon=&lat=[&crs=wgs84]``: the grid under a spot; ``GET /api/report/nearby?category=
  &lon=&lat=``: open incidents of that category near it, among those the user may see.
"""
from __future__ import annotations

import secrets
from pathlib import Path

from flask import Blueprint, jsonify, redirect, render_template, request, send_file, url_for
from sqlalchemy import select

from app import web
from app.accounts.models import FIELD_ROLES
from app.accounts.auth import current_user, role_required, visible_grid_codes
from app.dashboards.params import MAX_ID, Params, display_to_wgs84
from app.field import service
from app.i18n import current_language
from app.incidents.models import DESCRIPTION_MAX, Category
from app.incidents.permissions import REPORT_ROLES, may_report
from gis.errors import NotFound

bp = Blueprint("field", __name__)

SW_FILE = Path(__file__).resolve().parent.parent / "static" / "js" / "report-sw.js"
#: the service worker controls the form and its confirmation pages (``/report…``), nothing else
SW_SCOPE = "/report"
_ROLES = tuple(sorted(REPORT_ROLES))


def _lang() -> str:
    return current_language(web.settings().language)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.app_template_global("may_report")
def may_report_global(user) -> bool:
    """``{% if may_report(current_user) %}``: the bar's report link (``permissions.REPORT_ROLES``)."""
    return user is not None and may_report(user)


@bp.get("/report")
@role_required(*_ROLES)
def report():
    s, st, user, lang = web.db_session(), web.settings(), current_user(), _lang()
    grids = visible_grid_codes(user)
    d = web.district()
    data = {
        "user": user.username,
        "role": user.role,
        "categories": service.category_choices(s, lang),
        "sources": list(service.sources_for(user)),
        "default_source": service.default_source(user),
        "description_max": DESCRIPTION_MAX,
        "limits": service.LIMITS,
        "sw_scope": SW_SCOPE,
        "photo_max_count": st.photo_max_count,
        "photo_max_bytes": st.photo_max_bytes,
        "radius_m": st.duplicate_radius_m,
        "bbox": list(d.bbox),
        # the map's orientation without tiles: the user's grids, or the district's communities
        "outlines": service.outlines(s, grids, basemap=st.basemap) if grids is not None else
        service.outlines(s, layer="communities", basemap=st.basemap),
        "outline_style": "mine" if grids is not None else "community",
        "locate_on_load": user.role in FIELD_ROLES,   # an operator's call is about somewhere else
        "basemap": _tiles(st),
        "style": _style(),
        "urls": {"report": url_for("field.report"), "grid_at": url_for("field.grid_at"),
                 "nearby": url_for("field.nearby"), "sw": url_for("field.service_worker"),
                 "sent": url_for("field.sent", incident_id=0).rsplit("/", 1)[0] + "/",
                 "login": url_for("accounts.login", next=url_for("field.report")),
                 "cache": _cache_urls()},
    }
    # a plain form post (no script) carries this key, so submitting it twice still stores one report
    return render_template("field/report.html", js={"report": data}, data=data, page="report",
                           key=secrets.token_urlsafe(24))


def _tiles(st):
    from layers.base import basemap_url

    tiles = basemap_url(st.basemap, st.tianditu_key)
    return None if tiles is None else {"url": tiles[0], "attribution": tiles[1]}


def _style() -> dict:
    from layers.style import COMMUNITY_STYLE, GRID_STYLE

    return {"grid": GRID_STYLE, "mine": {**GRID_STYLE, "weight": 2}, "community": COMMUNITY_STYLE}


def _cache_urls() -> list[str]:
    """What the service worker keeps for the form to open offline (besides the form itself)."""
    static = ["js/gw.js", "js/drafts.js", "js/report.js"]
    vendor = ["leaflet/leaflet.js", "leaflet/leaflet.css", "leaflet/images/marker-icon.png",
              "leaflet/images/marker-icon-2x.png", "leaflet/images/marker-shadow.png"]
    return ([url_for("static", filename=f) for f in static] + [url_for("core.vendor", name=v) for v in vendor]
            + [url_for("static", filename="favicon.svg"), url_for("core.favicon")])


@bp.post("/report")
@role_required(*_ROLES)
def report_post():
    s, st, user = web.db_session(), web.settings(), current_user()
    categories = set(s.scalars(select(Category.code)))
    rep = service.read_report(request.form, user=user, categories=categories, basemap=st.basemap)
    files = [f for f in request.files.getlist("photos") if f and (f.filename or f.content_length)]
    out = service.submit(s, user, rep, files, settings=st)
    s.commit()
    inc = out.incident
    if not _wants_json():
        return redirect(url_for("field.sent", incident_id=inc.id))
    body = {"id": inc.id, "no": service.incident_no(inc), "grid_code": inc.grid_code, "state": inc.state,
            "replayed": out.replayed, "joined": out.joined}
    return jsonify(body), 200 if out.replayed else 201


@bp.get("/report/sent/<int:incident_id>")
@role_required(*_ROLES)
def sent(incident_id: int):
    """The confirmation of a plain form post: the incident the user reported (or one they may see)."""
    from app.incidents.models import Incident

    s, user = web.db_session(), current_user()
    inc = s.get(Incident, incident_id) if 1 <= incident_id <= MAX_ID else None
    grids = visible_grid_codes(user)
    if inc is None or not (grids is None or inc.grid_code in grids or service.reported_by(s, inc.id, user.username)):
        raise NotFound(f"incident {incident_id} not found")
    return render_template("field/sent.html", inc=inc, no=service.incident_no(inc), page="report")


@bp.get("/report/sw.js")
@role_required(*_ROLES)
def service_worker():
    # no-cache: the browser checks for a new worker on every visit, so a fixed one reaches phones at once
    resp = send_file(SW_FILE, mimetype="text/javascript", max_age=0)
    resp.headers["Service-Worker-Allowed"] = SW_SCOPE
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def _spot(p: Params) -> tuple[float, float] | None:
    """``lon``/``lat`` as sent (display coordinates, or WGS-84 with ``crs=wgs84``) → WGS-84."""
    crs = p.choice("crs", service.FORM_CRS, default="display")
    spot = p.spot()
    p.done()
    return spot if crs == "wgs84" else display_to_wgs84(*spot, web.settings().basemap)


@bp.get("/api/grids/at")
@role_required(*_ROLES)
def grid_at():
    lon, lat = _spot(Params(request.args))
    s, user = web.db_session(), current_user()
    return jsonify(service.grid_at(s, lon, lat, grids=visible_grid_codes(user), basemap=web.settings().basemap))


@bp.get("/api/report/nearby")
@role_required(*_ROLES)
def nearby():
    s, st = web.db_session(), web.settings()
    p = Params(request.args)
    category = p.text("category", max_len=service.LIMITS["category"], required=True)
    if category is not None and s.get(Category, category) is None:
        p.bad("category", f"{category[:40]!r} is not a category")
    lon, lat = _spot(p)
    return jsonify({"radius_m": st.duplicate_radius_m,
                    "incidents": service.nearby(s, current_user(), category, lon, lat,
                                                radius_m=st.duplicate_radius_m, tz=web.district().timezone)})
