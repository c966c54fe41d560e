"""Accounts: create users with hashed passwords, check log-ins, change passwords, disable accounts.

A password change and disabling an account end the account's log-in sessions (``app.accounts.sessions``).
"""
from __future__ import annotations

import functools
import secrets

from sqlalchemy import select, text
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts import sessions
from app.accounts.models import ACCOUNT_ROLES, FIELD_ROLES, User
from gis.codes import GRID
from gis.errors import InvalidData, NotFound, RowError
from gis.text import text_problem

MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # hashing cost grows with the length; nobody types more


def password_problem(password: str | None) -> str | None:
    """Why ``password`` may not become an account's password, or None."""
    if len(password or "") < MIN_PASSWORD:
        return f"at least {MIN_PASSWORD} characters"
    return text_problem(password, max_len=MAX_PASSWORD)


def add_user(session: Session, username: str, password: str, *, role: str, grid_code: str | None = None,
             member_id: int | None = None, member_ref: str | None = None) -> User:
    """Create or update ``username``. A field account (``grid_lead``, ``member``) is tied to a member record:
    ``member_id``, or ``member_ref`` (the member's external id or number), or for a grid lead the lead
    member of ``grid_code``."""
    errors = []
    if not username or len(username) > 60 or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        errors.append("username: use 1–60 letters, digits, '.', '-' or '_'")
    if role not in ACCOUNT_ROLES:
        errors.append(f"role: {role!r} is not one of {', '.join(ACCOUNT_ROLES)}")
    if (why := password_problem(password)) is not None:
        errors.append(f"password: {why}")
    if role == "member" and member_id is None and not member_ref:
        errors.append("member: a member account needs --member ID (the member record it belongs to)")
    if role == "grid_lead" and member_id is None and not member_ref:
        if not grid_code:
            errors.append("grid: a grid_lead account needs --grid CODE (the grid it leads)")
        else:
            try:
                GRID.validate(grid_code)
            except ValueError as exc:
                errors.append(f"grid: {exc}")
    if errors:
        raise InvalidData("; ".join(errors))
    if role in FIELD_ROLES and member_id is None and member_ref:
        member_id = session.execute(text(
            "SELECT id FROM members WHERE external_id = :r OR (:r ~ '^[0-9]{1,9}$' AND id = CAST(:r AS integer)) "
            "ORDER BY external_id = :r DESC LIMIT 1"), {"r": member_ref}).scalar()
        if member_id is None:
            raise NotFound(f"member {member_ref!r} not found (give its external id or number)")
    if role == "grid_lead" and member_id is None:
        member_id = session.execute(text("SELECT member_id FROM member_roles WHERE grid_code = :g AND role = 'lead'"),
                                    {"g": grid_code}).scalar()
        if member_id is None:
            raise NotFound(f"grid {grid_code} has no lead member; add the grid's members first (load-demo or import)")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username)
        session.add(user)
        user.password_hash = generate_password_hash(password)
    elif not check_password_hash(user.password_hash, password):
        set_password(session, user, password)
    user.role = role
    user.member_id = member_id if role in FIELD_ROLES else None
    session.flush()
    return user


def set_password(session: Session, user: User, password: str, *, keep_token: str | None = None) -> None:
    """Give ``user`` a new password and end their sessions (all but ``keep_token``'s): a stolen cookie
    must not outlive the password it was obtained with."""
    if (why := password_problem(password)) is not None:
        raise InvalidData(RowError(None, "password", why))
    user.password_hash = generate_password_hash(password)
    sessions.end_user_sessions(session, user.id, "password", keep_token=keep_token)
    session.flush()


def set_active(session: Session, username: str, active: bool) -> User:
    """Enable or disable an account; disabling ends all its sessions (enabling does not revive them)."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no account named {username!r}")
    user.active = active
    if not active:
        sessions.end_user_sessions(session, user.id, "disabled")
    session.flush()
    return user


@functools.cache
def _dummy_hash() -> str:
    # made with the same method and cost as real hashes, so an unknown name costs the same time
    return generate_password_hash(secrets.token_urlsafe(16))


def check_login(session: Session, username: str, password: str) -> tuple[User | None, str]:
    """(user, "ok") for a right password of an active account, else (None, why): ``unknown_user``,
    ``wrong_password`` or ``inactive``. Exactly one password hash is checked whatever the case, so the
    answer time does not tell which names exist."""
    user = session.scalar(select(User).where(User.username == username))
    right = check_password_hash(user.password_hash if user is not None else _dummy_hash(), password)
    if user is None:
        return None, "unknown_user"
    if not right:
        return None, "wrong_password"
    if not user.active:
        return None, "inactive"
    return user, "ok"


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active account ``username`` if ``password`` is right, else None."""
    return check_login(session, username, password)[0]
