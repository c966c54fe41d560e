"""Camera files in the browser: upload with a dry run, then commit or cancel; export of the list's selection;
the map editor's frame.

``GET /cameras/upload`` (the form), ``POST /cameras/upload`` (store, dry run, → the report page),
``GET /cameras/upload/<token>`` (the dry run's report, or the commit's result), ``POST …/<token>/commit``,
``POST …/<token>/cancel``: capability ``camera.import``. ``GET /cameras/export.<fmt>`` (csv, xlsx, geojson,
gpkg; the list's query parameters): ``camera.export``. ``GET /api/camera-map/frame?lon=&lat=`` (display
coordinates; the map editor's local frame and the view-sector constants): ``camera.read``.
"""
from __future__ import annotations

import tempfile
from datetime import datetime

from flask import Blueprint, current_app, redirect, render_template, request, send_file, url_for
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from app import web
from app.accounts.capabilities import capability_required
from app.accounts.auth import current_user
from app.camera_files import service
from app.dashboards.params import Params, parse_spot
from app.i18n import current_language, translate
from gis.errors import ON_ERROR, Conflict, InvalidData, RowError

bp = Blueprint("camera_files", __name__)

#: the export's header choice: the registry's field names (what the CLI writes) or the Chinese headers
EXPORT_HEADERS = ("field", "zh")


def _store():
    return service.upload_store(web.settings())


def _t(key: str, **values) -> str:
    return translate(key, current_language(web.settings().language), **values)


def list_url() -> str | None:
    """The camera list's URL (``/cameras``, H1's page), when it is served."""
    for rule in current_app.url_map.iter_rules():
        if rule.rule == "/cameras" and "GET" in (rule.methods or ()):
            return url_for(rule.endpoint)
    return None


def _page(template: str, status: int = 200, **context):
    data = {"max_bytes": current_app.config.get("MAX_CONTENT_LENGTH"), "suffixes": list(service.UPLOAD_SUFFIXES)}
    return render_template(template, page="cameras", js=data, js_messages=["@camera_files"],
                           crs_choices=service.UPLOAD_CRS, on_error_choices=ON_ERROR, suffixes=service.UPLOAD_SUFFIXES,
                           field_title=lambda f: service.field_title(f, _t), list_url=list_url(), **context), status


@bp.get("/cameras/upload")
@capability_required("camera.import")
def upload_form():
    _store().sweep()
    p = Params(request.args)
    cancelled = p.choice("cancelled", ("1",))
    return _page("cameras/upload.html", cancelled=bool(cancelled) and not p.errors, form={}, form_errors=[])


@bp.post("/cameras/upload")
@capability_required("camera.import")
def upload_post():
    user, store = current_user(), _store()
    store.sweep()
    p = Params(request.form)
    on_error = p.choice("on_error", ON_ERROR, default="reject")
    form = {"crs": request.form.get("crs", ""), "on_error": on_error or "reject"}
    crs = None
    try:
        crs = service.upload_crs(request.form.get("crs"))
    except InvalidData as exc:
        p.errors.extend(exc.errors)
    sent = store.received(request.files, p.errors)
    if p.errors:
        return _page("cameras/upload.html", 422, form=form, form_errors=p.errors, cancelled=False)
    up = store.save(user, sent.filename, sent.stream, {"crs": crs, "on_error": on_error})
    store.put(up, "dry_run", service.dry_run(web.db_session(), up, web.settings(), actor=user.username))
    return redirect(url_for("camera_files.upload_report", token=up.token), 303)


def _report_page(up, status: int = 200, **extra):
    return _page("cameras/upload_report.html", status, up=up, report=_store().get(up, "dry_run") or {},
                 created=up.created.astimezone(), **extra)


@bp.get("/cameras/upload/<token>")
@capability_required("camera.import")
def upload_report(token: str):
    return _report_page(_store().load(current_user(), token))


@bp.post("/cameras/upload/<token>/commit")
@capability_required("camera.import")
def upload_commit(token: str):
    user, store = current_user(), _store()
    up = store.load(user, token)
    if up.get("result") is not None:
        return redirect(url_for("camera_files.upload_report", token=token), 303)
    p = Params(request.form)
    on_error = p.choice("on_error", ON_ERROR, default=up["on_error"])
    p.done()
    try:
        result = service.commit(web.db_session(), up, web.settings(), dry_run=store.get(up, "dry_run") or {},
                                actor=user.username, on_error=on_error)
    except service.NewBadRows as exc:
        return _report_page(up, 422, new_errors=exc.errors)
    except InvalidData as exc:
        return _report_page(up, 422, commit_errors=exc.errors)
    except Conflict as exc:
        return _report_page(up, 409, conflict=str(exc), conflict_cameras=getattr(exc, "cameras", []))
    store.drop_file(store.update(up, result=result))
    return redirect(url_for("camera_files.upload_report", token=token), 303)


@bp.post("/cameras/upload/<token>/cancel")
@capability_required("camera.import")
def upload_cancel(token: str):
    store = _store()
    store.drop(store.load(current_user(), token).token)
    return redirect(url_for("camera_files.upload_form", cancelled=1), 303)


@bp.get("/cameras/export.<fmt>")
@capability_required("camera.export")
def export(fmt: str):
    """The list's current selection (its filter parameters, ``app.cameras.service.parse_filters``) as a file."""
    from app.cameras.service import filtered_ids, parse_filters

    if fmt not in service.EXPORT_FORMATS:
        raise InvalidData(RowError(None, "format", f"{fmt!r} is not one of {', '.join(service.EXPORT_FORMATS)}"))
    args = request.args.copy()
    p = Params(args)
    headers = p.choice("headers", EXPORT_HEADERS, default="field")
    p.done()
    args.pop("headers", None)
    s = web.db_session()
    ids = filtered_ids(s, parse_filters(args), current_user())
    with tempfile.TemporaryDirectory() as tmp:
        path = service.export_file(s, fmt, list(ids), tmp, chinese_headers=headers == "zh")
        data = path.read_bytes()
    stamp = datetime.now().astimezone().strftime("%Y%m%d-%H%M")
    from io import BytesIO

    return send_file(BytesIO(data), mimetype=service.EXPORT_FORMATS[fmt][1], as_attachment=True,
                     download_name=f"cameras-{stamp}{service.EXPORT_FORMATS[fmt][0]}", max_age=0)


@bp.app_template_global()
def camera_map_messages() -> Markup:
    """The map editor's messages (``@camera_files``) in their own JSON block, which ``camera-map.js`` adds to
    the page's: the editor is included in H1's camera page, whose ``js_messages`` are the list's."""
    from app.messages.camera_files import MESSAGES
    from app.security import csp_nonce

    lang = current_language(web.settings().language)
    block = {k: translate(k, lang) for k in MESSAGES if k.startswith("cfile_map_")}
    return (Markup('<script type="application/json" id="gw-cam-map-messages" nonce="{}">').format(csp_nonce())
            + htmlsafe_json_dumps(block) + Markup("</script>"))


@bp.get("/api/camera-map/frame")
@capability_required("camera.read")
def map_frame():
    """``{lon, lat, east, north}`` at a display position (``lon``, ``lat``), plus the view-sector constants the
    map editor draws with (``gis.viewshed``): the cone the browser draws is the server's."""
    from gis import viewshed

    basemap = web.settings().basemap
    lon, lat = parse_spot(request.args, basemap=basemap)
    return {**service.map_frame(lon, lat, basemap),
            "arc_step_deg": viewshed.ARC_STEP_DEG, "dome_ptz_types": list(viewshed.DOME_PTZ_TYPES),
            "default_azimuth_deg": viewshed.DEFAULT_AZIMUTH_DEG, "default_fov_deg": viewshed.DEFAULT_FOV_DEG,
            "default_range_m": viewshed.DEFAULT_RANGE_M}
