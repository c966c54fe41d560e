"""Reference data in the browser: ``GET /admin/reference`` and its JSON API (``/api/reference/…``).

- ``GET /api/reference``: the categories and the three code lists, each row with its ``version``;
- ``POST /api/reference/categories``: add a category;
- ``PATCH /api/reference/categories/<code>``: change one (every field, with the ``version`` read);
- ``PATCH /api/reference/<kind>/<code>``: rename a code of ``programme``, ``source`` or ``member_role``.

A stale ``version`` is a 409 whose body carries ``current`` (the stored row) and ``yours`` (the edit).
Every request that may show them keeps the code lists' names of this process current (:func:`service.refresh_labels`).
"""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError

from app import web
from app.accounts.auth import current_user
from app.accounts.capabilities import can, capability_required
from app.reference import service

bp = Blueprint("reference", __name__)
log = logging.getLogger(__name__)


#: endpoints that show no code names: files, the health check and the favicon neither wait for the names'
#: query nor open a database session for it (nor does a request no route answers)
NAMELESS_ENDPOINTS = frozenset({"static", "core.vendor", "core.healthz", "core.favicon"})


@bp.before_app_request
def _current_names():
    """At most every ``REFRESH_S`` seconds, the names of the code lists as the database holds them (an
    edit in another process reaches this one), for the requests that may show them. Leaves the request's
    session as it found it."""
    if request.endpoint is None or request.endpoint in NAMELESS_ENDPOINTS:
        return
    s = web.db_session()
    owned = not s.in_transaction()
    try:
        service.refresh_labels(s)
    except SQLAlchemyError as exc:  # the names stay as they were; the request itself will meet the outage
        log.warning("reference names not refreshed: %s", str(exc).splitlines()[0] if str(exc) else exc)
    finally:
        if owned:
            s.rollback()


@bp.errorhandler(service.StaleEdit)
def _stale(exc: service.StaleEdit):
    return jsonify({"error": "Conflict", "message": str(exc), "current": exc.current, "yours": exc.yours}), 409


def _all(s) -> dict:
    return {"categories": service.categories(s),
            "code_lists": {kind: service.code_list(s, kind) for kind in service.CODE_LISTS}}


def _saved(s, row: dict, status: int = 200):
    s.commit()
    service.refresh_labels(s, force=True)  # this process shows the new names at once
    return jsonify(row), status


@bp.get("/admin/reference")
@capability_required("reference.read")
def index():
    s = web.db_session()
    data = _all(s)
    js = {"reference": data, "editable": can(current_user(), "reference.edit"),
          "deadlines": list(service.DEADLINES), "kinds": list(service.CODE_LISTS),
          "limits": {"weight_max": service.WEIGHT_MAX, "deadline_max_h": service.DEADLINE_MAX_H},
          "urls": {"api": url_for("reference.api_all"), "add": url_for("reference.add_category"),
                   "category": url_for("reference.edit_category", code="__code__"),
                   "code": url_for("reference.rename", kind="__kind__", code="__code__")}}
    return render_template("admin/reference.html", page="reference", data=data, js=js, js_messages=["@reference"],
                           deadlines=service.DEADLINES, kinds=service.CODE_LISTS, name_max=service.NAME_MAX,
                           code_max=service.CODE_MAX)


@bp.get("/api/reference")
@capability_required("reference.read")
def api_all():
    return jsonify(_all(web.db_session()))


@bp.post("/api/reference/categories")
@capability_required("reference.edit")
def add_category():
    s = web.db_session()
    return _saved(s, service.add_category(s, web.json_body()), 201)


@bp.patch("/api/reference/categories/<code>")
@capability_required("reference.edit")
def edit_category(code: str):
    s = web.db_session()
    return _saved(s, service.update_category(s, code, web.json_body()))


@bp.patch("/api/reference/<kind>/<code>")
@capability_required("reference.edit")
def rename(kind: str, code: str):
    s = web.db_session()
    return _saved(s, service.rename(s, kind, code, web.json_body()))
