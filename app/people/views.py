"""The administration hub and the accounts pages (capability ``user.manage``):

``GET /admin`` (links to every administration page registered), ``GET /admin/users`` (the list, its
filters and the add form), ``GET /admin/users/<username>`` (one account: role and scope, enable or
disable, password reset, removal, sessions and API keys), the forms they post, and the member search the
add form uses (``GET /api/people/members``).

The pages are plain HTML forms (they work without scripts; ``people.js`` adds the member search and
the busy state). Every write goes through ``app.accounts.service`` / ``app.accounts.keys``, the functions
``gridwatch users`` calls. A form that fails validation comes back with status 422 and the reason beside
each field it names; a form read before someone else changed the account comes back with 409 and both
versions, nothing written. A generated password or a new key is shown once, on a page that is not
cached (``Cache-Control: no-store``), and never put in a URL.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for

from app import web
from app.accounts import service
from app.accounts.auth import current_user
from app.accounts.capabilities import can, capability_required
from app.accounts.models import ACCOUNT_ROLES, FIELD_ROLES
from app.dashboards.params import MAX_ID, Params
from app.accounts import keys
from gis.codes import GRID
from gis.errors import Conflict, InvalidData

bp = Blueprint("people", __name__)

PAGE_SIZE = 50
MAX_PAGE = 10_000
#: the administration pages the hub links, in its order: (endpoint, message key of its title, of its hint)
HUB_LINKS = (
    ("people.users", "people_hub_users", "people_hub_users_hint"),
    ("reference.index", "people_hub_reference", "people_hub_reference_hint"),
    ("audit.index", "people_hub_audit", "people_hub_audit_hint"),
    ("webhooks.log", "people_hub_webhooks", "people_hub_webhooks_hint"),
    ("boundaries.upload", "people_hub_boundaries", "people_hub_boundaries_hint"),
    ("camera_files.upload", "people_hub_cameras", "people_hub_cameras_hint"),
)
#: what a redirect after a change tells the page it did (``?done=``)
DONE = ("added", "role", "enabled", "disabled", "removed", "key_revoked", "demo_removed")
STATES = ("active", "disabled")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def required_choice(p: Params, name: str, allowed, why: str = "is required") -> str | None:
    """``p.choice`` for a field the form must send: absent is a problem named ``name`` too."""
    value = p.choice(name, allowed)
    if value is None and p.raw(name) is None:
        p.bad(name, why)
    return value


def hub_links(user) -> list[dict]:
    """The hub's links: only endpoints registered in this application (another area may not be
    installed yet) and, when the view names its capability, only those ``user`` holds."""
    out = []
    for endpoint, title, hint in HUB_LINKS:
        view = current_app.view_functions.get(endpoint)
        if view is None:
            continue
        capability = getattr(view, "required_capability", None)
        if capability is not None and not can(user, capability):
            continue
        out.append({"endpoint": endpoint, "url": url_for(endpoint), "title": title, "hint": hint})
    return out


@bp.get("/admin")
@capability_required("user.manage")
def hub():
    """The administration hub: one link for each administration page."""
    s = web.db_session()
    return render_template("people/hub.html", page="admin", links=hub_links(current_user()),
                           demo=service.demo_accounts_present(s))


# -- the list -----------------------------------------------------------------------------------
def _list_filters(args) -> dict:
    p = Params(args)
    role = p.choice("role", ACCOUNT_ROLES)
    state = p.choice("state", STATES)
    q = p.text("q", max_len=service.USERNAME_MAX)
    grid = p.code("grid", GRID)
    page_no = p.integer("page", lo=1, hi=MAX_PAGE, default=1)
    done = p.choice("done", DONE)
    who = p.text("who", max_len=service.USERNAME_MAX)
    p.done()
    return {"role": role, "state": state, "q": q, "grid": grid, "page": page_no, "done": done, "who": who}


def _list_url(f: dict, page_no: int | None = None) -> str:
    args = {k: f[k] for k in ("role", "state", "q", "grid") if f.get(k)}
    if (page_no or 1) > 1:
        args["page"] = page_no
    return url_for("people.users", **args)


def _users_page(status: int = 200, *, form: dict | None = None, errors: dict | None = None,
                message: str | None = None):
    f = _list_filters(request.args)
    s, st = web.db_session(), web.settings()
    active = None if f["state"] is None else f["state"] == "active"
    rows, total = service.list_users(s, idle_minutes=st.session_idle_minutes, max_hours=st.session_max_hours,
                                     role=f["role"], active=active, q=f["q"], grid=f["grid"], limit=PAGE_SIZE,
                                     offset=(f["page"] - 1) * PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    html = render_template(
        "people/users.html", page="users", rows=rows, total=total, f=f, page_no=f["page"], pages=pages,
        roles=ACCOUNT_ROLES, field_roles=FIELD_ROLES, states=STATES, form=form or {}, errors=errors or {},
        message=message, demo=service.demo_accounts_present(s),
        prev_url=_list_url(f, f["page"] - 1) if f["page"] > 1 else None,
        next_url=_list_url(f, f["page"] + 1) if f["page"] < pages else None,
        js={"members_url": url_for("people.members"), "field_roles": list(FIELD_ROLES)},
        js_messages=["@people"])
    return html, status


@bp.get("/admin/users")
@capability_required("user.manage")
def users():
    """Accounts by name: role, member and grids, state, last log-in, live sessions, keys; filters
    ``role``, ``state`` (active/disabled), ``q`` (name, member name or external id), ``grid``; 50 a page."""
    return _users_page()


def _field_errors(exc: InvalidData) -> dict[str, str]:
    """``{field: reason}`` of a validation error (reasons without a field under ``""``)."""
    out: dict[str, str] = {}
    for e in exc.errors:
        key = e.field or ""
        out[key] = f"{out[key]}; {e.reason}" if key in out else e.reason
    return out


def _add_form(form) -> tuple[dict, Params]:
    p = Params(form)
    values = {"username": p.text("username", max_len=service.USERNAME_MAX, required=True),
              "role": required_choice(p, "role", ACCOUNT_ROLES),
              "member": p.text("member", max_len=60),
              "grid": p.code("grid", GRID)}
    return values, p


@bp.post("/admin/users")
@capability_required("user.manage")
def add():
    """Add an account (``username``, ``role``; a field role also ``member``: the member's number or
    external id, or for a grid lead ``grid``). Answers with its generated password, shown once."""
    values, p = _add_form(request.form)
    s = web.db_session()
    shown = {k: v for k, v in values.items() if v is not None}
    try:
        p.done()
        user, password = service.create_user(s, values["username"], role=values["role"], member_ref=values["member"],
                                              grid_code=values["grid"])
    except InvalidData as exc:
        s.rollback()
        return _users_page(422, form=shown, errors=_field_errors(exc))
    except Conflict as exc:
        s.rollback()
        return _users_page(409, form=shown, errors={"username": str(exc)})
    s.commit()
    return _secret_page("password_new", user.username, password)


def _secret_page(kind: str, username: str, secret: str, name: str | None = None):
    """The one page that shows a generated password or key: not cached, not in any URL."""
    html = render_template("people/secret.html", page="users", kind=kind, username=username, secret=secret,
                           key_name=name, js_messages=["@people"])
    return html, 200, NO_STORE


# -- one account --------------------------------------------------------------------------------
def _account_page(username: str, status: int = 200, *, errors: dict | None = None, message: str | None = None,
                  stale: service.StaleAccount | None = None, form: dict | None = None):
    s, st = web.db_session(), web.settings()
    user = service.get_user(s, username)
    p = Params(request.args)
    done = p.choice("done", DONE)
    key_name = p.text("key", max_len=keys.NAME_MAX)
    rows, _ = service.list_users(s, idle_minutes=st.session_idle_minutes, max_hours=st.session_max_hours,
                                 username=user.username, limit=1)
    html = render_template(
        "people/user.html", page="users", user=user, row=rows[0] if rows else None,
        state=service.account_state(user), roles=ACCOUNT_ROLES, field_roles=FIELD_ROLES,
        sessions=service.live_sessions(s, user.username, idle_minutes=st.session_idle_minutes,
                                       max_hours=st.session_max_hours),
        keys=[k for k, _u in keys.list_api_keys(s, user.username)], yourself=user.username == current_user().username,
        done=done if not p.errors else None, key_name=key_name if not p.errors else None,
        errors=errors or {}, message=message, stale=stale, form=form or {},
        js={"members_url": url_for("people.members"), "field_roles": list(FIELD_ROLES)}, js_messages=["@people"])
    return html, status


@bp.get("/admin/users/<username>")
@capability_required("user.manage")
def user(username: str):
    """One account: its role and scope, state, live sessions and API keys, and the forms that change them."""
    return _account_page(username)


def _seen(p: Params) -> dict:
    """What the form showed of the account (``seen_role``, ``seen_member_id``, ``seen_active``): required,
    so a form from before someone else's change cannot overwrite it."""
    role = required_choice(p, "seen_role", ACCOUNT_ROLES, "is required: the role the form showed (reload the page)")
    member = p.raw("seen_member_id")
    member_id = None
    if member not in (None, "none"):
        member_id = p.integer("seen_member_id", lo=1, hi=MAX_ID)
    active = required_choice(p, "seen_active", ("1", "0"), "is required: 1 or 0, the state the form showed "
                                                            "(reload the page)")
    return {"role": role, "member_id": member_id, "active": active == "1"}


def _change(username: str, change, *, done: str, form: dict | None = None, to: str | None = None):
    """Run ``change(session)``; 303 to ``to`` (the account's page) on success, else the page with the reason."""
    s = web.db_session()
    try:
        change(s)
    except InvalidData as exc:
        s.rollback()
        return _account_page(username, 422, errors=_field_errors(exc), form=form)
    except service.StaleAccount as exc:
        s.rollback()
        return _account_page(username, 409, stale=exc, message=str(exc))
    except Conflict as exc:
        s.rollback()
        return _account_page(username, 409, message=str(exc))
    s.commit()
    return redirect(to or url_for("people.user", username=username, done=done), code=303)


@bp.post("/admin/users/<username>/role")
@capability_required("user.manage")
def role(username: str):
    """Change the role and scope: ``role``; a field role's ``member`` (number or external id) or, for a
    grid lead, ``grid``; with the ``seen_*`` fields of the form."""
    service.get_user(web.db_session(), username)
    p = Params(request.form)
    values = {"role": required_choice(p, "role", ACCOUNT_ROLES), "member": p.text("member", max_len=60),
              "grid": p.code("grid", GRID)}
    seen = _seen(p)

    def change(s):
        p.done()
        service.set_role(s, username, values["role"], member_ref=values["member"], grid_code=values["grid"],
                         by=current_user().username, seen=seen)
    return _change(username, change, done="role", form={k: v for k, v in values.items() if v is not None})


@bp.post("/admin/users/<username>/active")
@capability_required("user.manage")
def active(username: str):
    """Enable (``active=1``) or disable (``active=0``: its sessions end at once) an account."""
    service.get_user(web.db_session(), username)
    p = Params(request.form)
    want = required_choice(p, "active", ("1", "0"), "is required: 1 (enable) or 0 (disable)")
    seen = _seen(p)

    def change(s):
        p.done()
        service.set_active(s, username, want == "1", by=current_user().username, seen=seen)
    return _change(username, change, done="enabled" if want == "1" else "disabled")


@bp.post("/admin/users/<username>/password")
@capability_required("user.manage")
def password(username: str):
    """Reset the password: a generated one, shown once; every session of the account ends."""
    s = web.db_session()
    try:
        new = service.reset_password(s, username, by=current_user().username)
    except Conflict as exc:
        s.rollback()
        return _account_page(username, 409, message=str(exc))
    s.commit()
    return _secret_page("password_reset", username, new)


@bp.post("/admin/users/<username>/remove")
@capability_required("user.manage")
def remove(username: str):
    """Remove the account (``confirm``: its name typed again), with its sessions and keys."""
    service.get_user(web.db_session(), username)
    p = Params(request.form)
    confirm = p.text("confirm", max_len=service.USERNAME_MAX, required=True)
    if confirm is not None and confirm != username:
        p.bad("confirm", f"type the account's name, {username}, to remove it")

    def change(s):
        p.done()
        service.remove_user(s, username, by=current_user().username)
    return _change(username, change, done="removed", to=url_for("people.users", done="removed", who=username))


@bp.post("/admin/users/<username>/keys")
@capability_required("user.manage")
def key_add(username: str):
    """Issue an API key called ``name`` for the account: shown once."""
    s = web.db_session()
    service.get_user(s, username)
    p = Params(request.form)
    name = p.text("name", max_len=keys.NAME_MAX, required=True)
    try:
        p.done()
        key = keys.add_api_key(s, name, username)
    except InvalidData as exc:
        s.rollback()
        return _account_page(username, 422, errors={("key_" + k if k else "key_name"): v
                                                    for k, v in _field_errors(exc).items()}, form={"key_name": name})
    except Conflict as exc:
        s.rollback()
        return _account_page(username, 409, errors={"key_name": str(exc)}, message=str(exc), form={"key_name": name})
    s.commit()
    return _secret_page("key", username, key, name)


@bp.post("/admin/users/<username>/keys/<int:key_id>/revoke")
@capability_required("user.manage")
def key_revoke(username: str, key_id: int):
    """Revoke one of the account's keys (it stays listed, revoked)."""
    s = web.db_session()
    row = keys.revoke_account_key(s, username, key_id if 1 <= key_id <= MAX_ID else 0)
    s.commit()
    return redirect(url_for("people.user", username=username, done="key_revoked", key=row.name), code=303)


@bp.post("/admin/demo-accounts/remove")
@capability_required("user.manage")
def remove_demo():
    """Remove every demo account that exists (``app.demo.DEMO_ACCOUNTS``: their passwords are published)."""
    s = web.db_session()
    try:
        service.remove_demo_accounts(s, by=current_user().username)
    except Conflict as exc:
        s.rollback()
        return _users_page(409, message=str(exc))
    s.commit()
    return redirect(url_for("people.users", done="demo_removed"), code=303)


# -- member search (the add and role forms) -------------------------------------------------------
@bp.get("/api/people/members")
@capability_required("user.manage")
def members():
    """Members whose name, external id or number matches ``q``: ``{"members": [{id, external_id, name,
    active, grids: [{grid_code, roles}], accounts: [username], fits: {grid_lead: bool, member: bool}}]}``
    (``fits``: an account of that role may be tied to the member: ``service.field_member_problem``)."""
    from app.grids.members import search_members

    p = Params(request.args)
    q = p.text("q", max_len=60)
    p.done()
    s = web.db_session()
    found = search_members(s, q, show_phones=can(current_user(), "member.phones"))
    accounts = service.accounts_of_members(s, [m["id"] for m in found])
    for m in found:
        m["accounts"] = accounts.get(m["id"], [])
        m["fits"] = {r: service.field_member_problem(s, r, m["id"]) is None for r in FIELD_ROLES}
    return jsonify(members=found)
