"""Log-in sessions, CSRF protection, role checks and data scoping (who sees which grids).

The Flask session cookie (signed) holds the log-in session's random token (``sid``), the CSRF token and
the language; never the user id. Every request that asks for the user looks the token up in
``user_sessions`` (``app.accounts.sessions``): an ended, idle or expired session, or a deactivated
account, is logged out at once. Every state-changing request of a session (and the log-in form itself)
must carry the session's CSRF token, in the form field ``csrf_token`` or the ``X-CSRF-Token`` header;
Open311 (API keys, no cookie) is exempt.
"""
from __future__ import annotations

import functools
import hmac
import re
import secrets
from urllib.parse import unquote, urlsplit

from flask import abort, g, has_request_context, redirect, request, session, url_for
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app import web
from app.db import stamp_actor
from app.accounts import sessions
from app.accounts.capabilities import roles_for
from app.accounts.models import FIELD_ROLES, User
from gis.errors import Forbidden

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_EXEMPT_PREFIXES = ("/open311/",)
DISTRICT_ROLES = ("admin", "operator", "planner")
#: who sees each dashboard page: the routes' checks and the bar's links read this one table (the planner's
#: page is a capability's: its roles are the table's)
PAGE_ROLES = {"operator": ("operator", "admin"), "planner": roles_for("coverage.plan"),
              "grid": FIELD_ROLES + ("admin",)}
HOME_BY_ROLE = {"admin": "dashboards.operator", "operator": "dashboards.operator",
                "planner": "dashboards.planner", "grid_lead": "dashboards.grid", "member": "dashboards.grid"}
#: what the session cookie keeps across log-in and log-out (everything else is dropped)
KEPT_ACROSS_LOGIN = ("lang",)


def current_user() -> User | None:
    """The user of this request's live session, or None (computed once per request). Once known, the
    account is the audit log's actor for the rest of the request (``app.db.stamp_actor``)."""
    if "gw_user" not in g:
        g.gw_user = _session_user()
        if g.gw_user is not None:
            name_actor(g.gw_user.username)
    return g.gw_user


def name_actor(actor: str) -> None:
    """Make ``actor`` (an account's name, ``key:<name>`` for an API key) the audit log's actor of this
    request, including the transaction already open."""
    g.audit_actor = actor
    s = web.db_session()
    if s.in_transaction():
        stamp_actor(s, actor)


def request_actor() -> str | None:
    """``app.db.ACTOR_SOURCES`` entry: the actor named for this request, if any."""
    return g.get("audit_actor") if has_request_context() else None


def _session_user() -> User | None:
    token = session.get("sid")
    if not isinstance(token, str):
        return None
    s, st = web.db_session(), web.settings()
    owns_transaction = not s.in_transaction()  # then committing here cannot commit a view's half-done work
    found = sessions.lookup(s, token, idle_minutes=st.session_idle_minutes, max_hours=st.session_max_hours)
    if found.dead_reason is not None:
        sessions.end_by_id(s, found.session_id, found.dead_reason)
    elif found.needs_touch:
        sessions.touch(s, found.session_id)
    if owns_transaction and (found.dead_reason is not None or found.needs_touch):
        s.commit()
    if found.user is None:
        session.pop("sid", None)
    return found.user


def client_addr() -> str:
    """The client's address as the WSGI server saw it (behind a proxy: the proxy's, unless it is trusted
    and rewrites ``REMOTE_ADDR``)."""
    return request.remote_addr or "unknown"


def _fresh_cookie() -> None:
    kept = {k: session[k] for k in KEPT_ACROSS_LOGIN if k in session}
    session.clear()
    session.update(kept)
    session["csrf"] = secrets.token_urlsafe(32)


def log_in(user: User) -> None:
    """Start a server-side session for ``user``. Nothing of the session from before log-in survives but
    the language: a new token and a new CSRF token (session fixation), and an older live session carried
    by the same cookie is ended."""
    _replace_session(user, "replaced")
    g.gw_user = user


def _replace_session(user: User, reason: str) -> None:
    """End the cookie's session (if any) for ``reason`` and start a new one of ``user``: new token, new
    CSRF token, nothing of the old session kept but the language."""
    s = web.db_session()
    old = session.get("sid")
    if isinstance(old, str):
        sessions.end_session(s, old, reason)
    token = sessions.start_session(s, user, client_addr())
    _fresh_cookie()
    session["sid"] = token


def log_out() -> None:
    """End this cookie's session in the database (for good) and drop it from the cookie."""
    token = session.get("sid")
    if isinstance(token, str):
        sessions.end_session(web.db_session(), token, "logout")
    _fresh_cookie()
    g.gw_user = None


def rotate_session(user: User) -> None:
    """Replace this request's session by a new one of ``user`` (after a password change)."""
    _replace_session(user, "rotated")


def csrf_token() -> str:
    """The session's CSRF token (made on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """``before_request`` hook: refuse a state-changing request of a session without its token (400)."""
    if request.method in SAFE_METHODS or request.path.startswith(CSRF_EXEMPT_PREFIXES):
        return
    if session.get("sid") is None and request.endpoint != "accounts.login":
        return  # no session to ride on; the view's own auth decides
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, description="missing or wrong CSRF token: reload the page and try again")


# whitespace (any Unicode space), C0/C1 controls, and the characters browsers drop from URLs
_DROPPED = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
NEXT_MAX_LEN = 2000


def _same_origin_path(value: str) -> bool:
    if not value.startswith("/") or value.startswith("//"):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def safe_next(target) -> str | None:
    r"""``target`` as a same-origin path to redirect to after log-in, or None (go home).

    Browsers drop tabs and line breaks from URLs and read a backslash as a slash, so ``/%09/evil.com``
    (a tab) and ``/\evil.com`` lead to ``//evil.com``, another site. The path is therefore judged as a
    browser would read it: whitespace and control characters removed, backslashes as slashes, and,
    against encoded variants, also after percent-decoding; it must start with one ``/`` and carry no
    scheme or host. The cleaned form is returned, so no CR/LF can reach the ``Location`` header."""
    if not isinstance(target, str) or not target or len(target) > NEXT_MAX_LEN:
        return None
    cleaned = _DROPPED.sub("", target.replace("\\", "/"))
    probe = cleaned
    for _ in range(3):  # %2F%2F, %252F%252F, … : no decoding depth may turn it into another origin
        if not _same_origin_path(probe):
            return None
        decoded = _DROPPED.sub("", unquote(probe).replace("\\", "/"))
        if decoded == probe:
            break
        probe = decoded
    else:
        return None
    return cleaned


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            if request.path.startswith("/api/"):
                abort(401, description="log in first")
            return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return wrapped


def role_required(*roles: str):
    """Allow only users whose role is in ``roles`` (others get 403); implies ``login_required``."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is not None and user.role not in roles:
                raise Forbidden(f"this page is for {', '.join(roles)}; you are logged in as {user.role}")
            return view(*args, **kwargs)
        return login_required(wrapped)
    return decorate


def visible_grid_codes(user: User, session_: Session | None = None) -> frozenset[str] | None:
    """Grids ``user`` may see: None (the whole district) for admin/operator/planner; a grid lead's grids
    (网格长) or a member's (网格员): ``app.incidents.permissions.field_grids``."""
    from app.incidents.permissions import field_grids

    if user.role in DISTRICT_ROLES:
        return None
    return field_grids(session_ or web.db_session(), user)


def mask_phone(phone: str | None) -> str | None:
    """``13812341234`` → ``138****1234``; short numbers keep only their last two digits."""
    if not phone:
        return phone
    p = str(phone)
    if len(p) >= 11:
        return p[:3] + "*" * (len(p) - 7) + p[-4:]
    return "*" * max(len(p) - 2, 1) + p[-2:]


def mask_name(name: str | None) -> str | None:
    """``张三丰`` → ``张**``."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def sees_reporters(user: User) -> bool:
    """Operators dispatch and call back reporters; others see reporter details masked."""
    return user.role in ("admin", "operator")


def sees_member_phones(user: User) -> bool:
    """Operators and grid leads (their own members, by scoping) call members; planners do not need to."""
    from app.accounts.capabilities import can

    return can(user, "member.phones")


def home_endpoint(user: User) -> str:
    return HOME_BY_ROLE.get(user.role, "dashboards.stats")


def user_by_name(s: Session, username: str) -> User | None:
    return s.scalar(select(User).where(User.username == username))
