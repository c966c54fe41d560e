"""Errors under ``/ogc`` in the OGC API's format: the exception JSON ``{"code", "description"}`` (RFC 7807
fields ``title``/``status`` beside it), or a small HTML page when the request asked for HTML. A bad
parameter (``InvalidData``, 422 elsewhere) is a 400 here, as OGC API – Features requires; 401 carries the
``WWW-Authenticate`` challenges (Basic and Bearer), 429 its ``Retry-After``. A browser asking for HTML
with no credentials is sent to the log-in page instead of a 401.
"""
from __future__ import annotations

import json

from flask import request

OGC_PREFIX = "/ogc"


def is_ogc() -> bool:
    return request.path == OGC_PREFIX or request.path.startswith(OGC_PREFIX + "/")


def _wants_html() -> bool:
    f = request.args.get("f")
    if f is not None:
        return f in ("html", "text/html")
    accept = request.accept_mimetypes
    return accept.best_match(["application/json", "text/html"]) == "text/html" \
        and accept["text/html"] > accept["application/json"]


def response(status: int, code: str, description: str, headers: dict | None = None):
    """One error response (a Flask ``Response``: the two challenges of a 401 are two header lines)."""
    from flask import Response

    from app.errors import _page

    if _wants_html():
        body, _status, page_headers = _page(status, code, description)
        out = Response(body, status, content_type=page_headers["Content-Type"])
    else:
        body = json.dumps({"code": code, "description": description, "title": code, "status": status},
                          ensure_ascii=False)
        out = Response(body, status, content_type="application/json; charset=utf-8")
    for name, value in (headers or {}).items():
        out.headers[name] = value
    if status == 401:
        from app.accounts.credentials import CHALLENGES

        for challenge in CHALLENGES:
            out.headers.add("WWW-Authenticate", challenge)
    return out


def domain(exc) -> tuple:
    """A typed domain error (``gis.errors``, ``app.accounts.credentials``) as an OGC error response."""
    from gis.errors import InvalidData

    status = 400 if isinstance(exc, InvalidData) else exc.status
    if status == 401 and _wants_html() and not (request.headers.get("Authorization") or "X-API-Key" in request.headers):
        # a browser with no credentials logs in like on every other page (a Basic challenge would open
        # the browser's password dialog); GIS clients ask for JSON and get the challenge
        from flask import redirect, url_for

        from app.accounts.auth import safe_next

        return redirect(url_for("accounts.login", next=safe_next(request.full_path.rstrip("?"))))
    headers = {"Retry-After": str(exc.retry_after)} if hasattr(exc, "retry_after") else None
    return response(status, type(exc).__name__, str(exc), headers)
