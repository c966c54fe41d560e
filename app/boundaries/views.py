"""Grid boundary upload (网格边界上传), capability ``grid.boundary``.

- ``GET /grids/upload``: the form (file, its CRS, the scope: the whole layer or one community, repair
  with a tolerance);
- ``POST /grids/upload``: keeps the file (``app.uploads``, sub-folder ``boundaries``), runs the dry run
  and → 303 to
- ``GET /grids/upload/<token>``: the topology report on a map and the preview of what changes (grids
  added, removed, reshaped, renamed; incidents and cameras that change grid), or the commit's result;
- ``POST /grids/upload/<token>/commit``: writes it (refused with 409 when the grids changed since the
  preview, or a grid to remove has members), re-geocodes, → 303 to the result;
- ``POST /grids/upload/<token>/cancel``: forgets the file, → 303 to the form.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from sqlalchemy import text

from app import web
from app.accounts.auth import current_user
from app.accounts.capabilities import capability_required
from app.boundaries import preview
from app.dashboards.params import Params
from app.grids import service
from app.layers_db import read_layer
from app.uploads import Upload, UploadStore
from gis.crs import CRS_CHOICES, parse_crs
from gis.errors import Conflict, InvalidData, RowError

bp = Blueprint("boundaries", __name__)

#: repair tolerances the page accepts (m): wider "repairs" would move real boundaries, not fix drawing slips
TOLERANCE_M = (0.01, 10.0)
CRS_MAX = 40
#: what the form's scope radio says: the whole layer, or the community chosen beside it
SCOPE_KINDS = ("layer", "community")
#: the grid layer files an upload may be: GeoJSON, GeoPackage, a zipped Shapefile (the readers of gis.io)
SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")


def upload_store(settings) -> UploadStore:
    """The boundary uploads (``<var>/uploads/boundaries/``)."""
    return UploadStore(settings.var_path, "boundaries", SUFFIXES, what="a grid layer")


def _communities() -> list[dict]:
    rows = web.db_session().execute(text(
        "SELECT c.code, c.name, s.name FROM communities c JOIN streets s ON s.code = c.street_code "
        "ORDER BY s.name, c.name, c.code")).all()
    return [{"code": c, "name": n, "street": st} for c, n, st in rows]


def _page(template: str, status: int = 200, **context):
    st = web.settings()
    from layers.base import basemap_url

    tiles = basemap_url(st.basemap, st.tianditu_key)
    data = {**context.pop("js", {}), "styles": preview.STYLES, "problem_colours": preview.PROBLEM_COLOURS,
            "bbox": list(web.district().bbox),
            "basemap": None if tiles is None else {"url": tiles[0], "attribution": tiles[1]}}
    return render_template(template, page="boundaries", js=data, js_messages=["@boundaries"],
                           layer_scope=service.LAYER, suffixes=SUFFIXES, crs_choices=CRS_CHOICES,
                           tolerance=TOLERANCE_M, default_tolerance=service.REPAIR_TOLERANCE_M,
                           max_mb=(current_app.config.get("MAX_CONTENT_LENGTH") or 0) // 1048576,
                           grids_url=_grids_url(), **context), status


def _grids_url() -> str | None:
    """``/grids`` (the grid list's page), when it is served."""
    for rule in current_app.url_map.iter_rules():
        if rule.rule == "/grids" and "GET" in (rule.methods or ()):
            return url_for(rule.endpoint)
    return None


def _form(status: int = 200, *, form: dict | None = None, errors=(), cancelled: bool = False):
    return _page("boundaries/upload.html", status, form=form or {}, form_errors=list(errors),
                 communities=_communities(), cancelled=cancelled)


def _options(p: Params, communities: list[dict]) -> dict:
    """The form's options, checked (each bad one recorded on ``p``): ``scope`` is :data:`service.LAYER`
    (``scope_kind=layer``) or the code of the chosen ``community`` (``scope_kind=community``)."""
    kind = p.choice("scope_kind", SCOPE_KINDS)
    if p.raw("scope_kind") is None:
        p.bad("scope_kind", f"is required: one of {', '.join(SCOPE_KINDS)}")
    community = p.choice("community", {c["code"] for c in communities})
    if kind == "community" and community is None and p.raw("community") is None:
        p.bad("community", "is required: choose the community whose grids the file holds")
    scope = service.LAYER if kind == "layer" else community
    crs = p.text("crs", max_len=CRS_MAX)
    if crs is not None:
        try:
            crs = parse_crs(crs)
        except InvalidData as exc:
            p.errors.extend(RowError(None, "crs", e.reason) for e in exc.errors)
            crs = None
    repair = p.choice("repair", ("1", "on"))
    tolerance = p.number("tolerance_m", lo=TOLERANCE_M[0], hi=TOLERANCE_M[1], what="a tolerance in metres")
    return {"scope": scope, "crs": crs, "repair": repair is not None,
            "tolerance_m": service.REPAIR_TOLERANCE_M if tolerance is None else tolerance}


@bp.get("/grids/upload")
@capability_required("grid.boundary")
def upload():
    upload_store(web.settings()).sweep()
    p = Params(request.args)
    cancelled = p.choice("cancelled", ("1",))
    # a grid's page links here with its community chosen (?community=<code>)
    community = p.choice("community", {c["code"] for c in _communities()})
    return _form(form={"community": community or ""}, cancelled=bool(cancelled) and not p.errors)


@bp.post("/grids/upload")
@capability_required("grid.boundary")
def upload_post():
    s, st, user = web.db_session(), web.settings(), current_user()
    store = upload_store(st)
    communities = _communities()
    p = Params(request.form)
    options = _options(p, communities)
    form = {k: request.form.get(k, "") for k in ("scope_kind", "community", "crs", "tolerance_m")}
    form["repair"] = options["repair"]
    sent = store.received(request.files, p.errors)
    if p.errors:
        return _form(422, form=form, errors=p.errors)
    up = store.save(user, sent.filename, sent.stream, options)
    stamp = service.layer_stamp(s)   # before the plan reads the layer: a change after it is caught at commit
    try:
        result = service.plan_import(s, up.path, crs=options["crs"], repair=options["repair"],
                                     tolerance_m=options["tolerance_m"], scope=options["scope"])
        service.simulate(s, result)
    except InvalidData as exc:
        store.drop(up.token)
        s.rollback()
        return _form(422, form=form, errors=exc.errors)
    s.rollback()   # the dry run wrote nothing that stays; end its transaction before answering
    data = _preview(result, st.basemap)
    store.put(up, "preview", data)
    store.update(up, stamp=stamp, committable=preview.committable(result),
                 previewed=datetime.now(timezone.utc).isoformat())
    return redirect(url_for("boundaries.upload_report", token=up.token), 303)


def _preview(result: service.ImportResult, basemap: str) -> dict:
    return {"summary": preview.summary(result), "problems": preview.problems(result), "changes": result.changes,
            "added": result.added, "removed": result.removed, "names": preview.grid_names(result),
            "reshaped": [vars(r) for r in result.reshaped], "renamed": [vars(r) for r in result.renamed],
            "holders": [vars(h) for h in result.holders], "moves": preview.moves(result),
            "map": preview.map_data(result, read_layer(web.db_session(), "communities"), basemap)}


def _report(up: Upload, status: int = 200, **extra):
    data = upload_store(web.settings()).get(up, "preview") or {}
    community = next((c for c in _communities() if c["code"] == up.meta.get("scope")), None)
    zone = ZoneInfo(web.district().timezone)
    return _page("boundaries/report.html", status, up=up, meta=up.meta, pv=data, community=community,
                 expires=up.expires, local=lambda t: t.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"), js={"map": data.get("map"), "committed": bool(up.meta.get("result"))}, **extra)


@bp.get("/grids/upload/<token>")
@capability_required("grid.boundary")
def upload_report(token: str):
    return _report(upload_store(web.settings()).load(current_user(), token))


@bp.post("/grids/upload/<token>/commit")
@capability_required("grid.boundary")
def upload_commit(token: str):
    s, user, store = web.db_session(), current_user(), upload_store(web.settings())
    up = store.load(user, token)
    meta = up.meta
    if meta.get("result") is not None:
        return redirect(url_for("boundaries.upload_report", token=token), 303)
    try:
        service.lock_grids(s)
        now = service.layer_stamp(s)
        if now != meta.get("stamp"):
            raise Conflict("the grids changed since this preview (the changes are listed below); upload the "
                           "file again to preview it against the layer as it is now")
        result = service.import_grids(s, up.path, crs=meta["crs"], repair=meta["repair"],
                                      tolerance_m=meta["tolerance_m"], scope=meta["scope"])
    except Conflict as exc:
        s.rollback()
        return _report(up, 409, conflict=str(exc), since=_changes_since(meta.get("previewed")))
    except InvalidData as exc:
        s.rollback()
        return _report(up, 422, commit_errors=exc.errors)
    s.commit()
    up = store.update(up, result={"added": result.inserted, "updated": result.updated,
                                 "removed": result.removed_count, "unchanged": result.unchanged,
                                 "incidents_moved": result.moved("incident"), "cameras_moved": result.moved("camera"),
                                 "at": datetime.now(timezone.utc).isoformat()})
    store.drop_file(up)
    return redirect(url_for("boundaries.upload_report", token=token), 303)


def _changes_since(previewed: str | None) -> list[dict]:
    """The grid changes recorded since the preview (the other version of the layer): who, when, what."""
    if not previewed:
        return []
    rows = web.db_session().execute(text(
        "SELECT actor, at, object_id, action FROM audit_log WHERE object_type = 'grid' AND at > :t "
        "ORDER BY at DESC, id DESC LIMIT 50"), {"t": datetime.fromisoformat(previewed)}).all()
    return [{"actor": a, "at": at, "code": c, "action": act} for a, at, c, act in rows]


@bp.post("/grids/upload/<token>/cancel")
@capability_required("grid.boundary")
def upload_cancel(token: str):
    store = upload_store(web.settings())
    store.drop(store.load(current_user(), token).token)
    return redirect(url_for("boundaries.upload", cancelled=1), 303)
