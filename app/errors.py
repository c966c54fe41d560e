"""Map the typed domain errors, HTTP errors, an unreachable database and anything unexpected to
responses, once, in the format of the API the request went to.

Formats, chosen by the request path: Open311 errors (``[{"code", "description"}]`` or ``<errors>``, by
the URL's suffix) under ``/open311/``; the OGC exception JSON (or a page) under ``/ogc/``
(``app.ogc.errors``); JSON under ``/api/`` (and for clients that ask for JSON); a
plain page elsewhere. The database being down is a 503 with ``Retry-After`` everywhere; an
unexpected error is logged with its traceback and answered as a 500 that shows nothing internal.
"""
from __future__ import annotations

import logging
from html import escape

from flask import jsonify, request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from app.ogc import errors as ogc_errors
from gis.errors import GridwatchError, InvalidData

log = logging.getLogger(__name__)
DB_RETRY_AFTER_S = 10  # a restarted database is usually back within seconds
DB_UNAVAILABLE = "the database is unavailable; try again in a few seconds"
INTERNAL = "internal error; it has been logged"


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _is_open311() -> bool:
    return request.path.startswith("/open311/")


def error_payload(exc: GridwatchError) -> dict:
    body = {"error": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, InvalidData):
        body["errors"] = [{"line": e.line, "field": e.field, "reason": e.reason} for e in exc.errors]
    return body


def _open311(status: int, description: str | list[str], headers: dict | None = None):
    from app.open311 import api

    fmt = "xml" if request.path.endswith(".xml") else "json"
    code, h, body = api.error(status, description, fmt)
    return body, code, {**h, **(headers or {})}


def _page(status: int, title: str, message: str, headers: dict | None = None):
    html = (f"<!doctype html><html><head><meta charset=utf-8>"
            f"<meta name=viewport content='width=device-width, initial-scale=1'><title>{status} {escape(title)}"
            f"</title></head><body><h1>{status} {escape(title)}</h1><p>{escape(message)}</p>"
            f"<p><a href='/'>gridwatch</a></p></body></html>")
    return html, status, {"Content-Type": "text/html; charset=utf-8", **(headers or {})}


def respond(status: int, name: str, message: str, *, headers: dict | None = None, payload: dict | None = None):
    """One error response in the request's format (Open311, OGC API, JSON or a page)."""
    if ogc_errors.is_ogc():
        return ogc_errors.response(status, name, message, headers)
    if _is_open311():
        return _open311(status, message, headers)
    if _wants_json():
        body = payload or {"error": name, "message": message}
        return jsonify(body), status, headers or {}
    return _page(status, name, message, headers)


def database_unavailable(exc: Exception) -> bool:
    """A connection that could not be made or was lost (not a constraint or a syntax error)."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def register(app) -> None:
    @app.errorhandler(GridwatchError)
    def _domain(exc: GridwatchError):
        if ogc_errors.is_ogc():
            return ogc_errors.domain(exc)
        return respond(exc.status, type(exc).__name__, str(exc), payload=error_payload(exc))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if _is_open311() or _wants_json() or ogc_errors.is_ogc():
            allow = getattr(exc, "valid_methods", None)
            return respond(exc.code or 500, exc.name, exc.description or exc.name,
                           headers={"Allow": ", ".join(allow)} if allow else None)
        return exc

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):  # routed here only when no HTTPException handler matched
            return _http(exc)
        if database_unavailable(exc):
            log.warning("database unavailable on %s %s: %s", request.method, request.path,
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return respond(503, "Service Unavailable", DB_UNAVAILABLE,
                           headers={"Retry-After": str(DB_RETRY_AFTER_S)})
        log.exception("unexpected error on %s %s", request.method, request.path)
        return respond(500, "Internal Server Error", INTERNAL)
