"""Log-in sessions, CSRF protection, role checks and data scoping (who sees which grids).

Sessions are Flask's signed cookies holding only the user id; every request reloads the user so a
deactivated account loses access at once. Every state-changing request of a logged-in session (and
the log-in form itself) must carry the session's CSRF token, in the form field ``csrf_token`` or the
``X-CSRF-Token`` header; Open311 (API keys, no cookie) is exempt.
"""
from __future__ import annotations

import functools
import hmac
import secrets

from flask import abort, g, redirect, request, session, url_for
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app import web
from app.accounts.models import User
from gis.errors import Forbidden

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_EXEMPT_PREFIXES = ("/open311/",)
DISTRICT_ROLES = ("admin", "operator", "planner")
HOME_BY_ROLE = {"admin": "dashboards.operator", "operator": "dashboards.operator",
                "planner": "dashboards.planner", "grid_lead": "dashboards.grid"}


def current_user() -> User | None:
    """The logged-in, active user of this request, or None."""
    if "gw_user" not in g:
        uid = session.get("user_id")
        user = web.db_session().get(User, uid) if uid is not None else None
        g.gw_user = user if user is not None and user.active else None
    return g.gw_user


def log_in(user: User) -> None:
    session.clear()
    session["user_id"] = user.id
    session["csrf"] = secrets.token_urlsafe(32)


def csrf_token() -> str:
    """The session's CSRF token (made on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """``before_request`` hook: refuse a state-changing request of a session without its token (400)."""
    if request.method in SAFE_METHODS or request.path.startswith(CSRF_EXEMPT_PREFIXES):
        return
    if session.get("user_id") is None and request.endpoint != "accounts.login":
        return  # no session to ride on; the view's own auth decides
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, description="missing or wrong CSRF token: reload the page and try again")


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
    """Grids ``user`` may see: None (the whole district) for admin/operator/planner; for a grid lead
    (网格长) the grids their member leads."""
    if user.role in DISTRICT_ROLES:
        return None
    s = session_ or web.db_session()
    rows = s.execute(text("SELECT grid_code FROM member_roles WHERE member_id = :m AND role = 'lead'"),
                     {"m": user.member_id}).scalars()
    return frozenset(rows)


def check_grid(user: User, grid_code: str | None, session_: Session | None = None) -> None:
    """Raise Forbidden unless ``user`` may see ``grid_code``."""
    grids = visible_grid_codes(user, session_)
    if grids is not None and grid_code not in grids:
        raise Forbidden("this belongs to another grid")


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
    return user.role in ("admin", "operator", "grid_lead")


def home_endpoint(user: User) -> str:
    return HOME_BY_ROLE.get(user.role, "dashboards.stats")


def user_by_name(s: Session, username: str) -> User | None:
    return s.scalar(select(User).where(User.username == username))
