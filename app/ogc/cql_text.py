"""CQL2-text (OGC 21-065, the Common Query Language) parsed into a small tree that ``app.ogc.cql`` compiles.

Written here rather than taken from pygeofilter's parser, which gives AND and OR the same precedence
(``a OR b AND c`` reads as ``(a OR b) AND c``), cannot read a quote doubled inside a string (``'O''Brien'``),
writes the temporal functions infix (``a T_DURING b``, not the standard's ``T_DURING(a, b)``) and turns
its lark errors into tracebacks. Recursive descent over the standard's BNF: ``OR`` below ``AND`` below
``NOT``; keywords case-insensitive; a property that is spelt like a keyword is written in double quotes.

Every error is :class:`gis.errors.InvalidData` starting ``filter:`` and naming the 1-based character
position and what was expected there.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

import shapely

from gis.errors import InvalidData

# -- the tree -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prop:
    name: str
    pos: int


@dataclass(frozen=True)
class Lit:
    """A literal; ``type`` is string, number, boolean, date, datetime, geometry or open (``'..'``)."""

    value: Any
    type: str
    pos: int


@dataclass(frozen=True)
class Interval:
    start: Any  # Lit (date, datetime or open) or Prop
    end: Any
    pos: int


@dataclass(frozen=True)
class Func:
    name: str  # upper case: CASEI
    args: tuple
    pos: int


@dataclass(frozen=True)
class Cmp:
    op: str  # = <> < > <= >=
    lhs: Any
    rhs: Any
    pos: int


@dataclass(frozen=True)
class Like:
    expr: Any
    pattern: Any
    negated: bool
    pos: int


@dataclass(frozen=True)
class Between:
    expr: Any
    low: Any
    high: Any
    negated: bool
    pos: int


@dataclass(frozen=True)
class In:
    expr: Any
    items: tuple
    negated: bool
    pos: int


@dataclass(frozen=True)
class IsNull:
    expr: Any
    negated: bool
    pos: int


@dataclass(frozen=True)
class Spatial:
    name: str  # S_INTERSECTS …
    lhs: Any
    rhs: Any
    pos: int


@dataclass(frozen=True)
class Temporal:
    name: str  # T_BEFORE …
    lhs: Any
    rhs: Any
    pos: int


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND, OR
    items: tuple


@dataclass(frozen=True)
class Not:
    item: Any


SPATIAL_FUNCTIONS = ("S_INTERSECTS", "S_EQUALS", "S_DISJOINT", "S_TOUCHES", "S_WITHIN", "S_OVERLAPS",
                     "S_CROSSES", "S_CONTAINS")
TEMPORAL_FUNCTIONS = ("T_AFTER", "T_BEFORE", "T_CONTAINS", "T_DISJOINT", "T_DURING", "T_EQUALS", "T_FINISHEDBY",
                      "T_FINISHES", "T_INTERSECTS", "T_MEETS", "T_METBY", "T_OVERLAPPEDBY", "T_OVERLAPS",
                      "T_STARTEDBY", "T_STARTS")
SCALAR_FUNCTIONS = ("CASEI",)
WKT_TYPES = ("POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON",
             "GEOMETRYCOLLECTION")
LITERAL_FUNCTIONS = ("DATE", "TIMESTAMP", "INTERVAL", "BBOX")
KEYWORDS = frozenset({"AND", "OR", "NOT", "LIKE", "BETWEEN", "IN", "IS", "NULL", "TRUE", "FALSE"})
#: every name that may be written before "(": what the unknown-function error lists
FUNCTIONS = SPATIAL_FUNCTIONS + TEMPORAL_FUNCTIONS + SCALAR_FUNCTIONS + LITERAL_FUNCTIONS + WKT_TYPES
COMPARISONS = ("=", "<>", "<=", ">=", "<", ">")
MAX_LENGTH = 100_000  # characters: room for a detailed polygon, not for a denial of service
MAX_DEPTH = 100  # nested parentheses / NOTs: deeper input is refused before Python's stack is

# -- tokens ---------------------------------------------------------------------------------
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")*")
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[^\W\d][\w:.]*)
  | (?P<op><>|<=|>=|=|<|>|\(|\)|,|-)
""", re.VERBOSE)


@dataclass(frozen=True)
class Token:
    kind: str  # string, quoted, number, name, op, end
    text: str
    pos: int  # 0-based offset

    @property
    def word(self) -> str:
        return self.text.upper() if self.kind == "name" else ""


#: what a number literal may be (the parsers of both languages refuse anything else with this rule)
NUMBER_RULE = "integers within ±2**63, decimals within ±1.7e308"


def number_in_range(value: int | float) -> bool:
    """An int within ±2**63 or a finite float: what PostgreSQL's bigint and double precision hold."""
    return -2 ** 63 <= value < 2 ** 63 if isinstance(value, int) else math.isfinite(value)


def bbox_literal(nums: list[float]):
    """BBOX's 4 numbers (or 6, 3-D) → a shapely box; ValueError saying why not."""
    if len(nums) == 6:  # 3-D: min x, min y, min z, max x, max y, max z
        nums = [nums[0], nums[1], nums[3], nums[4]]
    if len(nums) != 4:
        raise ValueError(f"BBOX takes 4 (or 6) numbers, not {len(nums)}")
    x1, y1, x2, y2 = nums
    if x1 > x2 or y1 > y2:
        raise ValueError("BBOX is (min x, min y, max x, max y): a minimum is above its maximum")
    return shapely.box(x1, y1, x2, y2)


def fail(text: str, pos: int, what: str) -> InvalidData:
    near = text[pos:pos + 20]
    where = f"at position {pos + 1}" + (f" (near {near!r})" if near else " (the end)")
    return InvalidData(f"filter: {where}: {what}")


class Parser:
    def __init__(self, text: str):
        if len(text) > MAX_LENGTH:
            raise InvalidData(f"filter: is {len(text)} characters long; at most {MAX_LENGTH} allowed")
        self.text = text
        self.pos = 0
        self.depth = 0
        self._peeked: Token | None = None

    # lexing
    def _scan(self) -> Token:
        m = _TOKEN.match(self.text, self.pos)
        while m is not None and m.lastgroup == "ws":
            self.pos = m.end()
            m = _TOKEN.match(self.text, self.pos)
        if self.pos >= len(self.text):
            return Token("end", "", self.pos)
        if m is None:
            ch = self.text[self.pos]
            if ch in "'\"":
                raise fail(self.text, self.pos, f"unterminated {'string' if ch == chr(39) else 'quoted name'}")
            raise fail(self.text, self.pos, f"unexpected character {ch!r}")
        return Token(m.lastgroup, m.group(), self.pos)

    def peek(self) -> Token:
        if self._peeked is None:
            self._peeked = self._scan()
        return self._peeked

    def next(self) -> Token:
        tok = self.peek()
        self._peeked = None
        self.pos = tok.pos + len(tok.text)
        return tok

    def accept(self, word: str) -> Token | None:
        tok = self.peek()
        if (tok.kind == "op" and tok.text == word) or tok.word == word:
            return self.next()
        return None

    def expect(self, word: str, what: str | None = None) -> Token:
        tok = self.accept(word)
        if tok is None:
            raise self.error(f"expected {what or repr(word)}")
        return tok

    def error(self, what: str, tok: Token | None = None) -> InvalidData:
        tok = tok or self.peek()
        found = "the end of the filter" if tok.kind == "end" else repr(tok.text)
        return fail(self.text, tok.pos, f"{what}, found {found}")

    # grammar
    def parse(self):
        if not self.text.strip():
            raise InvalidData("filter: is empty")
        node = self.boolean()
        if self.peek().kind != "end":
            raise self.error("expected AND, OR or the end of the filter")
        return node

    def boolean(self):
        items = [self.term()]
        while self.accept("OR"):
            items.append(self.term())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def term(self):
        items = [self.factor()]
        while self.accept("AND"):
            items.append(self.factor())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def factor(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested deeper than {MAX_DEPTH} levels")
        try:
            if self.accept("NOT"):
                return Not(self.factor())
            return self.primary()
        finally:
            self.depth -= 1

    def primary(self):
        tok = self.peek()
        if tok.kind == "op" and tok.text == "(":
            self.next()
            node = self.boolean()
            self.expect(")", "')'")
            return node
        if tok.word in SPATIAL_FUNCTIONS or tok.word in TEMPORAL_FUNCTIONS:
            self.next()
            self.expect("(", f"'(' after {tok.word}")
            lhs = self.scalar()
            self.expect(",", "','")
            rhs = self.scalar()
            self.expect(")", "')'")
            cls = Spatial if tok.word in SPATIAL_FUNCTIONS else Temporal
            return cls(tok.word, lhs, rhs, tok.pos)
        lhs = self.scalar()
        return self.predicate(lhs)

    def predicate(self, lhs):
        tok = self.peek()
        if tok.kind == "op" and tok.text in COMPARISONS:
            self.next()
            return Cmp(tok.text, lhs, self.scalar(), tok.pos)
        negated = self.accept("NOT") is not None
        tok = self.peek()
        if self.accept("LIKE"):
            return Like(lhs, self.scalar(), negated, tok.pos)
        if self.accept("BETWEEN"):
            low = self.scalar()
            self.expect("AND", "AND (BETWEEN low AND high)")
            return Between(lhs, low, self.scalar(), negated, tok.pos)
        if self.accept("IN"):
            self.expect("(", "'(' and a list of values after IN")
            items = [self.scalar()]
            while self.accept(","):
                items.append(self.scalar())
            self.expect(")", "',' or ')'")
            return In(lhs, tuple(items), negated, tok.pos)
        if not negated and self.accept("IS"):
            negated = self.accept("NOT") is not None
            self.expect("NULL", "NULL or NOT NULL after IS")
            return IsNull(lhs, negated, tok.pos)
        if not negated and isinstance(lhs, Lit) and lhs.type == "boolean":
            return lhs  # TRUE / FALSE on their own
        what = "LIKE, BETWEEN or IN after NOT" if negated else \
            "a comparison (= <> < > <= >=), LIKE, BETWEEN, IN or IS NULL"
        raise self.error(f"expected {what}")

    def scalar(self):
        self.depth += 1  # CASEI(CASEI(…)) nests through scalar() → call() → scalar()
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested deeper than {MAX_DEPTH} levels")
        try:
            return self._scalar()
        finally:
            self.depth -= 1

    def _scalar(self):
        tok = self.next()
        if tok.kind == "string":
            return Lit(tok.text[1:-1].replace("''", "'"), "string", tok.pos)
        if tok.kind == "number" or (tok.kind == "op" and tok.text == "-" and self.peek().kind == "number"):
            num = self.next() if tok.text == "-" else tok
            return Lit(self.numeric(num, tok.text == "-"), "number", tok.pos)
        if tok.kind == "quoted":
            return Prop(tok.text[1:-1].replace('""', '"'), tok.pos)
        if tok.kind == "name":
            word = tok.word
            if word in ("TRUE", "FALSE"):
                return Lit(word == "TRUE", "boolean", tok.pos)
            if word in WKT_TYPES:
                return self.wkt(tok)
            if word in KEYWORDS:
                raise self.error("expected a property or a value (write a property named like a keyword in "
                                 "double quotes)", tok)
            if self.peek().kind == "op" and self.peek().text == "(":
                return self.call(tok)
            return Prop(tok.text, tok.pos)
        raise self.error("expected a property or a value", tok)

    def call(self, tok: Token):
        word = tok.word
        if word not in FUNCTIONS:
            raise fail(self.text, tok.pos, f"unknown function {tok.text!r}; known: {', '.join(FUNCTIONS)}")
        if word in SPATIAL_FUNCTIONS + TEMPORAL_FUNCTIONS:
            raise fail(self.text, tok.pos, f"{word}(…) is a predicate, not a value")
        self.expect("(")
        if word in ("DATE", "TIMESTAMP"):
            value = self.instant(word)
        elif word == "INTERVAL":
            start = self.interval_end()
            self.expect(",", "',' between the start and the end of the INTERVAL")
            value = Interval(start, self.interval_end(), tok.pos)
        elif word == "BBOX":
            value = self.bbox(tok)
        else:
            value = Func(word, (self.scalar(),), tok.pos)
        self.expect(")", "')'")
        return value

    def instant(self, word: str) -> Lit:
        tok = self.next()
        if tok.kind != "string":
            raise self.error(f"expected a quoted {'date' if word == 'DATE' else 'timestamp'}", tok)
        return Lit(parse_instant(tok.text[1:-1], word, self.text, tok.pos), word.lower().replace("timestamp",
                                                                                                "datetime"), tok.pos)

    def interval_end(self):
        tok = self.peek()
        if tok.kind == "string":
            self.next()
            raw = tok.text[1:-1]
            if raw == "..":
                return Lit(None, "open", tok.pos)
            kind = "TIMESTAMP" if ("T" in raw or " " in raw) else "DATE"
            return Lit(parse_instant(raw, kind, self.text, tok.pos),
                       "datetime" if kind == "TIMESTAMP" else "date", tok.pos)
        node = self.scalar()
        if isinstance(node, Lit) and node.type not in ("date", "datetime"):
            raise fail(self.text, tok.pos, "an INTERVAL end is a date, a timestamp, '..' or a property")
        return node

    def bbox(self, tok: Token) -> Lit:
        first = self.peek()
        if first.kind not in ("number", "op") or first.text not in ("-",) and first.kind == "op":
            raise fail(self.text, first.pos, "BBOX(…) is a value of 4 numbers (min x, min y, max x, max y); "
                       "to filter, write S_INTERSECTS(geom, BBOX(…))")
        nums = [self.number()]
        while self.accept(","):
            nums.append(self.number())
        try:
            return Lit(bbox_literal(nums), "geometry", tok.pos)
        except ValueError as exc:
            raise fail(self.text, tok.pos, str(exc)) from None

    def number(self) -> float:
        neg = self.accept("-") is not None
        tok = self.next()
        if tok.kind != "number":
            raise self.error("expected a number", tok)
        return float(self.numeric(tok, neg))

    def numeric(self, tok: Token, neg: bool) -> int | float:
        """A number token's value: an int within ±2**63, or a finite float; anything else is refused
        (Python's int() gives up past 4300 digits, PostgreSQL's double precision overflows past 1e308)."""
        text = tok.text
        if text.isdigit():
            value = int(text) if len(text.lstrip("0")) <= 19 else None  # int() of 4300 digits gives up
        else:
            value = float(text)
        if value is not None:
            value = -value if neg else value
            if number_in_range(value):
                return value
        shown = text if len(text) <= 30 else text[:27] + "…"
        raise fail(self.text, tok.pos, f"number {'-' if neg else ''}{shown} is out of range ({NUMBER_RULE})")

    def wkt(self, tok: Token) -> Lit:
        """A WKT geometry: from its type name to the closing parenthesis that balances the first one."""
        depth, i = 0, tok.pos + len(tok.text)
        text = self.text
        while i < len(text):
            ch = text[i]
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    i += 1
                    break
                if depth < 0:
                    break
            elif depth == 0 and text[i:i + 5].upper() == "EMPTY":
                i += 5
                break
            elif depth == 0 and not (ch.isspace() or ch in "ZMzm"):
                break
            i += 1
        raw = text[tok.pos:i]
        try:
            geom = shapely.from_wkt(raw)
        except shapely.errors.ShapelyError as exc:
            raise fail(text, tok.pos, f"not a valid WKT geometry: {str(exc).splitlines()[0]}") from None
        self._peeked, self.pos = None, i
        return Lit(geom, "geometry", tok.pos)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})", re.I)


def parse_instant(raw: str, kind: str, text: str = "", pos: int = 0):
    """``'2024-05-01'`` → date, ``'2024-05-01T08:00:00Z'`` → aware datetime (RFC 3339, a zone required)."""
    try:
        if kind == "DATE":
            if not _DATE.fullmatch(raw):
                raise ValueError("expected YYYY-MM-DD")
            return dt.date.fromisoformat(raw)
        if not _TIMESTAMP.fullmatch(raw):
            raise ValueError("expected YYYY-MM-DDThh:mm:ssZ (RFC 3339, with Z or an offset such as +08:00)")
        return dt.datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise fail(text, pos, f"{raw!r} is not a valid {'date' if kind == 'DATE' else 'timestamp'}: {exc}") from None


def parse(text: str):
    """CQL2-text → tree (``BoolOp``, ``Not``, ``Cmp``, ``Like``, …); :class:`InvalidData` on any error."""
    return Parser(text).parse()
