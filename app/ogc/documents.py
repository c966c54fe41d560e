"""The JSON documents of the OGC API: landing page, conformance, collections, queryables, an items page.

Links are absolute, built from the ``base`` URL the view passes (``http://host/ogc``), so the documents
stay right behind a proxy that sets the host, and under a prefix.
"""
from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

from app.ogc import collections as cols, crs as crs_mod
from gis.geojson import collection_text

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA_JSON = "application/schema+json"
TRS = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"

_F1 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
_F2 = "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/"
_F3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
CONFORMANCE = (_F1 + "core", _F1 + "oas30", _F1 + "html", _F1 + "geojson", _F2 + "crs",
               _F3 + "queryables", _F3 + "queryables-query-parameters", _F3 + "filter", _F3 + "features-filter")


def conformance_classes() -> list[str]:
    """Ours, plus the CQL2 classes ``app.ogc.cql`` declares it implements (``CONFORMANCE``)."""
    from app.ogc import cql

    return list(CONFORMANCE) + [c for c in cql.CONFORMANCE if c not in CONFORMANCE]


def _link(href: str, rel: str, type_: str, title: str) -> dict:
    return {"href": href, "rel": rel, "type": type_, "title": title}


def landing(base: str, title: str) -> dict:
    return {"title": title, "description": "gridwatch layers as OGC API – Features (Parts 1, 2 and 3)",
            "links": [
                _link(f"{base}/?f=json", "self", JSON, "this document"),
                _link(f"{base}/?f=html", "alternate", HTML, "this document as HTML"),
                _link(f"{base}/api", "service-desc", OPENAPI, "the API definition (OpenAPI 3.0)"),
                _link(f"{base}/api.html", "service-doc", HTML, "the API documentation"),
                _link(f"{base}/conformance", "conformance", JSON, "conformance classes"),
                _link(f"{base}/conformance", "http://www.opengis.net/def/rel/ogc/1.0/conformance", JSON,
                      "conformance classes"),
                _link(f"{base}/collections", "data", JSON, "collections"),
                _link(f"{base}/collections", "http://www.opengis.net/def/rel/ogc/1.0/data", JSON, "collections")]}


def collection(base: str, c: cols.Collection, extent: list[float] | None, lang: str,
               interval: list[str | None] | None = None) -> dict:
    """``extent``: the district's bbox (CRS84); ``interval``: the collection's [first, last] time, or None."""
    href = f"{base}/collections/{c.id}"
    return {
        "id": c.id, "title": c.title(lang), "description": f"{c.description} Readers: {c.rule}.",
        "itemType": "feature",
        "extent": {"spatial": {"bbox": [extent] if extent else [[-180, -90, 180, 90]], "crs": crs_mod.OGC_CRS84},
                   "temporal": {"interval": [interval or [None, None]], "trs": TRS}},
        "crs": [x.uri for x in crs_mod.SUPPORTED], "storageCrs": crs_mod.STORAGE.uri,
        "links": [_link(href, "self", JSON, c.title(lang)),
                  _link(f"{href}?f=html", "alternate", HTML, c.title(lang)),
                  _link(f"{href}/items", "items", GEOJSON, "items as GeoJSON"),
                  _link(f"{href}/items?f=html", "items", HTML, "items as HTML"),
                  _link(f"{href}/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables", SCHEMA_JSON,
                        "queryables")]}


def collections(base: str, shown: list[cols.Collection], extent, lang: str, intervals: dict | None = None) -> dict:
    """``intervals``: collection id → its [first, last] time (see :func:`collection`)."""
    intervals = intervals or {}
    return {"links": [_link(f"{base}/collections", "self", JSON, "collections"),
                      _link(f"{base}/collections?f=html", "alternate", HTML, "collections as HTML")],
            "collections": [collection(base, c, extent, lang, intervals.get(c.id)) for c in shown],
            "crs": [x.uri for x in crs_mod.SUPPORTED]}


_SCHEMA_TYPES = {"string": {"type": "string"}, "integer": {"type": "integer"}, "number": {"type": "number"},
                 "boolean": {"type": "boolean"}, "date": {"type": "string", "format": "date"},
                 "datetime": {"type": "string", "format": "date-time"}}
_GEOMETRY = {"Point": "point", "LineString": "linestring", "Polygon": "polygon", "MultiPolygon": "multipolygon"}


def queryables(base: str, c: cols.Collection, found: list, lang: str) -> dict:
    props = {}
    for q in found:
        if q.type == "geometry":
            props[q.name] = {"title": q.title,
                             "format": f"geometry-{_GEOMETRY.get(c.geometry_type, 'any')}",
                             "x-ogc-role": "primary-geometry"}
            continue
        entry = {"title": q.title, **_SCHEMA_TYPES[q.type]}
        if q.enum is not None:
            entry["enum"] = list(q.enum)
        if q.name == c.id_column:
            entry["x-ogc-role"] = "id"
        props[q.name] = entry
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"{base}/collections/{c.id}/queryables",
            "type": "object", "title": c.title(lang), "properties": props, "additionalProperties": False}


def page_links(base: str, c: cols.Collection, args: dict, offset: int, limit: int, matched: int,
               returned: int) -> list[dict]:
    """self / alternate, and next / prev by ``offset`` (the other parameters kept as the client sent them)."""
    href = f"{base}/collections/{c.id}/items"

    def url(**changes) -> str:
        merged = {k: v for k, v in args.items() if k != "offset" and k != "f"}
        merged.update({k: v for k, v in changes.items() if v is not None})
        return f"{href}?{urlencode(merged)}" if merged else href

    links = [_link(url(offset=offset or None), "self", GEOJSON, "this page"),
             _link(url(offset=offset or None, f="html"), "alternate", HTML, "this page as HTML"),
             _link(f"{base}/collections/{c.id}", "collection", JSON, c.id)]
    if offset + returned < matched:
        links.append(_link(url(offset=offset + limit, limit=limit), "next", GEOJSON, "next page"))
    if offset > 0:
        links.append(_link(url(offset=max(0, offset - limit) or None, limit=limit), "prev", GEOJSON, "previous page"))
    return links


def items_text(features: str, links: list[dict], matched: int, returned: int) -> str:
    """The FeatureCollection text: PostgreSQL's features with the page's members."""
    stamp = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    extra = {"numberMatched": matched, "numberReturned": returned, "timeStamp": stamp, "links": links}
    return collection_text([features] if features else [], extra)


def dumps(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
