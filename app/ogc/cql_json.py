"""CQL2-JSON (OGC 21-065, ``filter-lang=cql2-json``) parsed into the tree of :mod:`app.ogc.cql_text`.

The same tree as CQL2-text gives, so :mod:`app.ogc.cql` compiles both the same way: ``{"op": "and",
"args": […]}``, ``{"property": "name"}``, ``{"date": …}``, ``{"timestamp": …}``, ``{"interval": [a, b]}``,
``{"bbox": […]}``, GeoJSON geometries, and the operators ``= <> < > <= >= like between in isNull not casei``,
``s_…`` and ``t_…``. ``not`` around ``like``/``between``/``in``/``isNull`` is folded into that predicate as
``NOT LIKE`` … is in the text. Errors name the place in the document (``args[1].args[0]``) and what was
expected; the limits are the text parser's (length, nesting, number range).
"""
from __future__ import annotations

import dataclasses
import json

import shapely
import shapely.geometry

from app.ogc import cql_text as t
from gis.errors import InvalidData

_CMP = {op: op for op in t.COMPARISONS}
_SPATIAL = {n.lower(): n for n in t.SPATIAL_FUNCTIONS}
_TEMPORAL = {n.lower(): n for n in t.TEMPORAL_FUNCTIONS}
_PREDICATES = ("like", "between", "in", "isNull")
#: every ``op`` this parser knows (what the unknown-operator error lists)
OPS = ("and", "or", "not", *t.COMPARISONS, *_PREDICATES, "casei", *_SPATIAL, *_TEMPORAL)
_GEOJSON = ("Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection")


def _fail(path: str, what: str) -> InvalidData:
    return InvalidData(f"filter: at {path or 'the top'}: {what}")


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def parse(text: str):
    """CQL2-JSON text → tree; :class:`InvalidData` naming where and why on any error."""
    if len(text) > t.MAX_LENGTH:
        raise InvalidData(f"filter: is {len(text)} characters long; at most {t.MAX_LENGTH} allowed")
    if not text.strip():
        raise InvalidData("filter: is empty")
    try:
        doc = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise InvalidData(f"filter: nested deeper than {t.MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise InvalidData(f"filter: not JSON (filter-lang=cql2-json): {exc}") from None
    return _Reader().boolean(doc, "", 0)


class _Reader:
    def _deep(self, path: str, depth: int) -> int:
        if depth > t.MAX_DEPTH:
            raise _fail(path, f"nested deeper than {t.MAX_DEPTH} levels")
        return depth + 1

    def _op(self, node, path: str) -> tuple[str, list]:
        if not isinstance(node, dict) or "op" not in node:
            raise _fail(path, "expected an operation {\"op\": …, \"args\": […]}")
        op, args = node["op"], node.get("args")
        if not isinstance(op, str) or op not in OPS:
            raise _fail(path, f"unknown op {str(op)[:40]!r}; known: {', '.join(OPS)}")
        if not isinstance(args, list):
            raise _fail(path, f"{op}: expected \"args\": […]")
        return op, args

    def _arity(self, op: str, args: list, n: int, path: str) -> None:
        if len(args) != n:
            raise _fail(path, f"{op} takes {n} argument{'s' if n > 1 else ''}, not {len(args)}")

    def boolean(self, node, path: str, depth: int):
        depth = self._deep(path, depth)
        if isinstance(node, bool):
            return t.Lit(node, "boolean", 0)
        op, args = self._op(node, path)
        at = [f"{path}.args[{i}]" if path else f"args[{i}]" for i in range(len(args))]
        if op in ("and", "or"):
            if len(args) < 2:
                raise _fail(path, f"{op} takes at least 2 arguments, not {len(args)}")
            return t.BoolOp(op.upper(), tuple(self.boolean(a, p, depth) for a, p in zip(args, at)))
        if op == "not":
            self._arity(op, args, 1, path)
            inner = self.boolean(args[0], at[0], depth)
            if isinstance(inner, (t.Like, t.Between, t.In, t.IsNull)) and not inner.negated:
                return dataclasses.replace(inner, negated=True)  # NOT LIKE …, as the text writes it
            return t.Not(inner)
        if op in _CMP:
            self._arity(op, args, 2, path)
            return t.Cmp(op, self.scalar(args[0], at[0], depth), self.scalar(args[1], at[1], depth), 0)
        if op == "like":
            self._arity(op, args, 2, path)
            return t.Like(self.scalar(args[0], at[0], depth), self.scalar(args[1], at[1], depth), False, 0)
        if op == "between":
            self._arity(op, args, 3, path)
            return t.Between(*(self.scalar(a, p, depth) for a, p in zip(args, at)), False, 0)
        if op == "in":
            self._arity(op, args, 2, path)
            if not isinstance(args[1], list) or not args[1]:
                raise _fail(at[1], "in: expected a non-empty list of values")
            items = tuple(self.scalar(v, f"{at[1]}[{i}]", depth) for i, v in enumerate(args[1]))
            return t.In(self.scalar(args[0], at[0], depth), items, False, 0)
        if op == "isNull":
            self._arity(op, args, 1, path)
            return t.IsNull(self.scalar(args[0], at[0], depth), False, 0)
        if op in _SPATIAL or op in _TEMPORAL:
            self._arity(op, args, 2, path)
            cls, name = (t.Spatial, _SPATIAL[op]) if op in _SPATIAL else (t.Temporal, _TEMPORAL[op])
            return cls(name, self.scalar(args[0], at[0], depth), self.scalar(args[1], at[1], depth), 0)
        raise _fail(path, f"{op} is a value, not a condition")

    def scalar(self, node, path: str, depth: int):
        depth = self._deep(path, depth)
        if isinstance(node, bool):
            return t.Lit(node, "boolean", 0)
        if isinstance(node, str):
            return t.Lit(node, "string", 0)
        if isinstance(node, (int, float)):
            return t.Lit(self.number(node, path), "number", 0)
        if not isinstance(node, dict):
            raise _fail(path, "expected a property, a value or a function")
        if "property" in node:
            name = node["property"]
            if not isinstance(name, str) or not name:
                raise _fail(path, "property: expected a name")
            return t.Prop(name, 0)
        if "date" in node or "timestamp" in node:
            kind = "DATE" if "date" in node else "TIMESTAMP"
            raw = node[kind.lower()]
            if not isinstance(raw, str):
                raise _fail(path, f"{kind.lower()}: expected a string")
            return t.Lit(self.instant(raw, kind, path), "date" if kind == "DATE" else "datetime", 0)
        if "interval" in node:
            ends = node["interval"]
            if not isinstance(ends, list) or len(ends) != 2:
                raise _fail(path, "interval: expected [start, end]")
            return t.Interval(*(self.interval_end(e, f"{path}.interval[{i}]", depth) for i, e in enumerate(ends)), 0)
        if "bbox" in node:
            return t.Lit(self.bbox(node["bbox"], path), "geometry", 0)
        if node.get("type") in _GEOJSON:
            try:
                return t.Lit(shapely.geometry.shape(node), "geometry", 0)
            except (KeyError, TypeError, ValueError, IndexError, shapely.errors.ShapelyError) as exc:
                raise _fail(path, f"not a valid GeoJSON geometry: {str(exc).splitlines()[0] if str(exc) else exc!r}"
                            ) from None
        if "op" in node:
            op, args = self._op(node, path)
            if op != "casei":
                raise _fail(path, f"{op} is a condition, not a value")
            self._arity(op, args, 1, path)
            return t.Func("CASEI", (self.scalar(args[0], f"{path}.args[0]", depth),), 0)
        raise _fail(path, "expected a property, a value or a function")

    def instant(self, raw: str, kind: str, path: str):
        try:
            return t.parse_instant(raw, kind)
        except InvalidData as exc:
            raise _fail(path, str(exc).split(": ", 2)[-1]) from None

    def interval_end(self, node, path: str, depth: int):
        if isinstance(node, str):
            if node == "..":
                return t.Lit(None, "open", 0)
            kind = "TIMESTAMP" if ("T" in node or " " in node) else "DATE"
            return t.Lit(self.instant(node, kind, path), "datetime" if kind == "TIMESTAMP" else "date", 0)
        end = self.scalar(node, path, depth)
        if isinstance(end, t.Lit) and end.type not in ("date", "datetime"):
            raise _fail(path, "an interval end is a date, a timestamp, '..' or a property")
        return end

    def number(self, value, path: str):
        if t.number_in_range(value):
            return value
        shown = str(value)
        raise _fail(path, f"number {shown[:27] + '…' if len(shown) > 30 else shown} is out of range "
                    f"({t.NUMBER_RULE})")

    def bbox(self, nums, path: str):
        if not isinstance(nums, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                 for v in nums):
            raise _fail(path, "bbox: expected 4 (or 6) numbers")
        try:
            return t.bbox_literal([float(self.number(v, path)) for v in nums])
        except ValueError as exc:
            raise _fail(path, str(exc)) from None
