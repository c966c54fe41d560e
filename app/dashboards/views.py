"""Dashboard pages and their JSON endpoints (地图看板): operator, planner, grid lead, statistics.

Each route checks the role, works out the grids the user may see, and calls one service function.
"""
from __future__ import annotations

from flask import (Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for)
from sqlalchemy import select

from app import web
from app.accounts.auth import (PAGE_ROLES, current_user, home_endpoint, login_required, role_required, safe_next,
                               visible_grid_codes)
from app.dashboards import details, grid_view, page_js, pages, planning, service, stats
from app.dashboards.params import MAX_ID, Params, display_to_wgs84, parse_filter, parse_spot
from app.i18n import current_language
from gis.codes import GRID
from app.accounts.capabilities import capability_required
from gis.errors import Forbidden, NotFound

bp = Blueprint("dashboards", __name__)

OPERATOR_ROLES = PAGE_ROLES["operator"]


@bp.app_template_filter("localtime")
def localtime(value) -> str:
    """Jinja filter ``{{ t|localtime }}``: an aware time as ``YYYY-MM-DD HH:MM`` in the district's zone (the
    ``timezone`` setting), as the map and the detail panel show it; ``—`` for none. Every template shows
    times through this one filter."""
    shown = service.iso_minute(value, web.district().timezone)
    return "—" if shown is None else shown


@bp.app_template_filter("month")
def month(value) -> str:
    """Jinja filter ``{{ d|month }}``: a calendar month (a date, its first day) as ``YYYY-MM``; ``—`` for none
    (the statistics' period: a month of the district's calendar already, no zone to apply)."""
    return "—" if value is None else f"{value.year:04d}-{value.month:02d}"


def _lang() -> str:
    return current_language(web.settings().language)


def _params(args=None) -> Params:
    """Checked readers over this request's arguments, dates bounded by the district's first data day."""
    d = web.district()
    return Params(request.args if args is None else args, earliest=d.data_start, tz=d.timezone)


def _filter():
    """The incident filter of this request's arguments (every value checked; categories against the table)."""
    from app.incidents.models import Category

    d = web.district()
    return parse_filter(request.args, basemap=web.settings().basemap,
                        categories=set(web.db_session().scalars(select(Category.code))),
                        earliest=d.data_start, tz=d.timezone)


def _page_marker_cap() -> int:
    # tests and small screens may ask for fewer markers; never more than the server's cap
    p = _params()
    cap = p.integer("max", lo=0, hi=service.PAGE_MARKERS, default=service.PAGE_MARKERS)
    p.done()
    return cap


def _map_js(parts, page: str, flt=None) -> dict:
    """The page data of a map page (``page_js.map_data``) and its live-view template (``live``: None when the
    setting ``video_url_template`` is empty); ``?poll=`` (ms) asks for another poll interval."""
    p = _params()
    poll = p.integer("poll", lo=page_js.POLL_MIN_MS, hi=page_js.POLL_MAX_MS, default=page_js.POLL_MS)
    p.done()
    from app.cameras.views import live_js  # the live-view links of camera popups and spot lists (gw.liveLink)

    return {"map": page_js.map_data(parts, page=page, lang=_lang(), flt=flt, poll_ms=poll), "live": live_js()}


def _incident_id(incident_id: int) -> int:
    # the route's int converter takes any length of digits; no stored incident has a larger number
    if not 1 <= incident_id <= MAX_ID:
        raise NotFound(f"incident {incident_id} not found")
    return incident_id


@bp.get("/dashboard")
@login_required
def home():
    return redirect(url_for(home_endpoint(current_user())))


@bp.get("/dashboard/operator")
@role_required(*OPERATOR_ROLES)
def operator():
    st, s, lang = web.settings(), web.db_session(), _lang()
    flt = _filter()
    parts = pages.incident_map(s, st, flt, None, lang=lang, max_markers=_page_marker_cap())
    return render_template("dashboards/operator.html", parts=parts, flt=flt, options=stats.filter_options(s, lang),
                           page="operator", js=_map_js(parts, "operator", flt))


@bp.get("/dashboard/grid")
@role_required(*PAGE_ROLES["grid"])
def grid():
    st, s, lang, user = web.settings(), web.db_session(), _lang(), current_user()
    grids = visible_grid_codes(user)
    if grids is None:  # an admin looks at one grid at a time
        p = _params()
        code = p.code("grid", GRID)
        p.done()
        grids = grid_view.admin_grid(s, code)
    flt = _filter()
    parts = pages.incident_map(s, st, flt, grids, lang=lang, max_markers=_page_marker_cap())
    return render_template("dashboards/grid.html", parts=parts, flt=flt, page="grid", js=_map_js(parts, "grid", flt),
                           data=grid_view.grid_lead_data(s, user, grids, lang=lang, settings=st))


@bp.get("/dashboard/planner")
@capability_required("coverage.plan")
def planner():
    from app.accounts.capabilities import can

    st, s, user = web.settings(), web.db_session(), current_user()
    p = _params()
    k = p.integer("k", lo=1, hi=planning.PLAN_K_MAX, default=planning.PLAN_K_DEFAULT)
    p.done()
    parts, table = planning.planner_map(s, st, lang=_lang())
    js = _map_js(parts, "planner")
    js["planner"] = {"k": k, "k_max": planning.PLAN_K_MAX, "adopt": can(user, "camera.plan"),
                     "urls": {"adopt": url_for("dashboards.planned_adopt"),
                              "export": url_for("dashboards.plan_download", fmt="FMT").replace("FMT", "{fmt}")},
                     "formats": list(planning.PLAN_FORMATS)}
    return render_template("dashboards/planner.html", parts=parts, table=table, page="planner", js=js, k=k,
                           js_messages=["@planning"])


@bp.get("/dashboard/planner/coverage.<fmt>")
@capability_required("coverage.plan")
def coverage_download(fmt: str):
    p = _params({"format": fmt})
    p.choice("format", planning.FORMATS)
    p.done()
    body, mimetype = planning.coverage_file(web.db_session(), fmt, web.settings())
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename=coverage-by-grid.{fmt}"})


def _plan_k(p: Params) -> int | None:
    return p.integer("k", lo=1, hi=planning.PLAN_K_MAX, default=planning.PLAN_K_DEFAULT)


@bp.get("/api/coverage/plan")
@capability_required("coverage.plan")
def coverage_plan():
    """The what-if: ``k`` new sites (1–``PLAN_K_MAX``), each with WGS-84 and display coordinates and its gain,
    their discs, the totals and the plan's ``basis`` (send it back with an export)."""
    p = _params()
    k = _plan_k(p)
    p.done()
    return jsonify(planning.what_if(web.db_session(), k, basemap=web.settings().basemap))


@bp.get("/dashboard/planner/plan.<fmt>")
@capability_required("coverage.plan")
def plan_download(fmt: str):
    """The sites of the plan shown (``k``, and its ``basis``, required: 409 when the data changed since) as CSV
    or GeoPackage."""
    p = _params({**request.args.to_dict(), "format": fmt})
    p.choice("format", planning.PLAN_FORMATS)
    k = _plan_k(p)
    basis = p.raw("basis")
    if basis is None:
        p.bad("basis", "is required: the basis of the plan shown (as /api/coverage/plan gives it), so that an "
                       "export of data changed since is refused")
    elif not (isinstance(basis, str) and len(basis) == 16 and basis.isascii() and basis.isalnum()):
        p.bad("basis", "is not a plan's basis (16 letters and digits, as /api/coverage/plan gives it)")
    p.done()
    body, mimetype = planning.plan_file(web.db_session(), k, fmt, basis, basemap=web.settings().basemap)
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename=proposed-sites-k{k}.{fmt}"})


@bp.post("/api/coverage/planned")
@capability_required("camera.plan")
def planned_adopt():
    """Adopt a proposed site: JSON ``{"lon", "lat"}`` (WGS-84, the site list's ``lon``/``lat``), optional
    ``name``, ``rank`` and ``gain`` (for the event's note). 201 with the planned camera (its provisional ID);
    409 when a planned camera already stands there; 422 naming the field."""
    from app.loaders import registry_options
    from camera_registry import planned
    from camera_registry.history import snapshot
    from gis.placement import DEFAULT_SITE_RANGE_M

    s, user = web.db_session(), current_user()
    p = _params(web.json_body())
    spot = p.spot()
    name = p.text("name", max_len=100)
    rank = p.integer("rank", lo=1, hi=planning.PLAN_K_MAX)
    gain = p.number("gain", lo=0, hi=1e12)
    p.done()
    lon, lat = spot
    note = "adopted from the planner's proposed sites" + (f": site {rank}" if rank else "") + \
        (f", gain {gain:g}" if gain is not None else "")
    camera = planned.adopt_site(s, lon, lat, range_m=DEFAULT_SITE_RANGE_M, actor=user.username,
                                name=name, note=note, **registry_options(s, web.settings()))
    s.commit()
    return jsonify(snapshot(camera)), 201


@bp.post("/api/coverage/planned/<device_id>/drop")
@capability_required("camera.plan")
def planned_drop(device_id: str):
    """Give up a planned camera: JSON ``{"reason", "version"}``; it is retired (its record and history stay).
    404 for an unknown ID, 409 when stale or not planned."""
    from camera_registry import planned
    from camera_registry.history import snapshot

    s, user = web.db_session(), current_user()
    if not (len(device_id) == 20 and device_id.isascii() and device_id.isdigit()):
        raise NotFound(f"no camera {device_id!r} in the registry")
    p = _params(web.json_body())
    reason = p.text("reason", max_len=500, required=True)
    version = p.integer("version", lo=1, hi=MAX_ID)
    if version is None and p.raw("version") is None:
        p.bad("version", "is required: the planned camera's version as the page showed it")
    p.done()
    camera = planned.drop_planned(s, device_id, actor=user.username, reason=reason, expected_version=version)
    s.commit()
    return jsonify(snapshot(camera))


def _stats_request():
    """The statistics' read session, the user's grids, and the period and area of this request (checked:
    400 naming the parameter; an area outside a grid lead's grids 404). Recounts the roll-ups once when they
    count months in another zone than the district's (``stats.ensure_zone``)."""
    from app.dashboards.params import parse_stats

    d, user = web.district(), current_user()
    grids = visible_grid_codes(user)
    s = web.read_session()
    if stats.rollup_zone(s) != d.timezone:
        w = web.db_session()
        if stats.ensure_zone(w, d.timezone):
            w.commit()
    areas = stats.area_options(s)
    visible = None if grids is None else stats.area_options(s, grids)
    period, area = parse_stats(request.args, earliest=d.data_start, tz=d.timezone, areas=areas, visible=visible,
                               latest=stats.latest_month(s))
    return s, grids, period, area, (areas if visible is None else visible)


@bp.get("/dashboard/stats")
@login_required
def statistics():
    lang, tz = _lang(), web.district().timezone
    s, grids, period, area, options = _stats_request()
    tables = stats.all_tables(s, grids, lang=lang, tz=tz, period=period, area=area)
    query = {k: v for k, v in request.args.items() if k in ("period", "start", "end", "street", "community",
                                                           "grid", "lang") and v.strip()}
    return render_template("dashboards/stats.html", tables=tables, charts=stats.charts(tables), page="stats",
                           period=period, area=area, options=options, query=query,
                           all_areas=grids is None)


@bp.get("/dashboard/stats/<name>.csv")
@login_required
def statistics_csv(name: str):
    if name not in stats.TABLES:
        abort(404)
    lang, tz = _lang(), web.district().timezone
    s, grids, period, area, _ = _stats_request()
    body = stats.table_csv(stats.TABLES[name](s, grids, lang=lang, tz=tz, period=period, area=area))
    return Response(body, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}.csv"})


@bp.get("/api/incidents")
@login_required
def api_incidents():
    st, user = web.settings(), current_user()
    flt = _filter()
    return Response(service.incident_geojson(web.db_session(), flt, visible_grid_codes(user), basemap=st.basemap,
                                             tz=st.timezone, lang=_lang()), mimetype="application/json")


@bp.get("/api/incidents/<int:incident_id>")
@login_required
def api_incident(incident_id: int):
    user = current_user()
    st = web.settings()
    return jsonify(details.incident_detail(web.db_session(), user, _incident_id(incident_id), visible_grid_codes(user),
                                           basemap=st.basemap, tz=st.timezone, lang=_lang()))


@bp.post("/api/incidents/<int:incident_id>/actions")
@login_required
def api_incident_action(incident_id: int):
    """Take a workflow action: JSON ``{"action", "version", "note"}`` (header X-CSRF-Token), multipart
    (the same fields and ``photos``, header or field csrf_token) or a form (field csrf_token).

    ``version`` (required) is the incident's version as the page showed it: a stale one is 409 and nothing
    changes. A ``move`` also sends the new spot, ``lon``/``lat`` in display coordinates (GCJ-02 on an Amap
    basemap), as ``/api/cameras/seeing`` takes them; ``dispatch``/``reassign`` may name ``member_id``;
    ``resolve`` may carry after-photos (``photos``, stored in the same transaction). Which actions need a
    note: ``workflow.ACTION_RULES`` (checked by the incident service). Answers JSON ``{id, state, version}``
    to a script (JSON or ``Accept: application/json``), else redirects a form back to its page.
    """
    from app.incidents import workflow
    from app.incidents.service import transition

    s, user = web.db_session(), current_user()
    incident_id = _incident_id(incident_id)
    payload = request.get_json(silent=True) if request.is_json else request.form
    if not hasattr(payload, "get"):  # a JSON array, number or string: not an action
        payload = {}
    details.incident_detail_scope(s, incident_id, visible_grid_codes(user))
    p = _params(payload)
    action = p.choice("action", workflow.ACTIONS)
    if action is None and not p.errors:
        p.bad("action", f"is required: one of {', '.join(workflow.ACTIONS)}")
    version = p.integer("version", lo=1, hi=MAX_ID)
    if version is None and p.raw("version") is None:
        p.bad("version", "is required: the incident's version as the page showed it (reload the page)")
    kw = {}
    if action == "move":
        spot = p.spot()
        if spot is not None:
            kw["lon"], kw["lat"] = display_to_wgs84(*spot, web.settings().basemap)
    member = p.integer("member_id", lo=1, hi=MAX_ID)
    if member is not None:
        kw["member_id"] = member
    files = [f for f in request.files.getlist("photos") if f.filename] if not request.is_json else []
    if files and action is not None and not workflow.ACTION_RULES[action].get("photos"):
        p.bad("photos", f"{action} takes no photos; after-photos come with "
              + ", ".join(a for a, r in workflow.ACTION_RULES.items() if r.get("photos")))
    p.done()
    inc = transition(s, incident_id, action, user, payload.get("note"), expected_version=version, **kw)
    if files:
        from app.photos.service import add_photos

        add_photos(s, inc, files, kind="after", actor=user, settings=web.settings(), event=inc.events[-1])
    s.commit()
    if _wants_json():
        return jsonify({"id": inc.id, "state": inc.state, "version": inc.version})
    return redirect(_back(url_for("dashboards.grid")))


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best_match(["text/html", "application/json"]) == \
        "application/json"


@bp.get("/api/incidents/<int:incident_id>/assignees")
@login_required
def api_incident_assignees(incident_id: int):
    """Whom the user may dispatch or reassign the incident to: the members of its grid with their roles
    (the lead first, ``default``). 403 for a role that assigns nothing; 404 outside the user's grids."""
    from app.incidents.permissions import ROLE_ACTIONS

    s, user = web.db_session(), current_user()
    incident_id = _incident_id(incident_id)
    details.incident_detail_scope(s, incident_id, visible_grid_codes(user))
    if not ROLE_ACTIONS.get(user.role, frozenset()) & {"dispatch", "reassign"}:
        raise Forbidden(f"role {user.role!r} assigns no incidents")
    return jsonify(details.assignees(s, incident_id))


def _back(default: str) -> str:
    """Where a form posted from a page returns to: its ``next`` as a same-origin path (the log-in's rule)."""
    return safe_next(request.form.get("next")) or default


@bp.get("/api/cameras/seeing")
@role_required(*OPERATOR_ROLES, "planner")
def api_cameras_seeing():
    """The cameras that see a spot (``lon``, ``lat`` in display coordinates) and their view cones."""
    st = web.settings()
    lon, lat = parse_spot(request.args, basemap=st.basemap)
    return jsonify(details.cameras_seeing_spot(web.db_session(), lon, lat, st.basemap))


@bp.get("/api/search")
@login_required
def api_search():
    user, p = current_user(), _params()
    q = p.text("q", max_len=details.SEARCH_MAX)
    p.done()
    return jsonify(details.search(web.db_session(), q or "", visible_grid_codes(user),
                                  basemap=web.settings().basemap))


from app.dashboards import map_api  # noqa: E402,F401  (its routes on this blueprint)
