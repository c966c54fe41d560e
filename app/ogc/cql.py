"""CQL2 filters (OGC API – Features Part 3) compiled to a PostgreSQL/PostGIS boolean expression.

:func:`compile_filter` parses CQL2-text (``app.ogc.cql_text``) and translates the tree over a whitelist:
the only SQL it writes is a :class:`~app.ogc.queryables.Queryable`'s ``column`` (trusted text), operators,
the functions named in this module, and bind parameter names ``cql_0``, ``cql_1``, …; every literal, the
user's text, is a bound parameter. Types are checked against the queryables before any SQL is run, so a
client's mistake is an :class:`~gis.errors.InvalidData` (``filter: …``, naming the property), never a
database error.

Geometry literals are parsed with shapely, checked valid, and projected here (pyproj, through
``gis.crs``) from the filter's CRS to EPSG:4326, the CRS of every geometry queryable.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import shapely

from app.ogc import cql_text as t
from app.ogc.queryables import Queryable
from gis.crs import STORAGE_CRS, is_geographic, to_wgs84
from gis.errors import InvalidData

_CONF = "http://www.opengis.net/spec/cql2/1.0/conf/"
#: the CQL2 conformance classes this compiler implements (the OGC API's ``/conformance`` lists them)
CONFORMANCE: tuple[str, ...] = tuple(_CONF + c for c in (
    "cql2-text", "cql2-json", "basic-cql2", "advanced-comparison-operators", "case-insensitive-comparison",
    "basic-spatial-functions", "basic-spatial-functions-plus", "spatial-functions", "temporal-functions",
    "property-property"))
#: the ``filter-lang`` values accepted
FILTER_LANGS = ("cql2-text", "cql2-json")
DEFAULT_FILTER_LANG = FILTER_LANGS[0]  # without filter-lang

_SPATIAL_SQL = {"S_INTERSECTS": "ST_Intersects", "S_EQUALS": "ST_Equals", "S_DISJOINT": "ST_Disjoint",
                "S_TOUCHES": "ST_Touches", "S_WITHIN": "ST_Within", "S_OVERLAPS": "ST_Overlaps",
                "S_CROSSES": "ST_Crosses", "S_CONTAINS": "ST_Contains"}
# Allen's interval relations as the standard defines them, over (start, end) of a and b; an instant is
# an interval whose start is its end
_TEMPORAL = {
    "T_AFTER": "{as} > {be}",
    "T_BEFORE": "{ae} < {bs}",
    "T_CONTAINS": "{as} < {bs} AND {ae} > {be}",
    "T_DISJOINT": "({as} > {be} OR {ae} < {bs})",
    "T_DURING": "{as} > {bs} AND {ae} < {be}",
    "T_EQUALS": "{as} = {bs} AND {ae} = {be}",
    "T_FINISHEDBY": "{as} < {bs} AND {ae} = {be}",
    "T_FINISHES": "{as} > {bs} AND {ae} = {be}",
    "T_INTERSECTS": "{as} <= {be} AND {ae} >= {bs}",
    "T_MEETS": "{ae} = {bs}",
    "T_METBY": "{as} = {be}",
    "T_OVERLAPPEDBY": "{as} > {bs} AND {as} < {be} AND {ae} > {be}",
    "T_OVERLAPS": "{as} < {bs} AND {ae} > {bs} AND {ae} < {be}",
    "T_STARTEDBY": "{as} = {bs} AND {ae} > {be}",
    "T_STARTS": "{as} = {bs} AND {ae} < {be}",
}
assert set(_TEMPORAL) == set(t.TEMPORAL_FUNCTIONS) and set(_SPATIAL_SQL) == set(t.SPATIAL_FUNCTIONS)
# how a literal is typed when nothing beside it says (a literal compared with a literal)
_CASTS = {"string": "text", "number": "double precision", "boolean": "boolean", "date": "date",
          "datetime": "timestamptz"}
_NUMERIC = ("integer", "number")
_ORDERED = _NUMERIC + ("string", "date", "datetime")
_DENSIFY = {True: 0.0005, False: 50.0}  # segment length of a projected literal: degrees, metres
_MAX_SEGMENTS = 10_000  # densifying never makes more than about this many segments
_PROJECTED_LIMIT = 1e7  # metres: a projected literal's |x| and |y| beyond this are no place on Earth


@dataclass(frozen=True)
class _Expr:
    """An operand before it is written: a property's column or a literal's value (bound when written)."""

    type: str  # a queryables.TYPES value; "number" for any numeric literal
    prop: Queryable | None = None  # when it reads a property (directly or through CASEI)
    literal: bool = False
    value: object = None
    wrap: str = "{}"  # CASEI → "lower({})"

    @property
    def what(self) -> str:
        if self.prop:
            return f"property {self.prop.name!r}"
        if self.type == "geometry":
            return "the geometry"
        shown = self.value.isoformat() if hasattr(self.value, "isoformat") else self.value
        return repr(shown) if isinstance(shown, str) and self.type != "string" else repr(self.value)


def compile_filter(text: str, queryables: Mapping[str, Queryable], *, filter_srid: int = 4326,
                   swap_axes: bool = False, lang: str = DEFAULT_FILTER_LANG) -> tuple[str, dict]:
    """CQL2-text or CQL2-JSON → (SQL boolean expression with named bind parameters, the parameters).

    Parameters
    ----------
    text : str
        The ``filter`` parameter, CQL2-text.
    queryables : mapping of str to Queryable
        What may be filtered on, by name; their ``column`` is written into the SQL as is.
    filter_srid : int
        EPSG code of the geometry literals' CRS (``filter-crs``); 4326 is CRS84, lon/lat.
    swap_axes : bool
        The literals are in the CRS's own axis order with the first axis northing/latitude
        (EPSG:4326 and 4490 lat/lon, EPSG:4544 northing/easting): swap to x/y before projecting.
    lang : str
        ``filter-lang``: ``cql2-text`` (``app.ogc.cql_text``) or ``cql2-json`` (``app.ogc.cql_json``); both
        parse into the same tree.

    Returns
    -------
    (str, dict)
        SQL text with ``:cql_0``, ``:cql_1``, … and the values to bind to them.

    Raises
    ------
    InvalidData
        Any parse error, unknown property or function, or type mismatch; the message starts ``filter:``.
    """
    from app.ogc import cql_json

    if lang not in FILTER_LANGS:
        raise InvalidData(f"filter-lang: {str(lang)[:50]!r} is not supported; use {', '.join(FILTER_LANGS)}")
    raw = text if isinstance(text, str) else str(text)
    tree = cql_json.parse(raw) if lang == "cql2-json" else t.parse(raw)
    c = _Compiler(queryables, filter_srid, swap_axes)
    return c.boolean(tree), c.params


def _err(msg: str) -> InvalidData:
    return InvalidData(f"filter: {msg}")


class _Compiler:
    def __init__(self, queryables: Mapping[str, Queryable], srid: int, swap: bool):
        self.queryables = queryables
        self.srid = int(srid)
        self.swap = bool(swap)
        self.params: dict = {}

    def sql(self, e: _Expr, *, cast: bool = False) -> str:
        """Write an operand: a property's column, or a new bind parameter (typed in SQL with ``cast``)."""
        if not e.literal:
            inner = e.prop.column
        elif e.type == "geometry":
            inner = f"ST_GeomFromText({self.bind(e.value)}, 4326)"
        else:
            inner = self.bind(e.value)
            if cast:
                inner = f"CAST({inner} AS {_CASTS[e.type]})"
        return e.wrap.format(inner)

    def bind(self, value) -> str:
        name = f"cql_{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def all_sql(self, *exprs: _Expr) -> list[str]:
        """Write operands side by side; literals only beside literals get a SQL type (none to infer from)."""
        cast = all(e.literal for e in exprs)
        return [self.sql(e, cast=cast) for e in exprs]

    # -- predicates ------------------------------------------------------------------------
    def boolean(self, node) -> str:
        if isinstance(node, t.BoolOp):
            return "(" + f" {node.op} ".join(self.boolean(i) for i in node.items) + ")"
        if isinstance(node, t.Not):
            return f"(NOT {self.boolean(node.item)})"
        if isinstance(node, t.Lit):  # TRUE / FALSE on their own
            return self.sql(self.operand(node), cast=True)
        if isinstance(node, t.Cmp):
            return self.comparison(node)
        if isinstance(node, t.Like):
            return self.like(node)
        if isinstance(node, t.Between):
            return self.between(node)
        if isinstance(node, t.In):
            return self.in_list(node)
        if isinstance(node, t.IsNull):
            return f"({self.sql(self.operand(node.expr), cast=True)} IS {'NOT ' if node.negated else ''}NULL)"
        if isinstance(node, t.Spatial):
            a, b = self.geometry(node.lhs, node.name), self.geometry(node.rhs, node.name)
            return f"{_SPATIAL_SQL[node.name]}({self.sql(a)}, {self.sql(b)})"
        if isinstance(node, t.Temporal):
            return self.temporal(node)
        raise _err(f"cannot evaluate {type(node).__name__}")  # pragma: no cover - the parser makes no other

    def comparison(self, node: t.Cmp) -> str:
        a, b = self.pair(node.lhs, node.rhs)
        if node.op not in ("=", "<>") and a.type not in _ORDERED:
            raise _err(f"{(a if a.prop else b).what} is a {a.type}: only = and <> compare it")
        if node.op in ("=", "<>"):
            self.check_enum(a, [b])
            self.check_enum(b, [a])
        sa, sb = self.all_sql(a, b)
        return f"({sa} {node.op} {sb})"

    def like(self, node: t.Like) -> str:
        a, p = self.operand(node.expr), self.operand(node.pattern)
        if a.type != "string":
            raise _err(f"LIKE needs text; {a.what} is a {a.type}")
        if p.type != "string" or not p.literal:
            raise _err("the pattern after LIKE is a quoted text ('a%'), optionally in CASEI(…)")
        if (len(p.value) - len(p.value.rstrip("\\"))) % 2 == 1:
            raise _err(f"LIKE pattern {p.value!r} ends with the escape character \\")
        return f"({self.sql(a, cast=True)} {'NOT ' if node.negated else ''}LIKE {self.sql(p, cast=True)})"

    def between(self, node: t.Between) -> str:
        a = self.operand(node.expr)
        lo, hi = self.coerced(node.low, a), self.coerced(node.high, a)
        if a.type not in ("integer", "number", "date", "datetime"):
            raise _err(f"BETWEEN compares numbers, dates or timestamps; {a.what} is a {a.type}")
        for x in (lo, hi):
            self.compatible(a, x)
        sa, slo, shi = self.all_sql(a, lo, hi)
        return f"({sa} {'NOT ' if node.negated else ''}BETWEEN {slo} AND {shi})"

    def in_list(self, node: t.In) -> str:
        a = self.operand(node.expr)
        items = [self.coerced(i, a) for i in node.items]
        if a.type == "geometry":
            raise _err(f"{a.what} is a geometry: IN does not compare it; use S_EQUALS")
        for x in items:
            self.compatible(a, x)
        self.check_enum(a, items)
        sa, *sitems = self.all_sql(a, *items)
        return f"({sa} {'NOT ' if node.negated else ''}IN ({', '.join(sitems)}))"

    def temporal(self, node: t.Temporal) -> str:
        (a_s, a_e, at), (b_s, b_e, bt) = self.period(node.lhs, node.name), self.period(node.rhs, node.name)
        kinds = {at, bt} - {"open"}
        if len(kinds) > 1:
            raise _err(f"{node.name} compares a date with a timestamp; use DATE(…) for date properties and "
                       "TIMESTAMP(…) for timestamp properties")
        kind = kinds.pop() if kinds else "datetime"
        ends, written = [], []  # (operand, its SQL): an instant's start and end are one parameter
        for i, e in enumerate((a_s, a_e, b_s, b_e)):
            if e is None:  # '..': an open start or end
                e = _Expr(kind, literal=True, value="-infinity" if i % 2 == 0 else "infinity")
            done = next((sql for x, sql in written if x is e), None)
            if done is None:
                done = self.sql(e, cast=e.literal)
                written.append((e, done))
            ends.append(done)
        return "(" + _TEMPORAL[node.name].format(**dict(zip(("as", "ae", "bs", "be"), ends))) + ")"

    # -- operands --------------------------------------------------------------------------
    def operand(self, node) -> _Expr:
        """A value: a property (checked against the queryables) or a literal."""
        if isinstance(node, t.Prop):
            q = self.queryables.get(node.name)
            if q is None:
                raise _err(f"unknown property {node.name!r}; queryables: {', '.join(sorted(self.queryables))}")
            return _Expr(q.type, prop=q)
        if isinstance(node, t.Func):  # CASEI, the only scalar function: unwrapped in a loop, not recursion
            nested = 0
            while isinstance(node, t.Func):
                node, nested = node.args[0], nested + 1
                if nested > t.MAX_DEPTH:
                    raise _err(f"CASEI(…) nested deeper than {t.MAX_DEPTH} levels")
            inner = self.operand(node)
            if inner.type != "string":
                raise _err(f"CASEI takes text; {inner.what} is a {inner.type}")
            wrap = inner.wrap.format("lower({})")  # lower(lower(x)) is lower(x): once is enough
            return _Expr("string", prop=inner.prop, literal=inner.literal, value=inner.value, wrap=wrap)
        if isinstance(node, t.Lit):
            if node.type == "geometry":
                return _Expr("geometry", literal=True, value=self.geometry_literal(node.value))
            if node.type == "open":
                raise _err("'..' (an open end) is only allowed inside INTERVAL(…)")
            return _Expr(node.type, literal=True, value=node.value)
        if isinstance(node, t.Interval):
            raise _err("an INTERVAL is only compared with T_… temporal functions")
        raise _err(f"cannot evaluate {type(node).__name__}")  # pragma: no cover

    def pair(self, lhs, rhs) -> tuple[_Expr, _Expr]:
        a = self.operand(lhs)
        b = self.coerced(rhs, a)
        a = self.coerced(lhs, b)
        self.compatible(a, b)
        if a.type == "geometry":
            raise _err(f"{(a if a.prop else b).what} is a geometry: compare geometries with S_EQUALS")
        return a, b

    def coerced(self, node, other: _Expr) -> _Expr:
        """``node`` as a value beside ``other``: a quoted text beside a date or timestamp property is read
        as one (what GDAL's OGC API driver sends), anything else as it is."""
        if (isinstance(node, t.Lit) and node.type == "string" and other.prop is not None
                and other.type in ("date", "datetime")):
            kind = "DATE" if other.type == "date" else "TIMESTAMP"
            try:
                value = t.parse_instant(node.value, kind)
            except InvalidData:
                raise _err(f"property {other.prop.name!r} is a {other.type}; {node.value!r} is not a "
                           f"{'date (YYYY-MM-DD)' if kind == 'DATE' else 'timestamp (YYYY-MM-DDThh:mm:ssZ)'}") \
                    from None
            return _Expr(other.type, literal=True, value=value)
        return self.operand(node)

    def compatible(self, a: _Expr, b: _Expr) -> None:
        ta = "number" if a.type in _NUMERIC else a.type
        tb = "number" if b.type in _NUMERIC else b.type
        if ta != tb:
            named = a if a.prop else b
            other = b if named is a else a
            hint = " (write dates as DATE('YYYY-MM-DD'), timestamps as TIMESTAMP('…Z'))" \
                if {ta, tb} & {"date", "datetime"} else ""
            raise _err(f"{named.what} is a {named.type}; {other.what} is a {other.type}{hint}")

    def check_enum(self, a: _Expr, others) -> None:
        q = a.prop
        if q is None or not q.enum or a.literal or a.wrap != "{}":
            return
        for o in others:
            if o.literal and o.type == q.type == "string" and o.value not in q.enum:
                raise _err(f"property {q.name!r} is one of {', '.join(map(str, q.enum))}; not {o.value!r}")

    def geometry(self, node, fn: str) -> _Expr:
        e = self.operand(node)
        if e.type != "geometry":
            raise _err(f"{fn} compares geometries; {e.what} is a {e.type}")
        return e

    def geometry_literal(self, geom) -> str:
        """A literal's WKT in EPSG:4326 lon/lat, from the filter CRS in its axis order; checked valid."""
        if geom.is_empty:
            raise _err("the geometry is empty")
        geom = shapely.force_2d(geom)
        if self.swap:
            geom = shapely.transform(geom, lambda xy: xy[:, ::-1])
        crs = f"EPSG:{self.srid}"
        try:
            geographic = is_geographic(crs)
        except Exception:
            raise _err(f"unknown filter CRS {crs}") from None
        if crs != STORAGE_CRS:  # densified first: a straight edge in the filter CRS is curved in lon/lat
            raw = shapely.get_coordinates(geom)
            limit = (180.0, 90.0) if geographic else (_PROJECTED_LIMIT, _PROJECTED_LIMIT)
            if not np.isfinite(raw).all() or (np.abs(raw[:, 0]) > limit[0]).any() \
                    or (np.abs(raw[:, 1]) > limit[1]).any():
                raise _err("geometry coordinates fall outside " + (
                    "lon −180…180, lat −90…90" if geographic else f"±{_PROJECTED_LIMIT:.0e} m") +
                    f" in {crs}" + ("" if self.swap else " in x, y order"))
            # at most ~_MAX_SEGMENTS new vertices, however long the edges: no memory blow-up
            step = max(_DENSIFY[geographic], float(shapely.length(geom)) / _MAX_SEGMENTS)
            geom = shapely.segmentize(geom, step)
            geom = shapely.transform(geom, lambda xy: np.column_stack(to_wgs84(xy[:, 0], xy[:, 1], crs)))
        xy = shapely.get_coordinates(geom)
        if not np.isfinite(xy).all() or (np.abs(xy[:, 0]) > 180).any() or (np.abs(xy[:, 1]) > 90).any():
            raise _err(f"geometry coordinates fall outside lon −180…180, lat −90…90 once read as {crs}"
                       + ("" if self.swap else " in x, y (lon, lat) order"))
        if not geom.is_valid:
            raise _err(f"the geometry is not valid: {shapely.is_valid_reason(geom)}")
        return shapely.to_wkt(geom, rounding_precision=-1)

    def period(self, node, fn: str) -> tuple:
        """(start, end, kind) of a temporal operand: an instant (property or literal) or an INTERVAL;
        an open end ('..') is None."""
        if isinstance(node, t.Interval):
            s, e = self.period(node.start, fn), self.period(node.end, fn)
            kinds = {s[2], e[2]} - {"open"}
            if len(kinds) > 1:
                raise _err("an INTERVAL's start and end are both dates or both timestamps")
            return s[0], e[1], kinds.pop() if kinds else "open"
        if isinstance(node, t.Lit) and node.type == "open":
            return None, None, "open"
        e = self.operand(node)
        if e.type not in ("date", "datetime"):
            raise _err(f"{fn} compares dates, timestamps and intervals; {e.what} is a {e.type}")
        return e, e, e.type
