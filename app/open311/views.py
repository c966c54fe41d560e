"""Open311 GeoReport v2 routes under ``/open311/v2``: each route calls one function of ``api``.

Keys: ``X-API-Key`` header, or ``api_key`` in a POST body (the spec); a key in the query string is never read
(query strings end up in proxy and access logs). CORS for the origins of the setting ``open311_cors_origins``: a preflight is Flask's automatic OPTIONS
of each route, with the ``Access-Control-*`` headers of :func:`_cors`.
Errors of every kind (bad fields, unknown paths, 405, 413, 503 …) are Open311 errors by the URL's suffix
(``app.errors``).
"""
from __future__ import annotations

from flask import Blueprint, Response, request

from app.open311 import api
from app.web import db_session, settings

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
KEY_HEADER = "X-API-Key"
CORS_METHODS = "GET, POST, OPTIONS"
CORS_HEADERS = "X-API-Key, Content-Type"
CORS_MAX_AGE_S = 600


def _out(result) -> Response:
    status, headers, body = result
    return Response(body, status=status, headers=headers)


def _read_key() -> str | None:
    return request.headers.get(KEY_HEADER)


def _post_key() -> str | None:
    return request.headers.get(KEY_HEADER) or request.form.get("api_key")


@bp.before_request
def _jurisdiction():
    if request.method != "OPTIONS":
        api.check_jurisdiction(request.values, settings().district)


@bp.after_app_request
def _cors(response: Response) -> Response:
    """``Access-Control-Allow-Origin`` for a listed origin only (never ``*``: keys are credentials)."""
    if not request.path.startswith(bp.url_prefix + "/"):
        return response
    origin = request.headers.get("Origin")
    response.vary.add("Origin")
    if origin and origin in settings().open311_cors_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
            response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
            response.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE_S)
    return response


@bp.get("/discovery.<fmt>")
def discovery(fmt: str):
    return _out(api.get_discovery(request.url_root.rstrip("/") + bp.url_prefix, settings().district, fmt=fmt))


@bp.get("/services.<fmt>")
def services(fmt: str):
    return _out(api.get_services(db_session(), fmt=fmt))


@bp.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str):
    return _out(api.get_service_definition(db_session(), code, fmt=fmt))


@bp.get("/requests.<fmt>")
def requests_list(fmt: str):
    return _out(api.get_requests(db_session(), request.args, fmt=fmt, key=_read_key(), settings=settings()))


@bp.post("/requests.<fmt>")
def requests_create(fmt: str):
    s = db_session()
    result = api.post_request(s, request.form, fmt=fmt, key=_post_key(), settings=settings(),
                              media=request.files.getlist("media"))
    if result[0] < 300:
        s.commit()
    else:
        s.rollback()
    return _out(result)


@bp.get("/requests/<request_id>.<fmt>")
def request_one(request_id: str, fmt: str):
    return _out(api.get_request(db_session(), request_id, fmt=fmt, key=_read_key(), settings=settings()))


@bp.errorhandler(405)
def _method(exc):
    fmt = "xml" if request.path.endswith(".xml") else "json"
    status, headers, body = api.error(405, f"{request.method} is not allowed here", fmt)
    allow = getattr(exc, "valid_methods", None) or CORS_METHODS.split(", ")
    return Response(body, status=status, headers={**headers, "Allow": ", ".join(allow)})
