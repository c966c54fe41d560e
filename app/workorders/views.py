"""Work-order endpoints (工单) of the command centre, and the bar's due-soon/overdue badges.

- ``GET /api/workorders``: open incidents as work orders, overdue first (``service.list_work_orders``);
- ``POST /api/workorders/bulk``: accept or dispatch many rows at once, all or nothing;
- ``GET /api/workorders/badges``: the bar's counts, polled by ``alerts.js``;

The bulk dispatch's member chooser asks the detail panel's ``/api/incidents/<id>/assignees`` (the members
of the incident's grid) for one of the checked rows, when they all lie in one grid.
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request, url_for
from sqlalchemy import select

from app import web
from app.accounts.auth import PAGE_ROLES, current_user, home_endpoint, role_required, visible_grid_codes
from app.accounts.models import FIELD_ROLES
from app.dashboards import page_js
from app.dashboards.params import MAX_ID, Params
from app.i18n import current_language, translate
from app.incidents.models import OPEN_STATES, SOURCES, Category
from app.workorders import service
from gis.codes import GRID, STREET
from gis.errors import GridwatchError, InvalidData, RowError

bp = Blueprint("workorders", __name__)

#: who works the list and its bulk actions (the command centre)
LIST_ROLES = PAGE_ROLES["operator"]
#: whose bar shows the due-soon and overdue badges
BADGE_ROLES = PAGE_ROLES["operator"] + FIELD_ROLES
#: the words alerts.js shows, handed over by the bar's badges element (the script runs on any page with the bar)
ALERT_MESSAGES = ("alert_new", "alert_open", "alert_close", "alert_sound_on", "alert_sound_off")


def _lang() -> str:
    return current_language(web.settings().language)


def read_filter(p: Params, categories) -> service.WorkOrderFilter:
    """The list's filter from checked parameters (state, category and source repeatable)."""
    return service.WorkOrderFilter(states=p.choices("state", set(OPEN_STATES)), grid=p.code("grid", GRID),
                                   street=p.code("street", STREET), categories=p.choices("category", categories),
                                   sources=p.choices("source", set(SOURCES)))


@bp.get("/api/workorders")
@role_required(*LIST_ROLES)
def api_list():
    s, st, user = web.db_session(), web.settings(), current_user()
    p = Params(request.args)
    flt = read_filter(p, set(s.scalars(select(Category.code))))
    limit = p.integer("limit", lo=1, hi=service.PAGE_MAX, default=service.PAGE_DEFAULT)
    offset = p.integer("offset", lo=0, hi=MAX_ID, default=0)
    p.done()
    return jsonify(service.list_work_orders(s, user, flt, visible_grid_codes(user), due_soon_hours=st.due_soon_hours,
                                            basemap=st.basemap, tz=st.timezone, lang=_lang(), limit=limit,
                                            offset=offset))


def _bulk_items(p: Params) -> list[tuple[int, int]]:
    """``items`` as (id, version) pairs: a list of 1…BULK_MAX objects, ids distinct; each bad one named
    ``items[k].id`` / ``items[k].version``."""
    items = p.args.get("items")
    if not isinstance(items, list) or not items:
        p.bad("items", "is required: a list of {id, version} for the selected rows")
        return []
    if len(items) > service.BULK_MAX:
        p.bad("items", f"{len(items)} rows; at most {service.BULK_MAX} at once")
        return []
    out, seen = [], set()
    for k, item in enumerate(items):
        if not isinstance(item, dict):
            p.bad(f"items[{k}]", "must be an object {id, version}")
            continue
        q = Params(item)
        iid = q.integer("id", lo=1, hi=MAX_ID)
        version = q.integer("version", lo=1, hi=MAX_ID)
        for name, value in (("id", iid), ("version", version)):
            if value is None and not any(e.field == name for e in q.errors):
                q.bad(name, "is required")
        p.errors.extend(RowError(None, f"items[{k}].{e.field}", e.reason) for e in q.errors)
        if iid is not None and iid in seen:
            p.bad(f"items[{k}].id", f"incident {iid} is listed twice")
        elif iid is not None and version is not None:
            seen.add(iid)
            out.append((iid, version))
    return out


@bp.post("/api/workorders/bulk")
@role_required(*LIST_ROLES)
def api_bulk():
    """JSON ``{action: "accept"|"dispatch", items: [{id, version}], member_id?, note?}``; all or nothing.

    Every row goes through ``app.incidents.service.transition`` with its version, inside one savepoint;
    when any row is refused (403), illegal now (409), stale (409) or missing (404), nothing changes and
    the answer has the first failure's status, a message naming that row and ``failures`` listing every
    refused row (``index``, ``id``, ``status``, ``error``, ``message``).
    """
    from app.incidents.service import transition

    s, user = web.db_session(), current_user()
    payload = request.get_json(silent=True) if request.is_json else None
    if not isinstance(payload, dict):
        raise InvalidData(RowError(None, "body", "send a JSON object {action, items: [{id, version}]}"))
    p = Params(payload)
    action = p.choice("action", service.BULK_ACTIONS)
    if action is None and not p.errors:
        p.bad("action", f"is required: one of {', '.join(service.BULK_ACTIONS)}")
    items = _bulk_items(p)
    member = p.integer("member_id", lo=1, hi=MAX_ID)
    if member is not None and action != "dispatch":
        p.bad("member_id", "only a dispatch names a member")
    note = p.text("note", max_len=None, multiline=True)
    p.done()
    kw = {"member_id": member} if member is not None else {}
    failures = []
    savepoint = s.begin_nested()
    for k, (iid, version) in enumerate(items):
        try:
            transition(s, iid, action, user, note, expected_version=version, **kw)
        except GridwatchError as exc:
            failures.append({"index": k, "id": iid, "status": exc.status, "error": type(exc).__name__,
                             "message": str(exc)})
    if failures:
        savepoint.rollback()
        first = failures[0]
        body = {"error": first["error"], "failures": failures,
                "message": f"row {first['index'] + 1} (incident {first['id']}): {first['message']}; nothing was "
                           f"changed ({len(failures)} of {len(items)} rows refused)"}
        return jsonify(body), first["status"]
    savepoint.commit()
    s.commit()
    return jsonify({"action": action, "done": [iid for iid, _v in items]})


@bp.get("/api/workorders/badges")
@role_required(*BADGE_ROLES)
def api_badges():
    s, user = web.db_session(), current_user()
    return jsonify(service.badge_counts(s, user, web.settings(), visible_grid_codes(user)))


@bp.app_template_global()
def workorder_badges() -> dict | None:
    """The bar's badges for this request's user (``_nav.html``): the counts, the link and the polling
    URL, or None for a role that has none (planner) or no user."""
    user = current_user()
    if user is None or user.role not in BADGE_ROLES:
        return None
    counts = service.badge_counts(web.db_session(), user, web.settings(), visible_grid_codes(user))
    href = url_for(home_endpoint(user)) + ("#gw-wo" if user.role in LIST_ROLES else "")
    return {**counts, "href": href, "url": url_for("workorders.api_badges"), "colours": service.mark_colours(),
            "hours": f"{web.settings().due_soon_hours:g}",
            "messages": {k: translate(k, _lang()) for k in ALERT_MESSAGES}}



@bp.app_template_global()
def workorders_page() -> dict:
    """What the operator page's work-order list needs: ``options`` for its filters (rendered by the
    template) and ``data``, the ``workorders`` entry of the page data block (URLs from ``url_for``, the
    states and sources it filters by, page size, the due-soon hours and the marks' colours)."""
    s, st, user = web.db_session(), web.settings(), current_user()
    grids = visible_grid_codes(user) if user is not None else frozenset()
    return {
        "options": {**service.filter_options(s, grids, lang=_lang()), "states": list(OPEN_STATES),
                    "sources": list(SOURCES)},
        "data": {"urls": {"list": url_for("workorders.api_list"), "bulk": url_for("workorders.api_bulk"),
                          "assignees": page_js.urls()["assignees"], "badges": url_for("workorders.api_badges")},
                 "states": list(OPEN_STATES), "page_size": service.PAGE_DEFAULT, "hours": st.due_soon_hours,
                 "colours": service.mark_colours(), "bulk_actions": list(service.BULK_ACTIONS)},
    }


@bp.app_template_global()
def map_counted(flt) -> str:
    """What a map's incident counter counts under the map's filter ``flt`` (an ``IncidentFilter``): its
    states ("open" for the open states, "every state" for no state filter, else the states by name), and
    whether a category, date or area filter narrows it further."""
    from app.labels import label

    lang, states = _lang(), flt.states
    if not states:
        what = translate("wo_map_all_states", lang)
    elif set(states) == set(OPEN_STATES):
        what = translate("wo_map_open_states", lang)
    else:
        what = ("、" if lang == "zh" else ", ").join(label("state", code, lang) for code in states)
    if flt.categories or flt.start or flt.end or flt.street or flt.community:
        what = translate("wo_map_more_filters", lang, states=what)
    return what
