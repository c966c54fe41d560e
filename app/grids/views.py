"""Grids (网格) and their members (网格员) in the browser and as JSON (issue 13, "Grids and members").

Pages: ``GET /grids`` (``grids.index``: the list, filters by street and community, search on code and
name, paging) and ``GET /grids/<code>`` (``grids.grid``: the boundary on a small map, the members with
their roles, the actions the account may take; ``grids.js`` sends them to the API below).

JSON: ``GET /api/grids`` (the list's filters), ``GET /api/grids/<code>`` (facts, members, ``version``),
``GET /api/members?q=``; writes, each with the grid's ``version`` as read (409 :class:`StaleGrid` with
the grid's members now when it changed, nothing written):

- ``POST /api/members`` ``{name, phone, external_id}`` → 201 the new member (``member.manage``);
- ``POST /api/grids/<code>/members`` ``{member, roles, version, replace_lead}`` assigns (``member.manage``);
- ``PATCH /api/grids/<code>/members/<id>`` ``{roles, version, replace_lead}`` changes roles
  (``member.manage``; a grid lead's ``member.roles_own_grid``: the non-lead roles in its grids);
- ``DELETE /api/grids/<code>/members/<id>`` ``{version, successor}`` unassigns (``member.manage``);
- ``POST /api/grids/<code>/members/<id>/move`` ``{to, version, to_version, successor, replace_lead}``
  (``to_version``: the destination's version as read, whose lead ``replace_lead`` may demote; a stale or
  missing one is a 409 with the destination's members; the grid page has the versions of the grids it
  offers).

The rules (one lead per grid, successors, warnings for accounts left without a grid) are
``app.grids.members``'s.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, render_template, request, url_for

from app import web
from app.accounts.auth import current_user, visible_grid_codes
from app.accounts.capabilities import can, capabilities_of, capability_required
from app.dashboards.params import Params
from app.errors import error_payload, respond
from app.grids import members as svc
from app.grids.models import LEAD, ROLES
from gis.codes import COMMUNITY, GRID, STREET
from gis.errors import NotFound
from gis.text import text_problem

bp = Blueprint("grids", __name__)

#: the last page of the grid list a client may ask for
MAX_PAGE = 10_000
Q_MAX = 40
VERSION_MAX = 20


@bp.errorhandler(svc.StaleGrid)
def _stale(exc: svc.StaleGrid):
    """409 with both versions: the one the client sent and the grid's now, with its members now."""
    payload = {**error_payload(exc), "grid": exc.grid_code, "seen": exc.seen, "current": exc.current,
               "members": [_shown(m) for m in exc.members]}
    return respond(409, "Conflict", str(exc), payload=payload)


def _phones() -> bool:
    return can(current_user(), "member.phones")


def _shown(member: dict) -> dict:
    """A member as the account may see it: the log-ins tied to it only for ``member.manage``."""
    out = dict(member)
    if not can(current_user(), "member.manage"):
        out.pop("accounts", None)
    return out


def _code(code: str) -> str:
    if not GRID.is_valid(code):
        raise NotFound(f"grid {code[:40]!r} not found: a grid code has {GRID.length} digits")
    return code


def _list_args(args):
    p = Params(args)
    street = p.code("street", STREET)
    community = p.code("community", COMMUNITY)
    q = p.text("q", max_len=Q_MAX)
    page = p.integer("page", lo=1, hi=MAX_PAGE, default=1)
    p.done()
    return {"street": street, "community": community, "q": q}, page


def _list(args):
    filters, page = _list_args(args)
    visible = visible_grid_codes(current_user())
    rows, total = svc.list_grids(web.db_session(), visible=visible, page=page, **filters)
    return filters, page, rows, total, visible


def _pager(filters: dict, page: int, total: int) -> dict:
    pages = max(1, -(-total // svc.PAGE_SIZE))
    args = {k: v for k, v in filters.items() if v}
    return {"page": page, "pages": pages, "total": total,
            "prev": url_for("grids.index", **args, page=page - 1) if page > 1 else None,
            "next": url_for("grids.index", **args, page=page + 1) if page < pages else None}


@bp.get("/grids")
@capability_required("grid.read")
def index():
    filters, page, rows, total, visible = _list(request.args)
    return render_template("grids/index.html", page="grids", rows=rows, filters=filters, pager=_pager(filters, page, total),
                           options=svc.filter_options(web.db_session(), visible), q_max=Q_MAX, upload_url=_upload_url())


def _upload_url() -> str | None:
    """The boundary upload (``boundaries.upload``) for those who may use it, once that page exists."""
    if not can(current_user(), "grid.boundary") or "boundaries.upload" not in current_app.view_functions:
        return None
    return url_for("boundaries.upload")


@bp.get("/api/grids")
@capability_required("grid.read")
def api_list():
    filters, page, rows, total, _visible = _list(request.args)
    return jsonify({"grids": rows, "total": total, "page": page, "page_size": svc.PAGE_SIZE})


def _grid_data(code: str) -> tuple[dict, list[dict]]:
    s, user = web.db_session(), current_user()
    grid = svc.grid_summary(s, _code(code), visible_grid_codes(user))
    members = [_shown(m) for m in svc.grid_members(s, code, show_phones=_phones())]
    return grid, members


@bp.get("/grids/<code>")
@capability_required("grid.read")
def grid(code: str):
    from app.field.service import outlines
    from layers.base import basemap_url
    from layers.style import GRID_STYLE

    s, st, user = web.db_session(), web.settings(), current_user()
    grid, members = _grid_data(code)
    tiles = basemap_url(st.basemap, st.tianditu_key)
    may_move = can(user, "member.manage")
    data = {
        "code": grid["code"], "version": grid["version"], "lead": LEAD, "roles": list(ROLES),
        "can": capabilities_of(user), "members": members,
        "outline": outlines(s, [grid["code"]], basemap=st.basemap), "style": GRID_STYLE,
        "basemap": None if tiles is None else {"url": tiles[0], "attribution": tiles[1]},
        "urls": {"grid": url_for("grids.api_grid", code=grid["code"]),
                 "members": url_for("grids.api_members"), "add_member": url_for("grids.api_add_member"),
                 "assign": url_for("grids.api_assign", code=grid["code"]),
                 "member": url_for("grids.api_roles", code=grid["code"], member_id=0)[:-1],
                 "page": url_for("grids.grid", code="0" * GRID.length)[:-GRID.length]},
    }
    others = svc.grid_choices(s, grid["code"]) if may_move else []
    data["versions"] = {g["code"]: g["version"] for g in others}  # a move sends the destination's as seen
    return render_template("grids/grid.html", page="grids", grid=grid, members=members, others=others,
                           roles=ROLES, lead=LEAD, js={"grid": data}, js_messages=["@grids"], upload_url=_upload_url(),
                           limits={"name": svc.NAME_MAX, "phone": svc.PHONE_MAX, "external_id": svc.EXTERNAL_ID_MAX,
                                   "q": Q_MAX})


@bp.get("/api/grids/<code>")
@capability_required("grid.read")
def api_grid(code: str):
    grid, members = _grid_data(code)
    return jsonify({**grid, "members": members})


@bp.get("/api/members")
@capability_required("grid.read")
def api_members():
    p = Params(request.args)
    q = p.text("q", max_len=Q_MAX)
    p.done()
    user = current_user()
    found = svc.search_members(web.db_session(), q, visible=visible_grid_codes(user),
                               show_phones=_phones())
    return jsonify({"members": found})


# -- writes ------------------------------------------------------------------------------------------
def _version(p: Params, name: str = "version", required: bool = True) -> str | None:
    return p.text(name, max_len=VERSION_MAX, required=required)


def _ref(body: dict, name: str, p: Params, required: bool):
    value = body.get(name)
    if value is None or value == "":
        if required:
            p.bad(name, "is required: give the member's number or external id")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        p.bad(name, "must be a member number or external id")
        return None
    if isinstance(value, str):
        problem = text_problem(value, max_len=svc.EXTERNAL_ID_MAX)
        if problem is not None:
            p.bad(name, problem)
            return None
    return value


def _member_id(member_id: int) -> int:
    if not 1 <= member_id <= svc.MAX_MEMBER_ID:
        raise NotFound(f"member {member_id} not found")
    return member_id


def _done(change: svc.Change, status: int = 200):
    web.db_session().commit()
    return jsonify(change.as_json()), status


@bp.post("/api/members")
@capability_required("member.manage")
def api_add_member():
    body = web.json_body()
    m = svc.add_member(web.db_session(), current_user(), body.get("name"), body.get("phone"), body.get("external_id"))
    web.db_session().commit()
    return jsonify({"id": m.id, "name": m.name, "phone": m.phone, "external_id": m.external_id}), 201


@bp.post("/api/grids/<code>/members")
@capability_required("member.manage")
def api_assign(code: str):
    body = web.json_body()
    p = Params(body)
    ref, version, replace = _ref(body, "member", p, True), _version(p), p.flag("replace_lead", default=False)
    p.done()
    change = svc.set_roles(web.db_session(), current_user(), ref, _code(code), body.get("roles"), version=version,
                           replace_lead=replace, assign_only=True, show_phones=_phones())
    return _done(change, 201)


@bp.patch("/api/grids/<code>/members/<int:member_id>")
@capability_required("member.roles_own_grid")
def api_roles(code: str, member_id: int):
    body = web.json_body()
    p = Params(body)
    version, replace = _version(p), p.flag("replace_lead", default=False)
    p.done()
    change = svc.set_roles(web.db_session(), current_user(), _member_id(member_id), _code(code), body.get("roles"),
                           version=version, replace_lead=replace, show_phones=_phones())
    return _done(change)


@bp.delete("/api/grids/<code>/members/<int:member_id>")
@capability_required("member.manage")
def api_unassign(code: str, member_id: int):
    body = web.json_body()
    p = Params(body)
    version, successor = _version(p), _ref(body, "successor", p, False)
    p.done()
    change = svc.unassign(web.db_session(), current_user(), _member_id(member_id), _code(code), version=version,
                          successor=successor, show_phones=_phones())
    return _done(change)


@bp.post("/api/grids/<code>/members/<int:member_id>/move")
@capability_required("member.manage")
def api_move(code: str, member_id: int):
    body = web.json_body()
    p = Params(body)
    to = p.code("to", GRID)
    if to is None and not p.errors:
        p.bad("to", "is required: the code of the grid to move the member to")
    # to_version left out is no 422: the service answers 409 with the destination's members, to be read first
    version, to_version = _version(p), _version(p, "to_version", required=False)
    successor, replace = _ref(body, "successor", p, False), p.flag("replace_lead", default=False)
    p.done()
    change = svc.move(web.db_session(), current_user(), _member_id(member_id), _code(code), to, version=version,
                      to_version=to_version, successor=successor, replace_lead=replace, show_phones=_phones())
    return _done(change)
