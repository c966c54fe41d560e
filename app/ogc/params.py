"""The query parameters of ``/items``, read and checked once: a bad value is InvalidData naming the
parameter (a 400 in the OGC exception format), never a 500.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from app.ogc import cql, crs as crs_mod
from gis.errors import InvalidData

LIMIT_DEFAULT = 100
#: the most features one page carries; a larger ``limit`` is served as this (OGC API – Features 1.0, 7.15.3)
LIMIT_MAX = 10000
OFFSET_MAX = 10_000_000
#: parameters every items request may carry besides the collection's property names
ITEMS_PARAMS = frozenset({"f", "lang", "bbox", "bbox-crs", "crs", "limit", "offset", "datetime", "filter",
                          "filter-lang", "filter-crs"})
FILTER_LANGS = cql.FILTER_LANGS
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_T = re.compile(r"\d{4}-\d{2}-\d{2}T")


@dataclass
class ItemsQuery:
    limit: int = LIMIT_DEFAULT
    offset: int = 0
    bbox: tuple[float, float, float, float] | None = None  # x/y order in bbox_crs
    bbox_crs: crs_mod.Crs = crs_mod.CRS84
    crs: crs_mod.Crs = crs_mod.CRS84
    datetime: tuple[dt.datetime | None, dt.datetime | None] | None = None  # inclusive bounds, None = open
    datetime_dates: tuple[dt.date | None, dt.date | None] | None = None
    filter: str | None = None
    filter_lang: str = cql.DEFAULT_FILTER_LANG
    filter_crs: crs_mod.Crs = crs_mod.CRS84
    properties: dict[str, str] = field(default_factory=dict)


def _one(args, name: str) -> str | None:
    values = args.getlist(name)
    if len(values) > 1:
        raise InvalidData(f"{name}: give it once (it was given {len(values)} times)")
    return values[0] if values else None


def check_text(args) -> None:
    """Refuse a parameter holding a NUL character (PostgreSQL text cannot hold one), by name."""
    for name, value in args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise InvalidData(f"{name.replace(chr(0), '')[:100]}: contains a NUL character")


def integer(args, name: str, *, default: int, lo: int, hi: int | None = None, clamp: bool = False) -> int:
    raw = _one(args, name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"\+?\d{1,12}", raw.strip()):
        raise InvalidData(f"{name}: {raw[:50]!r} is not a whole number")
    value = int(raw)
    if value < lo:
        raise InvalidData(f"{name}: {value} is below {lo}")
    if hi is not None and value > hi:
        if clamp:
            return hi
        raise InvalidData(f"{name}: {value} is above {hi}")
    return value


def bbox(args, crs: crs_mod.Crs) -> tuple[float, float, float, float] | None:
    """``bbox`` as x/y (lon/easting first) min/max in ``crs``; 6 numbers (with heights) drop the heights."""
    raw = _one(args, "bbox")
    if raw is None:
        return None
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) not in (4, 6) or not all(_NUMBER.match(p) for p in parts):
        raise InvalidData("bbox: give 4 or 6 comma-separated numbers (minx,miny,maxx,maxy in the bbox-crs axis "
                          "order; CRS84: lon,lat)")
    nums = [float(p) for p in parts]
    if not all(math.isfinite(n) for n in nums):
        raise InvalidData("bbox: the numbers must be finite")
    a1, b1, a2, b2 = (nums[0], nums[1], nums[3], nums[4]) if len(nums) == 6 else nums
    if b1 > b2:
        raise InvalidData("bbox: the lower corner's second coordinate is above the upper corner's")
    x1, y1 = crs_mod.to_xy(crs, a1, b1)
    x2, y2 = crs_mod.to_xy(crs, a2, b2)
    if not crs.metric:
        if not (-180 <= x1 <= 180 and -180 <= x2 <= 180 and -90 <= y1 <= 90 and -90 <= y2 <= 90):
            raise InvalidData("bbox: longitudes must be within -180..180 and latitudes within -90..90")
    if crs.metric:
        bx1, by1, bx2, by2 = crs_mod.projected_bounds(crs)
        if not (bx1 <= x1 <= bx2 and bx1 <= x2 <= bx2 and by1 <= y1 <= by2 and by1 <= y2 <= by2):
            raise InvalidData(f"bbox: outside the area where {crs.uri} is defined "
                              f"(x {bx1:.0f}..{bx2:.0f}, y {by1:.0f}..{by2:.0f} as easting, northing)")
    if y1 > y2:  # (the check above is on the second axis as sent: latitude-first CRSs send it first)
        raise InvalidData("bbox: the lower corner's latitude (northing) is above the upper corner's")
    if x1 > x2:
        if crs.metric:
            raise InvalidData("bbox: the lower corner's first coordinate is above the upper corner's")
        raise InvalidData("bbox: a box crossing the antimeridian is not supported (minx > maxx)")
    return x1, y1, x2, y2


def _instant(text: str, tz: ZoneInfo, *, end: bool) -> tuple[dt.datetime, dt.date | None]:
    if _DATE.match(text):
        day = dt.date.fromisoformat(text)
        start = dt.datetime.combine(day, dt.time(), tz)
        if end:  # a date as an interval's end is the whole day
            return start + dt.timedelta(days=1) - dt.timedelta(microseconds=1), day
        return start, day
    cleaned = text.replace("z", "Z").replace("t", "T")
    if "T" not in cleaned:
        raise ValueError(text)
    value = dt.datetime.fromisoformat(cleaned)
    if value.tzinfo is None:
        raise ValueError(text)
    return value, None


def datetime_param(args, tz: ZoneInfo) -> tuple[tuple, tuple] | None:
    """``datetime``: an instant (``2024-05-01T08:00:00Z`` or a date, the district's calendar day), an
    interval ``a/b``, or an open one (``../b``, ``a/..``, empty ends). Returns ((lo, hi), (lo_date, hi_date))
    with inclusive bounds, None where open."""
    raw = _one(args, "datetime")
    if raw is None:
        return None
    # GDAL's OAPIF driver writes a date as "2025-06-01T" (a T and no time): read it as the date it is
    raw = "/".join(end[:-1] if _DATE_T.fullmatch(end) else end for end in raw.split("/"))
    hint = ("datetime: give an RFC 3339 date-time with a time zone (2024-05-01T08:00:00Z), a date (2024-05-01), "
            "or an interval a/b with '..' for an open end")
    try:
        if "/" in raw:
            first, _, second = raw.partition("/")
            if "/" in second:
                raise ValueError(raw)
            lo = None if first in ("", "..") else _instant(first, tz, end=False)
            hi = None if second in ("", "..") else _instant(second, tz, end=True)
            if lo is None and hi is None:
                raise ValueError(raw)
        else:
            lo = _instant(raw, tz, end=False)
            hi = _instant(raw, tz, end=True) if _DATE.match(raw) else lo
    except (ValueError, OverflowError):
        raise InvalidData(hint) from None
    if lo is not None and hi is not None and lo[0] > hi[0]:
        raise InvalidData("datetime: the interval's start is after its end")
    try:
        dates = (lo[0].astimezone(tz).date() if lo else None, hi[0].astimezone(tz).date() if hi else None)
    except (OverflowError, ValueError):
        raise InvalidData(hint) from None
    return (lo[0] if lo else None, hi[0] if hi else None), dates


def items_query(args, property_names: set[str], tz: ZoneInfo) -> ItemsQuery:
    """Every parameter of an items request, checked; unknown parameters are refused by name."""
    check_text(args)
    unknown = sorted(set(args.keys()) - ITEMS_PARAMS - property_names)
    if unknown:
        raise InvalidData(f"{unknown[0][:100]}: unknown parameter; this collection takes "
                          f"{', '.join(sorted(ITEMS_PARAMS))} and its queryables (see its /queryables)")
    q = ItemsQuery()
    q.limit = integer(args, "limit", default=LIMIT_DEFAULT, lo=1, hi=LIMIT_MAX, clamp=True)
    q.offset = integer(args, "offset", default=0, lo=0, hi=OFFSET_MAX)
    q.crs = crs_mod.parse(_one(args, "crs"), "crs")
    q.bbox_crs = crs_mod.parse(_one(args, "bbox-crs"), "bbox-crs")
    if _one(args, "bbox-crs") is not None and _one(args, "bbox") is None:
        raise InvalidData("bbox-crs: given without a bbox")
    q.bbox = bbox(args, q.bbox_crs)
    found = datetime_param(args, tz)
    if found is not None:
        q.datetime, q.datetime_dates = found
    q.filter = _one(args, "filter")
    lang = _one(args, "filter-lang")
    if lang is not None and lang not in FILTER_LANGS:
        raise InvalidData(f"filter-lang: {lang[:50]!r} is not supported; use {', '.join(FILTER_LANGS)}")
    q.filter_lang = lang or cql.DEFAULT_FILTER_LANG
    q.filter_crs = crs_mod.parse(_one(args, "filter-crs"), "filter-crs")
    if q.filter is not None and not q.filter.strip():
        raise InvalidData("filter: is empty")
    for name in sorted(property_names & set(args.keys())):
        q.properties[name] = _one(args, name)
    return q


def format_param(args, accept, *, html_ok: bool = True) -> str:
    """``json`` or ``html``: ``f`` first, else the Accept header (JSON when it prefers neither)."""
    f = _one(args, "f")
    if f is not None:
        if f in ("json", "geojson", "application/json", "application/geo+json"):
            return "json"
        if f in ("html", "text/html") and html_ok:
            return "html"
        raise InvalidData(f"f: {f[:50]!r} is not a format here; use json" + (" or html" if html_ok else ""))
    if html_ok:
        best = accept.best_match(["application/geo+json", "application/json", "text/html"])
        if best == "text/html" and accept["text/html"] > accept["application/json"]:
            return "html"
    return "json"
