"""gridwatch: grid management and Skynet camera registry for 大安区 (510304).

``create_app(settings=None)`` is the composition root of the web application.
"""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from app.config import Settings

if TYPE_CHECKING:  # Flask and the database layer load with the web application, not with every CLI command
    from flask import Flask

    from app.db import Database


def _secret_key(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.var_dir) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


#: what a request may carry beside its photos (the form's fields, multipart framing)
REQUEST_MARGIN_BYTES = 2 * 2**20


def max_request_bytes(settings: Settings) -> int:
    """The largest request accepted: a report or action with its most and largest photos (the photo
    settings), plus the margin; at least 50 MiB (imports of layers through the browser, later)."""
    return max(50 * 2**20, settings.photo_max_count * settings.photo_max_bytes + REQUEST_MARGIN_BYTES)


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> Flask:
    """Build the Flask application: defaults, then ``gridwatch.toml``, then the environment, then ``settings``."""
    from flask import Flask, g

    from app.db import Database

    settings = settings or Settings()
    app = Flask(__name__)
    app.config.update(SECRET_KEY=_secret_key(settings), JSON_AS_ASCII=False, MAX_CONTENT_LENGTH=max_request_bytes(settings),
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=settings.cookie_secure)  # true behind TLS: see docs/security.md
    app.json.ensure_ascii = False
    app.extensions["gridwatch.settings"] = settings
    settings.district  # noqa: B018  built and checked now: bad district settings fail at start, not per request
    app.extensions["gridwatch.db"] = database or Database.from_settings(settings)

    @app.teardown_appcontext
    def _close_session(exc):
        for key in ("db_session", "read_session"):
            s = g.pop(key, None)
            if s is not None:
                if exc is not None:
                    s.rollback()
                s.close()

    from app import db as _db, errors, security, views
    from app.accounts.auth import request_actor

    if request_actor not in _db.ACTOR_SOURCES:
        _db.ACTOR_SOURCES.append(request_actor)
    from app.features import register_blueprints

    errors.register(app)
    security.register(app, settings)
    app.register_blueprint(views.bp)
    register_blueprints(app)
    return app
