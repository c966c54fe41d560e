"""Strict reading of Open311 query parameters and form fields.

Every reader raises ``InvalidData`` with one ``RowError`` per bad field (the field named, the reason
saying what is allowed); nothing here touches the database. Text goes through ``gis.text`` (control
and bidirectional-override characters, column sizes read from the model), so the limits are written
once. Nothing is cut or cleaned silently: what cannot be stored as sent is refused.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from app.incidents.models import DESCRIPTION_MAX, Incident
from gis.errors import InvalidData, RowError
from gis.text import DECIMAL_NUMBER, WHOLE_NUMBER, check_text, column_length

MAX_PAGE_SIZE = 1000        # the spec's customary cap on one response
MAX_PAGE = 1_000_000        # keeps (page - 1) * page_size far inside PostgreSQL's bigint OFFSET
MAX_IDS = MAX_PAGE_SIZE     # service_request_id list: no more ids than one page holds
_COLUMNS = Incident.__table__.c
LIMITS = {"address_string": column_length(_COLUMNS.address), "name": column_length(_COLUMNS.reporter_name),
          "phone": column_length(_COLUMNS.reporter_phone), "email": column_length(_COLUMNS.reporter_email),
          "media_url": column_length(_COLUMNS.media_url), "description": DESCRIPTION_MAX}
EARLIEST = datetime.min.replace(tzinfo=timezone.utc)
LATEST = datetime.max.replace(tzinfo=timezone.utc)

_ID = re.compile(r"[0-9]{1,9}")   # incident ids are PostgreSQL integers
# ISO 8601 date or date-time with an optional offset. A space before the offset is a '+' that the
# client forgot to percent-encode (``+08:00`` in a query string reads as `` 08:00``).
# The W3C profile (https://www.w3.org/TR/NOTE-datetime) the spec names: YYYY, YYYY-MM, YYYY-MM-DD,
# YYYY-MM-DDThh:mmTZD, …:ssTZD, …:ss.sTZD; a missing TZD is the district's zone.
_DATETIME = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?)?)?"
                       r"(?:(Z)|([+\- ])(\d{2}):?(\d{2}))?", re.IGNORECASE | re.ASCII)
DATE_HINT = ("a W3C date-time such as 2025, 2025-03, 2025-03-01 or 2025-03-01T08:30:00+08:00 (without an offset: "
             "the district's zone)")


class Fields:
    """Reads a request's parameters (``values``: a mapping of str) and collects every problem.

    Each reader returns the value, or None after noting a ``RowError`` for its field; ``check()``
    raises one ``InvalidData`` listing them all, so a client fixes every field in one go."""

    def __init__(self, values):
        self.values = values
        self.errors: list[RowError] = []

    def check(self) -> None:
        if self.errors:
            raise InvalidData(self.errors)

    def bad(self, field: str, reason: str) -> None:
        self.errors.append(RowError(None, field, reason))

    def raw(self, field: str) -> str:
        return str(self.values.get(field) or "").strip()

    def text(self, field: str, *, multiline: bool = False, max_len: int | None = None) -> str | None:
        """The stripped text, None when blank; refused with control characters or over its limit."""
        value = self.raw(field)
        problem = check_text(value, field, max_len=max_len or LIMITS.get(field), multiline=multiline)
        if problem is not None:
            self.errors.append(problem)
            return None
        return value or None

    def whole(self, field: str, default: int, low: int, high: int) -> int | None:
        """A whole number in ``[low, high]`` (ASCII digits only: no sign, blanks, '_' or other scripts' digits)."""
        raw = self.raw(field)
        if not raw:
            return default
        if not WHOLE_NUMBER.fullmatch(raw) or not low <= int(raw) <= high:
            return self.bad(field, f"{_show(raw)} is not a whole number from {low} to {high}")
        return int(raw)

    def ids(self, field: str = "service_request_id") -> list[int] | None:
        """A comma list of request ids; a bad member is refused, not skipped."""
        parts = [p.strip() for p in self.raw(field).split(",") if p.strip()]
        if len(parts) > MAX_IDS:
            return self.bad(field, f"{len(parts)} ids; at most {MAX_IDS} per request")
        ids = [request_id(p) for p in parts]
        wrong = [p for p, i in zip(parts, ids) if i is None]
        if wrong:
            return self.bad(field, f"{_show(wrong[0])} is not a request id (digits only)")
        return ids

    def codes(self, field: str) -> list[str] | None:
        """A comma list of one-line codes (service_code, status)."""
        value = self.text(field)
        return None if value is None else [c.strip() for c in value.split(",") if c.strip()]

    def degrees(self, field: str, bound: float) -> float | None:
        """A finite decimal degree within ±``bound`` (90 for lat, 180 for long), or None when blank."""
        raw = self.raw(field)
        if not raw:
            return None
        v = float(raw) if DECIMAL_NUMBER.fullmatch(raw) else math.nan
        if not (math.isfinite(v) and -bound <= v <= bound):
            return self.bad(field, f"{_show(raw)} is not a WGS-84 decimal degree from -{bound:g} to {bound:g}")
        return v

    def date(self, field: str, tz: str, *, end: bool = False) -> datetime | None:
        """``parse_datetime`` of the field, None when blank or bad (noted); ``end``: a year, month or day stands
        for its last instant (``end_date=2025-03`` takes in all of March)."""
        raw = self.raw(field)
        if not raw:
            return None
        try:
            return parse_datetime(raw, field, tz, end=end)
        except InvalidData as exc:
            self.errors.extend(exc.errors)
            return None


def request_id(value: str) -> int | None:
    """An incident id from a path or a list, or None when it cannot be one."""
    value = value.strip()
    return int(value) if _ID.fullmatch(value) else None


def parse_datetime(value: str, field: str, tz: str, *, end: bool = False) -> datetime:
    """Read a W3C (ISO 8601 profile) date-time strictly; without an offset it is a time of the district's zone
    ``tz``. A year, a month or a day without a time is its first instant, or with ``end`` its last one.

    The result is aware and in UTC, clamped to ``EARLIEST``/``LATEST`` when the offset pushes it past
    the years 1–9999 (so ``0001-01-01T00:00:00`` in a +08:00 zone is the earliest instant, not an error).

    Raises
    ------
    InvalidData
        Not of the form ``YYYY[-MM[-DD[THH:MM[:SS[.ffffff]]]]][Z|±HH:MM]``, or no such day or time.
    """
    m = _DATETIME.fullmatch(value.strip())
    if m is None:
        raise InvalidData(RowError(None, field, f"{_show(value)} is not {DATE_HINT}"))
    y, mo, d, hh, mi, ss, frac, z, sign, oh, om = m.groups()
    try:
        offset = None
        if z:
            offset = timezone.utc
        elif sign:
            delta = timedelta(hours=int(oh), minutes=int(om))
            offset = timezone(-delta if sign == "-" else delta)
        ts = datetime(int(y), int(mo or 1), int(d or 1), int(hh or 0), int(mi or 0), int(ss or 0),
                      int((frac or "0").ljust(6, "0")), tzinfo=offset or ZoneInfo(tz))
    except ValueError as exc:
        raise InvalidData(RowError(None, field, f"{_show(value)}: {exc}; use {DATE_HINT}")) from None
    if end and hh is None:  # the last instant of the year, month or day
        ts = _period_end(ts, "day" if d else "month" if mo else "year")
        if ts is None:
            return LATEST
    try:
        return ts.astimezone(timezone.utc)
    except OverflowError:
        return EARLIEST if ts.year == 1 else LATEST


def _period_end(ts: datetime, unit: str) -> datetime | None:
    """The last microsecond of the ``unit`` (day, month, year) that starts at ``ts``; None past the year 9999."""
    try:
        if unit == "day":
            nxt = ts + timedelta(days=1)
        elif unit == "month":
            nxt = ts.replace(year=ts.year + ts.month // 12, month=ts.month % 12 + 1)
        else:
            nxt = ts.replace(year=ts.year + 1)
    except (OverflowError, ValueError):
        return None
    return nxt - timedelta(microseconds=1)


def shift(ts: datetime, delta: timedelta) -> datetime:
    """``ts + delta``, clamped to ``EARLIEST``/``LATEST`` instead of overflowing."""
    try:
        return ts + delta
    except OverflowError:
        return LATEST if delta > timedelta(0) else EARLIEST


def _show(raw: str, n: int = 40) -> str:
    """A client's value quoted for an error message, cut so a huge value does not make a huge reply."""
    return repr(raw if len(raw) <= n else raw[:n] + "…")
