"""Map the typed domain errors to HTTP responses, once."""
from __future__ import annotations

from html import escape

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from gis.errors import GridwatchError, InvalidData


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/open311/")) or request.accept_mimetypes.best == "application/json"


def error_payload(exc: GridwatchError) -> dict:
    body = {"error": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, InvalidData):
        body["errors"] = [{"line": e.line, "field": e.field, "reason": e.reason} for e in exc.errors]
    return body


def register(app) -> None:
    @app.errorhandler(GridwatchError)
    def _domain(exc: GridwatchError):
        if _wants_json():
            return jsonify(error_payload(exc)), exc.status
        return f"<!doctype html><title>{exc.status}</title><p>{escape(str(exc))}</p>", exc.status

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if _wants_json():
            return jsonify({"error": exc.name, "message": exc.description}), exc.code
        return exc
