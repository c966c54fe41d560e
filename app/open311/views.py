"""Open311 GeoReport v2 routes under ``/open311/v2``: each route calls one function of ``api``."""
from __future__ import annotations

from flask import Blueprint, Response, request

from app.open311 import api
from app.web import db_session, settings

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")


def _out(result) -> Response:
    status, headers, body = result
    return Response(body, status=status, headers=headers)


@bp.get("/services.<fmt>")
def services(fmt: str):
    return _out(api.get_services(db_session(), fmt))


@bp.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str):
    return _out(api.get_service_definition(db_session(), code, fmt))


@bp.get("/requests.<fmt>")
def requests_list(fmt: str):
    return _out(api.get_requests(db_session(), request.args, fmt, tz=settings().timezone))


@bp.post("/requests.<fmt>")
def requests_create(fmt: str):
    s = db_session()
    result = api.post_request(s, request.form, fmt, settings=settings())
    if result[0] < 300:
        s.commit()
    else:
        s.rollback()
    return _out(result)


@bp.get("/requests/<request_id>.<fmt>")
def request_one(request_id: str, fmt: str):
    return _out(api.get_request(db_session(), request_id, fmt, tz=settings().timezone))


@bp.errorhandler(405)
def _method(exc):
    return _out(api.error(405, f"{request.method} is not allowed here"))
