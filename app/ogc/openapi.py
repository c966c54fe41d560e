"""The OpenAPI 3.0 document of the OGC API (``/ogc/api``), built from the same collection registry,
queryables and parameter limits the routes use, so the document cannot drift from the server.

Each collection the caller may read has its own paths (as pygeoapi writes them), so its property filters
appear as typed query parameters (with their code lists); a collection the caller may not read is not in
the caller's document, as it is not in ``/collections``.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from app.ogc import collections as cols, crs as crs_mod, documents as docs, params

_ERROR = {"$ref": "#/components/responses/Error"}
_ERRORS = {"400": _ERROR, "401": _ERROR, "403": _ERROR, "404": _ERROR, "429": _ERROR}
_F = {"name": "f", "in": "query", "required": False, "schema": {"type": "string", "enum": ["json", "html"]},
      "description": "the format (else the Accept header decides)"}
_CRS_ENUM = [c.uri for c in crs_mod.SUPPORTED]
_JSON_TYPES = {"string": {"type": "string"}, "integer": {"type": "integer"}, "number": {"type": "number"},
               "boolean": {"type": "boolean", "enum": ["true", "false"]},
               "date": {"type": "string", "format": "date"}, "datetime": {"type": "string", "format": "date-time"}}


def _ok(*types: str, schema: str = "Document") -> dict:
    content = {t: {"schema": {"$ref": f"#/components/schemas/{schema}"}} for t in types}
    if "text/html" in content:
        content["text/html"] = {"schema": {"type": "string"}}
    return {"200": {"description": "OK", "content": content}, **_ERRORS}


def _get(summary: str, parameters: list, responses: dict, op_id: str) -> dict:
    return {"get": {"summary": summary, "operationId": op_id, "parameters": [_F] + parameters,
                    "responses": responses}}


def _items_parameters(queryables) -> list[dict]:
    out = [
        {"name": "limit", "in": "query", "required": False, "style": "form", "explode": False,
         "description": f"features per page (default {params.LIMIT_DEFAULT}; more than {params.LIMIT_MAX} is "
                        f"served as {params.LIMIT_MAX})",
         "schema": {"type": "integer", "minimum": 1, "default": params.LIMIT_DEFAULT}},
        {"name": "offset", "in": "query", "required": False, "description": "features to skip (the next link's)",
         "schema": {"type": "integer", "minimum": 0, "maximum": params.OFFSET_MAX, "default": 0}},
        {"name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
         "description": "minx,miny,maxx,maxy (or 6 numbers) in bbox-crs axis order",
         "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}},
        {"name": "bbox-crs", "in": "query", "required": False, "schema": {"type": "string", "enum": _CRS_ENUM}},
        {"name": "crs", "in": "query", "required": False, "schema": {"type": "string", "enum": _CRS_ENUM}},
        {"name": "datetime", "in": "query", "required": False, "style": "form", "explode": False,
         "description": "an RFC 3339 instant, a date, or an interval a/b ('..' open)", "schema": {"type": "string"}},
        {"name": "filter", "in": "query", "required": False, "description": "a CQL2 filter: CQL2-text, or CQL2-JSON with filter-lang=cql2-json",
         "schema": {"type": "string"}},
        {"name": "filter-lang", "in": "query", "required": False,
         "schema": {"type": "string", "enum": list(params.FILTER_LANGS)}},
        {"name": "filter-crs", "in": "query", "required": False, "schema": {"type": "string", "enum": _CRS_ENUM}},
    ]
    for q in queryables:
        if q.type == "geometry":
            continue
        schema = dict(_JSON_TYPES[q.type])
        if q.enum is not None:
            schema["enum"] = [str(v) for v in q.enum]
        out.append({"name": q.name, "in": "query", "required": False, "schema": schema,
                    "description": f"features whose {q.name} equals this"})
    return out


def _collection_paths(s: Session, c: cols.Collection) -> dict:
    base = f"/collections/{c.id}"
    fid = {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}}
    crs = {"name": "crs", "in": "query", "required": False, "schema": {"type": "string", "enum": _CRS_ENUM}}
    return {
        base: _get(f"{c.title_en}: the collection", [], _ok(docs.JSON, "text/html"), f"collection_{c.id}"),
        f"{base}/queryables": _get(f"{c.title_en}: what it may be filtered on", [],
                                   _ok(docs.SCHEMA_JSON, "text/html"), f"queryables_{c.id}"),
        f"{base}/items": _get(f"{c.title_en}: features", _items_parameters(cols.queryables(s, c)),
                              _ok(docs.GEOJSON, "text/html", schema="FeatureCollection"), f"items_{c.id}"),
        f"{base}/items/{{featureId}}": _get(f"{c.title_en}: one feature", [fid, crs],
                                            _ok(docs.GEOJSON, "text/html", schema="Feature"), f"item_{c.id}"),
    }


def document(base: str, s: Session, user=None) -> dict:
    """The OpenAPI 3.0 document for ``user`` (the collections it may read; all when None)."""
    paths = {
        "/": _get("landing page", [], _ok(docs.JSON, "text/html"), "landing"),
        "/conformance": _get("conformance classes", [], _ok(docs.JSON, "text/html"), "conformance"),
        "/collections": _get("the collections", [], _ok(docs.JSON, "text/html"), "collections"),
    }
    for c in cols.COLLECTIONS.values():
        if user is None or cols.readable(user, c):
            paths.update(_collection_paths(s, c))
    return {
        "openapi": "3.0.3",
        "info": {"title": "gridwatch OGC API – Features", "version": "1.0.0",
                 "description": "Every gridwatch layer for QGIS, OWSLib and GDAL (see docs/ogc.md). "
                                "Authenticate with an API key (Authorization: Bearer, X-API-Key), HTTP Basic "
                                "with an account, or a session cookie."},
        "servers": [{"url": base}],
        "security": [{"basic": []}, {"bearer": []}, {"apiKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"},
                                "bearer": {"type": "http", "scheme": "bearer"},
                                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
            "schemas": {
                "Document": {"type": "object"},
                "Exception": {"type": "object", "required": ["code"],
                              "properties": {"code": {"type": "string"}, "description": {"type": "string"}}},
                "Feature": {"type": "object", "required": ["type", "geometry", "properties"],
                            "properties": {"type": {"type": "string", "enum": ["Feature"]},
                                           "geometry": {"type": "object", "nullable": True},
                                           "properties": {"type": "object", "nullable": True}}},
                "FeatureCollection": {"type": "object", "required": ["type", "features"],
                                      "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                                                     "features": {"type": "array",
                                                                  "items": {"$ref": "#/components/schemas/Feature"}},
                                                     "numberMatched": {"type": "integer", "minimum": 0},
                                                     "numberReturned": {"type": "integer", "minimum": 0},
                                                     "timeStamp": {"type": "string", "format": "date-time"}}}},
            "responses": {"Error": {
                "description": "an error (the parameter it names)",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Exception"}},
                            "text/html": {"schema": {"type": "string"}}}}},
        },
    }
