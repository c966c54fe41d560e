"""Request-scoped helpers shared by every blueprint."""
from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database


def settings() -> Settings:
    return current_app.extensions["gridwatch.settings"]


def database() -> Database:
    return current_app.extensions["gridwatch.db"]


def db_session() -> Session:
    """The request's session (closed at teardown; commit explicitly)."""
    if "db_session" not in g:
        g.db_session = database().Session()
    return g.db_session
