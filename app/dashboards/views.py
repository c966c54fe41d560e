"""Dashboard pages and their JSON endpoints (地图看板): operator, planner, grid lead, statistics.

Each route checks the role, works out the grids the user may see, and calls one service function.
"""
from __future__ import annotations

from flask import (Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for)

from app import web
from app.accounts.auth import (current_user, home_endpoint, login_required, role_required, visible_grid_codes)
from app.dashboards import details, grid_view, pages, planning, service, stats
from app.i18n import current_language
from gis.errors import InvalidData

bp = Blueprint("dashboards", __name__)

OPERATOR_ROLES = ("operator", "admin")
PLANNER_ROLES = ("planner", "admin")


def _lang() -> str:
    return current_language(web.settings().language)


def _page_marker_cap() -> int:
    # tests and small screens may ask for fewer markers; never more than the server's cap
    try:
        return max(0, min(int(request.args.get("max", service.PAGE_MARKERS)), service.PAGE_MARKERS))
    except ValueError:
        raise InvalidData("max: a whole number of markers") from None


@bp.get("/dashboard")
@login_required
def home():
    return redirect(url_for(home_endpoint(current_user())))


@bp.get("/dashboard/operator")
@role_required(*OPERATOR_ROLES)
def operator():
    st, s, lang = web.settings(), web.db_session(), _lang()
    flt = service.parse_filter(request.args, basemap=st.basemap)
    parts = pages.incident_map(s, st, flt, None, lang=lang, max_markers=_page_marker_cap())
    return render_template("dashboards/operator.html", parts=parts, flt=flt, options=stats.filter_options(s, lang),
                           page="operator")


@bp.get("/dashboard/grid")
@role_required("grid_lead", "admin")
def grid():
    st, s, lang, user = web.settings(), web.db_session(), _lang(), current_user()
    grids = visible_grid_codes(user)
    if grids is None:  # an admin looks at one grid at a time
        grids = grid_view.admin_grid(s, request.args.get("grid"))
    flt = service.parse_filter(request.args, basemap=st.basemap)
    parts = pages.incident_map(s, st, flt, grids, lang=lang, max_markers=_page_marker_cap())
    return render_template("dashboards/grid.html", parts=parts, flt=flt, page="grid",
                           data=grid_view.grid_lead_data(s, user, grids, lang=lang, settings=st))


@bp.get("/dashboard/planner")
@role_required(*PLANNER_ROLES)
def planner():
    st, s = web.settings(), web.db_session()
    parts, table = planning.planner_map(s, st, lang=_lang())
    return render_template("dashboards/planner.html", parts=parts, table=table, page="planner")


@bp.get("/dashboard/planner/coverage.<fmt>")
@role_required(*PLANNER_ROLES)
def coverage_download(fmt: str):
    body, mimetype = planning.coverage_file(web.db_session(), fmt)
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename=coverage-by-grid.{fmt}"})


@bp.get("/api/coverage/plan")
@role_required(*PLANNER_ROLES)
def coverage_plan():
    try:
        k = int(request.args.get("k", "5"))
    except ValueError:
        raise InvalidData("k: a whole number of new sites, 1–50") from None
    if not 1 <= k <= 50:
        raise InvalidData("k: a whole number of new sites, 1–50")
    return jsonify(planning.what_if(web.db_session(), k, basemap=web.settings().basemap))


@bp.get("/dashboard/stats")
@login_required
def statistics():
    s, user, lang = web.db_session(), current_user(), _lang()
    tables = stats.all_tables(s, visible_grid_codes(user), lang=lang)
    return render_template("dashboards/stats.html", tables=tables, charts=stats.charts(tables), page="stats")


@bp.get("/dashboard/stats/<name>.csv")
@login_required
def statistics_csv(name: str):
    s, user, lang = web.db_session(), current_user(), _lang()
    if name not in stats.TABLES:
        abort(404)
    body = stats.table_csv(stats.TABLES[name](s, visible_grid_codes(user), lang=lang))
    return Response(body, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}.csv"})


@bp.get("/api/incidents")
@login_required
def api_incidents():
    st, user = web.settings(), current_user()
    flt = service.parse_filter(request.args, basemap=st.basemap)
    return Response(service.incident_geojson(web.db_session(), flt, visible_grid_codes(user), basemap=st.basemap,
                                             tz=st.timezone, lang=_lang()), mimetype="application/json")


@bp.get("/api/incidents/<int:incident_id>")
@login_required
def api_incident(incident_id: int):
    user = current_user()
    st = web.settings()
    return jsonify(details.incident_detail(web.db_session(), user, incident_id, visible_grid_codes(user),
                                           basemap=st.basemap, tz=st.timezone, lang=_lang()))


@bp.post("/api/incidents/<int:incident_id>/actions")
@login_required
def api_incident_action(incident_id: int):
    """Take a workflow action: JSON ``{"action", "note"}`` (header X-CSRF-Token) or a form (field csrf_token)."""
    from app.incidents.service import transition

    s, user = web.db_session(), current_user()
    payload = request.get_json(silent=True) if request.is_json else request.form
    action, note = (payload or {}).get("action", ""), (payload or {}).get("note") or None
    details.incident_detail_scope(s, incident_id, visible_grid_codes(user))
    inc = transition(s, incident_id, action, user, note)
    s.commit()
    if request.is_json:
        return jsonify({"id": inc.id, "state": inc.state})
    return redirect(_back(url_for("dashboards.grid")))


def _back(default: str) -> str:
    ref = request.form.get("next") or ""
    return ref if ref.startswith("/") and not ref.startswith("//") else default


@bp.get("/api/cameras/seeing")
@role_required(*OPERATOR_ROLES, "planner")
def api_cameras_seeing():
    """The cameras that see a spot (``lon``, ``lat`` in display coordinates) and their view cones."""
    st = web.settings()
    lon, lat = service.parse_spot(request.args, basemap=st.basemap)
    return jsonify(details.cameras_seeing_spot(web.db_session(), lon, lat, st.basemap))


@bp.get("/api/search")
@login_required
def api_search():
    user = current_user()
    return jsonify(details.search(web.db_session(), request.args.get("q", ""), visible_grid_codes(user),
                                  basemap=web.settings().basemap))
