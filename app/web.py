"""Request-scoped helpers shared by every blueprint."""
from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database
from gis.district import District


def settings() -> Settings:
    return current_app.extensions["gridwatch.settings"]


def district() -> District:
    """The district context of the application's settings (built once, checked by ``create_app``)."""
    return settings().district


def database() -> Database:
    return current_app.extensions["gridwatch.db"]


def db_session() -> Session:
    """The request's session (closed at teardown; commit explicitly)."""
    if "db_session" not in g:
        g.db_session = database().Session()
    return g.db_session


def read_session() -> Session:
    """The request's session for read-only queries: on the replica when ``database_read_url`` is set (every
    transaction READ ONLY), else the request's ``db_session`` itself. Never write through it."""
    db = database()
    if db.ReadSession is db.Session:
        return db_session()
    if "read_session" not in g:
        g.read_session = db.ReadSession()
    return g.read_session


def json_body() -> dict:
    """The request's JSON object (the body of every JSON write): a body that is not a JSON object, or not
    sent as ``application/json``, is InvalidData naming the field ``body`` (422)."""
    from flask import request

    from gis.errors import InvalidData, RowError

    payload = request.get_json(silent=True) if request.is_json else None
    if not isinstance(payload, dict):
        raise InvalidData(RowError(None, "body", "send a JSON object (Content-Type: application/json)"))
    return payload
