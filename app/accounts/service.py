"""Accounts: create users with hashed passwords, check log-ins."""
from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts.models import ACCOUNT_ROLES, User
from gis.codes import GRID
from gis.errors import InvalidData, NotFound

MIN_PASSWORD = 8


def add_user(session: Session, username: str, password: str, *, role: str, grid_code: str | None = None,
             member_id: int | None = None) -> User:
    """Create or update ``username``. A grid lead account is tied to the lead member of ``grid_code``."""
    errors = []
    if not username or len(username) > 60 or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        errors.append("username: use 1–60 letters, digits, '.', '-' or '_'")
    if role not in ACCOUNT_ROLES:
        errors.append(f"role: {role!r} is not one of {', '.join(ACCOUNT_ROLES)}")
    if len(password or "") < MIN_PASSWORD:
        errors.append(f"password: at least {MIN_PASSWORD} characters")
    if role == "grid_lead" and member_id is None:
        if not grid_code:
            errors.append("grid: a grid_lead account needs --grid CODE (the grid it leads)")
        else:
            try:
                GRID.validate(grid_code)
            except ValueError as exc:
                errors.append(f"grid: {exc}")
    if errors:
        raise InvalidData("; ".join(errors))
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
    user.role = role
    user.member_id = member_id if role == "grid_lead" else None
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None or not check_password_hash(user.password_hash, password):
        return None
    return user
