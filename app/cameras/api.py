"""The cameras' JSON API (摄像机接口), on the ``cameras`` blueprint (``app/cameras/views.py``):

- ``GET /api/cameras``: the list's filters as parameters (``app.cameras.service.parse_filters``) plus ``sort``,
  ``limit``, ``offset``; answers ``rows`` and ``total``;
- ``GET /api/cameras/<device_id>``: the record with its ``version``, what the account may edit and do;
- ``PATCH /api/cameras/<device_id>``: ``{"version": n, field: value, …}`` (``lon``/``lat`` WGS-84, or with
  ``"crs": "display"`` as the page's basemap shows them); 409 when stale (``current`` and ``yours``), 422
  naming the field, 403 naming the fields the role may not edit (``fields``);
- ``POST /api/cameras/<device_id>/status``: ``{status, reason, version}``;
- ``POST /api/cameras``: add a camera; ``POST /api/cameras/<device_id>/retire``: ``{reason, version}``.

Validation is the registry's own (``camera_registry.history`` → ``schema.validate_rows``); only the shape of
the body is checked here.
"""
from __future__ import annotations

from flask import jsonify, request, url_for

from app import web
from app.accounts.auth import current_user
from app.accounts.capabilities import capability_required, require
from app.cameras import service
from app.cameras.views import bp
from app.dashboards.params import MAX_ID, Params, display_to_wgs84
from app.loaders import registry_options
from camera_registry import history
from camera_registry.models import STATUSES
from gis.errors import Conflict

#: the coordinates a body's ``lon``/``lat`` are in: WGS-84, or as the page's basemap shows them
CRS_CHOICES = ("wgs84", "display")
#: the longest reason of a status change or a retirement
REASON_MAX = 500
#: what a field's value may be in a JSON body (the registry's validator reads it as text)
_SCALARS = (str, int, float, type(None))


def record(camera, user) -> dict:
    """The camera as the API answers it: ``camera_registry.history.snapshot`` (WGS-84 ``lon``/``lat``,
    ``version``), the position as the basemap shows it (``display``), the ID's industry, the fields the
    account may edit, the actions it may take and the page's URL."""
    from layers.base import shift_lonlat

    data = history.snapshot(camera)
    x, y = shift_lonlat([data["lon"]], [data["lat"]], web.settings().basemap)
    data.update({"display": {"lon": float(x[0]), "lat": float(y[0])}, "updated_by": camera.updated_by,
                 "updated_at": camera.updated_at.isoformat() if camera.updated_at else None,
                 "industry": service.industry_of(camera.device_id),
                 "editable": service.editable_fields(user, camera), "actions": service.actions(user, camera),
                 "url": url_for("cameras.camera", device_id=camera.device_id)})
    return data


def _version(p: Params) -> int | None:
    version = p.integer("version", lo=1, hi=MAX_ID)
    if version is None and not any(e.field == "version" for e in p.errors):
        p.bad("version", "is required: the version you read (GET /api/cameras/<device_id>)")
    return version


def _values(p: Params, payload: dict, allowed) -> dict:
    """The body's field values (scalars; lon/lat converted from display coordinates when ``crs`` says so);
    every unknown field or value of the wrong type named in ``p``."""
    crs = p.choice("crs", CRS_CHOICES, default="wgs84")
    values = {}
    for name, value in payload.items():
        if name in ("version", "crs"):
            continue
        if name == "status" and "status" not in allowed:
            p.bad(name, "changes with a reason: POST /api/cameras/<device_id>/status {status, reason, version}")
        elif name not in allowed:
            p.bad(name, "not a camera field")
        elif isinstance(value, bool) or not isinstance(value, _SCALARS):
            p.bad(name, f"must be text or a number, not {type(value).__name__}")
        else:
            values[name] = value
    if crs == "display" and ("lon" in values or "lat" in values):
        lon = p.number("lon", lo=-180.0, hi=180.0, required=True, what="degrees")
        lat = p.number("lat", lo=-90.0, hi=90.0, required=True, what="degrees")
        if lon is not None and lat is not None:
            values["lon"], values["lat"] = display_to_wgs84(lon, lat, web.settings().basemap)
    return values


def _stale(camera_id: str, user, yours: dict, exc: Conflict):
    """409 with both versions side by side: ``current`` (as stored now) and ``yours`` (what was sent)."""
    s = web.db_session()
    s.rollback()
    camera = service.visible_camera(s, camera_id, user)
    return jsonify({"error": "Conflict", "message": str(exc), "current": record(camera, user), "yours": yours}), 409


@bp.get("/api/cameras")
@capability_required("camera.read")
def api_list():
    s, user = web.db_session(), current_user()
    p = Params(request.args)
    flt = service.read_filters(p)
    sort = service.read_sort(p)
    limit = p.integer("limit", lo=1, hi=service.PAGE_MAX, default=service.PAGE_DEFAULT)
    offset = p.integer("offset", lo=0, hi=MAX_ID, default=0)
    p.done()
    rows, total = service.select_cameras(s, flt, user, sort=sort, limit=limit, offset=offset)
    for r in rows:
        r["updated_at"] = r["updated_at"].isoformat() if r["updated_at"] else None
        r["url"] = url_for("cameras.camera", device_id=r["device_id"])
    return jsonify({"rows": rows, "total": total, "limit": limit, "offset": offset, "sort": sort,
                    "filters": flt.query_string()})


@bp.get("/api/cameras/<device_id>")
@capability_required("camera.read")
def api_camera(device_id: str):
    user = current_user()
    return jsonify(record(service.visible_camera(web.db_session(), device_id, user), user))


@bp.patch("/api/cameras/<device_id>")
@capability_required("camera.read")
def api_patch(device_id: str):
    s, user = web.db_session(), current_user()
    payload = web.json_body()
    p = Params(payload)
    version = _version(p)
    changes = _values(p, payload, service.EDIT_FIELDS)
    if not changes and not p.errors:
        p.bad("body", f"no field to change: send one or more of {', '.join(service.EDIT_FIELDS)}")
    p.done()
    camera = service.visible_camera(s, device_id, user)
    history.check_writable(camera)
    refused = service.forbidden_fields(user, camera, changes)
    if refused:
        caps = sorted({service.field_capability(camera, f) for f in refused})
        return jsonify({"error": "Forbidden", "fields": refused, "message":
                        f"you ({user.role}) may not edit {', '.join(refused)} of this camera "
                        f"(needs {' / '.join(caps)}); nothing was changed"}), 403
    try:
        camera = history.update_camera(s, device_id, changes, expected_version=version, actor=user.username,
                                       **registry_options(s, web.settings()))
    except Conflict as exc:
        return _stale(device_id, user, {"version": version, **changes}, exc)
    s.commit()
    return jsonify(record(camera, user))


@bp.post("/api/cameras/<device_id>/status")
@capability_required("camera.status")
def api_status(device_id: str):
    s, user = web.db_session(), current_user()
    p = Params(web.json_body())
    status = p.choice("status", set(STATUSES))
    if status is None and not p.errors:
        p.bad("status", f"is required: one of {', '.join(STATUSES)}")
    reason = p.text("reason", max_len=REASON_MAX, multiline=True, required=True)
    version = _version(p)
    p.done()
    current = service.visible_camera(s, device_id, user)
    for capability in service.status_capabilities(current):  # a planned camera's: camera.plan too
        require(user, capability)
    try:
        camera = history.set_status(s, device_id, status, user.username, note=reason, expected_version=version,
                                    centre=web.settings().district.camera_centre_code)
    except Conflict as exc:
        return _stale(device_id, user, {"version": version, "status": status, "reason": reason}, exc)
    s.commit()
    return jsonify(record(camera, user))


@bp.post("/api/cameras/<device_id>/retire")
@capability_required("camera.retire")
def api_retire(device_id: str):
    s, user = web.db_session(), current_user()
    p = Params(web.json_body())
    reason = p.text("reason", max_len=REASON_MAX, multiline=True, required=True)
    version = _version(p)
    p.done()
    service.visible_camera(s, device_id, user)
    try:
        camera = history.retire_camera(s, device_id, user.username, reason, expected_version=version)
    except Conflict as exc:
        return _stale(device_id, user, {"version": version, "lifecycle": "retired", "reason": reason}, exc)
    s.commit()
    return jsonify(record(camera, user))


@bp.post("/api/cameras")
@capability_required("camera.add")
def api_add():
    s, user = web.db_session(), current_user()
    payload = web.json_body()
    p = Params(payload)
    values = _values(p, payload, ("device_id", *history.RECORD_FIELDS, "lon", "lat"))
    p.done()
    camera = history.add_camera(s, values, actor=user.username, **registry_options(s, web.settings()))
    s.commit()
    return jsonify(record(camera, user)), 201, {"Location": url_for("cameras.camera", device_id=camera.device_id)}

