"""Open311 GeoReport v2 routes under ``/open311/v2``: each route calls one function of ``api``."""
from __future__ import annotations

from flask import Blueprint, Response, request

from app.open311 import api
from app.web import db_session, settings

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
KEY_HEADER = "X-API-Key"


def _out(result) -> Response:
    status, headers, body = result
    return Response(body, status=status, headers=headers)


def _read_key() -> str | None:
    # NOTE: the ``api_key`` query parameter is accepted for reads because GeoReport v2 clients send it
    # that way; a query string ends up in proxy and access logs, and a later issue allows keys only in
    # the X-API-Key header or a POST body.
    return request.headers.get(KEY_HEADER) or request.args.get("api_key")


def _post_key() -> str | None:
    return request.headers.get(KEY_HEADER) or request.form.get("api_key")


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
    result = api.post_request(s, request.form, fmt=fmt, key=_post_key(), settings=settings())
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
    return _out(api.error(405, f"{request.method} is not allowed here"))
