"""Routes of the OGC API – Features under ``/ogc``: each checks the caller, reads its parameters and hands
the work to ``app.ogc.service`` / ``app.ogc.documents``; errors are written by ``app.ogc.errors``.

Read-only: every route answers GET (and HEAD, OPTIONS); a cookie request keeps the CSRF rules.
"""
from __future__ import annotations

import json
from urllib.parse import quote

from flask import Blueprint, Response, render_template, request

from app import web
from app.accounts.credentials import request_user
from app.i18n import current_language
from app.ogc import collections as cols, crs as crs_mod, documents as docs, params, service
from gis.errors import Forbidden, InvalidData

bp = Blueprint("ogc", __name__, url_prefix="/ogc")


def _base() -> str:
    return request.url_root.rstrip("/") + bp.url_prefix


def _lang() -> str:
    return current_language(web.settings().language)


def _json(doc, mimetype: str = docs.JSON, headers: dict | None = None) -> Response:
    body = doc if isinstance(doc, str) else docs.dumps(doc)
    return Response(body, mimetype=mimetype, headers=headers or {})


def _only(*allowed: str) -> None:
    """Refuse parameters a document does not take (``f`` and ``lang`` everywhere)."""
    params.check_text(request.args)
    unknown = sorted(set(request.args.keys()) - {"f", "lang", *allowed})
    if unknown:
        raise InvalidData(f"{unknown[0][:100]}: unknown parameter here")


def _format() -> str:
    return params.format_param(request.args, request.accept_mimetypes)


def _collection(collection_id: str, user) -> cols.Collection:
    c = cols.get(collection_id)
    if not cols.readable(user, c):
        raise Forbidden(f"collection: {c.id} is for {', '.join(c.readers)}; you are {user.role}")
    return c


def _page(kind: str, title: str, doc: dict, *, shown_crs: crs_mod.Crs | None = None, **context) -> str:
    """A document as HTML; items and a feature also go to the page's map (lon/lat only: in another CRS
    the page shows the table and no map)."""
    features = doc.get("features", []) if kind == "items" else [doc] if kind == "item" else []
    js = {"features": features if shown_crs is crs_mod.CRS84 else [], "lonlat": shown_crs is crs_mod.CRS84}
    return render_template("ogc/page.html", kind=kind, title=title, doc=doc, lang=_lang(), js=js,
                           js_messages=("@ogc",), **context)


@bp.get("/")
def landing():
    request_user()
    _only()
    doc = docs.landing(_base(), f"gridwatch · {web.district().name}")
    return _page("landing", doc["title"], doc) if _format() == "html" else _json(doc)


@bp.get("/conformance")
def conformance():
    request_user()
    _only()
    doc = {"conformsTo": docs.conformance_classes()}
    return _page("conformance", "Conformance", doc) if _format() == "html" else _json(doc)


@bp.get("/api")
def api():
    request_user()
    _only()
    from app.ogc.openapi import document

    return _json(document(_base(), web.read_session(), request_user()), docs.OPENAPI)


@bp.get("/api.html")
def api_html():
    request_user()
    _only()
    from app.ogc.openapi import document

    return _page("api", "API", document(_base(), web.read_session(), request_user()))


@bp.get("/collections")
def collections():
    user = request_user()
    _only()
    shown = [c for c in cols.COLLECTIONS.values() if cols.readable(user, c)]
    s, tz = web.read_session(), web.district().tz
    doc = docs.collections(_base(), shown, service.district_extent(s), _lang(),
                           {c.id: service.temporal_extent(s, c, tz) for c in shown})
    return _page("collections", "Collections", doc) if _format() == "html" else _json(doc)


@bp.get("/collections/<collection_id>")
def collection(collection_id: str):
    c = _collection(collection_id, request_user())
    _only()
    s = web.read_session()
    doc = docs.collection(_base(), c, service.district_extent(s), _lang(),
                          service.temporal_extent(s, c, web.district().tz))
    return _page("collection", doc["title"], doc) if _format() == "html" else _json(doc)


@bp.get("/collections/<collection_id>/queryables")
def queryables(collection_id: str):
    c = _collection(collection_id, request_user())
    _only()
    doc = docs.queryables(_base(), c, cols.queryables(web.read_session(), c), _lang())
    if _format() == "html":
        return _page("queryables", c.title(_lang()), doc, collection=c)
    return _json(doc, docs.SCHEMA_JSON)


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str):
    user = request_user()
    c = _collection(collection_id, user)
    s, st = web.read_session(), web.settings()
    names = {n for n, _t in cols.properties(s, c)}
    q = params.items_query(request.args, names, web.district().tz)
    fmt = _format()
    page = service.items(s, st, user, c, q)
    args = {k: v for k, v in request.args.items()}
    links = docs.page_links(_base(), c, args, q.offset, q.limit, page.matched, page.returned)
    body = docs.items_text(page.features, links, page.matched, page.returned)
    headers = crs_mod.content_crs_header(q.crs)
    if fmt == "html":
        return _page("items", c.title(_lang()), json.loads(body), shown_crs=q.crs, collection=c), 200, headers
    return _json(body, docs.GEOJSON, headers)


@bp.get("/collections/<collection_id>/items/<feature_id>")
def item(collection_id: str, feature_id: str):
    user = request_user()
    c = _collection(collection_id, user)
    _only("crs")
    crs = crs_mod.parse(request.args.get("crs"), "crs")
    fmt = _format()
    text = service.feature(web.read_session(), web.settings(), user, c, feature_id, crs)
    doc = json.loads(text)
    doc["links"] = [{"href": f"{_base()}/collections/{c.id}/items/{quote(feature_id, safe='')}", "rel": "self",
                     "type": docs.GEOJSON},
                    {"href": f"{_base()}/collections/{c.id}", "rel": "collection", "type": docs.JSON}]
    headers = crs_mod.content_crs_header(crs)
    if fmt == "html":
        return _page("item", c.title(_lang()), doc, shown_crs=crs, collection=c), 200, headers
    return _json(doc, docs.GEOJSON, headers)
