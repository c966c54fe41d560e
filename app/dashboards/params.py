"""Request parameters of the dashboard routes, read and checked in one place (参数校验).

Every dashboard route reads its query arguments (and an action's JSON or form fields) through
:class:`Params`: each reader records a ``RowError(None, name, reason)`` for a bad value and returns
None instead of raising, so :meth:`Params.done` raises one ``InvalidData`` listing every bad
parameter; ``app/errors.py`` answers it (422 JSON on the APIs, naming each field). Text goes through
``gis.text``; numbers must be finite and in range; dates lie between the district's ``data_start``
and a year from today; codes are checked against their code lists. No Flask and no database here.
"""
from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from gis.errors import InvalidData, RowError
from gis.text import DECIMAL_NUMBER, WHOLE_NUMBER, check_text

#: how far ahead a date filter may reach (a period that ends next month is a fair question; 9999 is not)
FUTURE_DAYS = 366
#: ``since`` is a time the server sent (``now``); a client clock may run a little ahead
SINCE_AHEAD = timedelta(days=1)
#: a snapshot cursor (``pg_current_snapshot()``: ``xmin:xmax:xip,…``) the live map passes back as ``after``
SNAPSHOT = re.compile(r"([0-9]{1,19}):([0-9]{1,19}):((?:[0-9]{1,19})(?:,[0-9]{1,19})*)?")
#: longest cursor accepted (its list holds the transactions running then: at most a few hundred)
SNAPSHOT_MAX_LEN = 8000
#: largest transaction id a cursor may name (``xid8``, read into a ``bigint``)
MAX_XID = 2**63 - 1
#: largest value of an ``Integer`` (int4) primary key: a larger incident number cannot exist
MAX_ID = 2**31 - 1


class Params:
    """Checked readers over one request's arguments (a ``MultiDict`` or a JSON object).

    Parameters
    ----------
    args : Mapping
        ``request.args``, ``request.form`` or a parsed JSON object.
    earliest : datetime.date
        The earliest date a date or time parameter may name (the district's ``data_start``).
    tz : str
        IANA zone of the district: a date means that day there, a time without an offset is read there.
    """

    def __init__(self, args, *, earliest: date | None = None, tz: str | None = None):
        self.args = args if args is not None else {}
        self.errors: list[RowError] = []
        self.earliest, self.zone = earliest, (ZoneInfo(tz) if tz else None)

    def _dated(self) -> None:
        # no silent UTC: a reader of dates must be given the district's zone and earliest date
        if self.zone is None or self.earliest is None:
            raise TypeError("Params reads dates only with the district's tz and earliest date")

    # -- plumbing -------------------------------------------------------------------------------
    def bad(self, name: str, reason: str) -> None:
        """Record that parameter ``name`` is wrong, and why."""
        self.errors.append(RowError(None, name, reason))

    def done(self) -> None:
        """Raise ``InvalidData`` listing every bad parameter, if any."""
        if self.errors:
            raise InvalidData(self.errors)

    def raw(self, name: str):
        """The value as sent (first of repeated query arguments), None when absent or blank."""
        value = self.args.get(name)
        return None if value is None or (isinstance(value, str) and not value.strip()) else value

    def values(self, name: str) -> list:
        """Every value of a repeatable parameter (``?state=a&state=b``, or a JSON list), blanks dropped."""
        if hasattr(self.args, "getlist"):
            got = self.args.getlist(name)
        else:
            got = self.args.get(name)
            got = [] if got is None else got if isinstance(got, list) else [got]
        return [v for v in got if not (isinstance(v, str) and not v.strip())]

    # -- readers --------------------------------------------------------------------------------
    def text(self, name: str, *, max_len: int | None, multiline: bool = False, required: bool = False,
             value=None) -> str | None:
        """Free text through ``gis.text.check_text`` (NUL, control, bidi and length refused), stripped."""
        value = self.raw(name) if value is None else value
        if value is None:
            if required:
                self.bad(name, "is required")
            return None
        if not isinstance(value, str):
            self.bad(name, f"must be text, not {type(value).__name__}")
            return None
        problem = check_text(value, name, max_len=max_len, multiline=multiline)
        if problem is not None:
            self.errors.append(problem)
            return None
        return value.strip()

    def integer(self, name: str, *, lo: int, hi: int, default: int | None = None) -> int | None:
        """A whole number in [lo, hi]; ``default`` when absent."""
        value = self.raw(name)
        if value is None:
            return default
        try:
            if isinstance(value, bool) or isinstance(value, float):
                raise ValueError
            if isinstance(value, str) and not WHOLE_NUMBER.fullmatch(value.strip()):
                raise ValueError  # ASCII digits only, as every reader (gis.text)
            n = int(value.strip() if isinstance(value, str) else value)
            if not lo <= n <= hi:
                raise ValueError
        except (TypeError, ValueError):
            self.bad(name, f"{_shown(value)} is not a whole number from {lo} to {hi}")
            return None
        return n

    def number(self, name: str, *, lo: float, hi: float, required: bool = False, what: str = "a number"
               ) -> float | None:
        """A finite number in [lo, hi] (NaN and infinities refused)."""
        value = self.raw(name)
        if value is None:
            if required:
                self.bad(name, f"is required: give {what} from {lo:g} to {hi:g}")
            return None
        try:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, str) and not DECIMAL_NUMBER.fullmatch(value.strip()):
                raise ValueError
            x = float(value.strip() if isinstance(value, str) else value)
            if not lo <= x <= hi:  # also refuses NaN
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            self.bad(name, f"{_shown(value)} is not {what} from {lo:g} to {hi:g}")
            return None
        return x

    def choice(self, name: str, allowed, *, default: str | None = None) -> str | None:
        """One value of the code list ``allowed``; ``default`` when absent."""
        value = self.raw(name)
        if value is None:
            return default
        if not isinstance(value, str) or value not in allowed:
            self.bad(name, f"{_shown(value)} is not one of {', '.join(sorted(allowed))}")
            return None
        return value

    def choices(self, name: str, allowed) -> list[str]:
        """Every value of a repeatable parameter, each one of ``allowed`` (the bad ones are reported)."""
        good = []
        for value in self.values(name):
            if isinstance(value, str) and value in allowed:
                good.append(value)
            else:
                self.bad(name, f"{_shown(value)} is not one of {', '.join(sorted(allowed))}")
        return good

    def code(self, name: str, kind) -> str | None:
        """A code of ``gis.codes`` kind ``kind`` (STREET, COMMUNITY, GRID…), checked by its ``validate``."""
        value = self.raw(name)
        if value is None:
            return None
        if not isinstance(value, str):
            self.bad(name, f"must be text, not {type(value).__name__}")
            return None
        try:
            kind.validate(value)
        except ValueError as exc:
            self.bad(name, str(exc))
            return None
        return value

    def day(self, name: str) -> datetime | None:
        """A date ``YYYY-MM-DD`` between ``earliest`` and a year from today, as the start of that day in the
        district's zone."""
        value = self.raw(name)
        if value is None:
            return None
        self._dated()
        latest = datetime.now(self.zone).date() + timedelta(days=FUTURE_DAYS)
        try:
            if not isinstance(value, str):
                raise ValueError
            d = date.fromisoformat(value.strip())
        except ValueError:
            self.bad(name, f"{_shown(value)} is not a date (YYYY-MM-DD)")
            return None
        if not self.earliest <= d <= latest:
            self.bad(name, f"{d.isoformat()} is outside {self.earliest.isoformat()} … {latest.isoformat()}")
            return None
        return datetime.combine(d, time.min, tzinfo=self.zone)

    def month(self, name: str) -> date | None:
        """A calendar month ``YYYY-MM`` from the month of ``earliest`` to a year from today, as its first day."""
        value = self.raw(name)
        if value is None:
            return None
        self._dated()
        latest = datetime.now(self.zone).date() + timedelta(days=FUTURE_DAYS)
        try:
            if not (isinstance(value, str) and len(value.strip()) == 7 and value.strip()[4] == "-"
                    and value.strip().replace("-", "", 1).isascii() and value.strip().replace("-", "", 1).isdigit()):
                raise ValueError
            m = date(int(value.strip()[:4]), int(value.strip()[5:]), 1)
        except ValueError:
            self.bad(name, f"{_shown(value)} is not a month (YYYY-MM)")
            return None
        first, last = self.earliest.replace(day=1), latest.replace(day=1)
        if not first <= m <= last:
            self.bad(name, f"{value.strip()} is outside {first.isoformat()[:7]} … {last.isoformat()[:7]}")
            return None
        return m

    def moment(self, name: str) -> datetime | None:
        """An ISO 8601 time between ``earliest`` and a day from now (without an offset: district time)."""
        value = self.raw(name)
        if value is None:
            return None
        self._dated()
        try:
            if not isinstance(value, str):
                raise ValueError
            t = datetime.fromisoformat(value.strip())
            if t.tzinfo is None:
                t = t.replace(tzinfo=self.zone)
            ok = datetime.combine(self.earliest, time.min, tzinfo=self.zone) <= t <= _now() + SINCE_AHEAD
        except (ValueError, OverflowError):
            self.bad(name, f"{_shown(value)} is not an ISO time (YYYY-MM-DDTHH:MM[:SS][±HH:MM])")
            return None
        if not ok:
            self.bad(name, f"{value.strip()} is outside {self.earliest.isoformat()} … a day from now")
            return None
        return t

    def snapshot(self, name: str) -> str | None:
        """A cursor the server gave (``pg_current_snapshot()`` as text), checked as PostgreSQL reads one:
        ``xmin:xmax:xip,…`` with 1 ≤ xmin ≤ xmax < 2^63, neither a multiple of 2^32, and each listed id in
        [xmin, xmax), in order."""
        value = self.raw(name)
        if value is None:
            return None
        m = SNAPSHOT.fullmatch(value.strip()) if isinstance(value, str) and len(value) <= SNAPSHOT_MAX_LEN else None
        ok = m is not None
        if ok:
            xmin, xmax = int(m.group(1)), int(m.group(2))
            xip = [int(v) for v in m.group(3).split(",")] if m.group(3) else []
            # PostgreSQL refuses an xmin or xmax whose 32-bit transaction id is 0 (epoch · 2^32: invalid)
            ok = (1 <= xmin <= xmax <= MAX_XID and xmin % 2**32 != 0 and xmax % 2**32 != 0
                  and all(xmin <= v < xmax for v in xip) and xip == sorted(xip))
        if not ok:
            self.bad(name, f"{_shown(value)} is not a cursor this server gave (pass back an answer's 'cursor')")
            return None
        return value.strip()

    def bbox(self, name: str = "bbox") -> tuple[float, float, float, float] | None:
        """``W,S,E,N`` in degrees: four finite numbers, −180 ≤ W < E ≤ 180 and −90 ≤ S < N ≤ 90."""
        value = self.raw(name)
        if value is None:
            return None
        try:
            if not isinstance(value, str):
                raise ValueError
            w, s, e, n = (float(v) for v in value.split(","))
            if not (all(math.isfinite(v) for v in (w, s, e, n)) and -180 <= w < e <= 180 and -90 <= s < n <= 90):
                raise ValueError
        except ValueError:
            self.bad(name, "use bbox=W,S,E,N in degrees with -180 ≤ W < E ≤ 180 and -90 ≤ S < N ≤ 90")
            return None
        return w, s, e, n

    def flag(self, name: str, *, default: bool | None = None) -> bool | None:
        """Yes or no (:func:`parse_flag`); ``default`` when absent or blank."""
        value = self.raw(name)
        if value is None:
            return default
        try:
            return parse_flag(value)
        except ValueError:
            self.bad(name, f"{_shown(value)} is not true or false (true/false, yes/no, on/off, 1/0)")
            return None

    def spot(self, *, required: bool = True) -> tuple[float, float] | None:
        """``lon`` and ``lat`` in degrees (as sent: the caller converts display coordinates)."""
        lon = self.number("lon", lo=-180.0, hi=180.0, required=required, what="degrees")
        lat = self.number("lat", lo=-90.0, hi=90.0, required=required, what="degrees")
        return None if lon is None or lat is None else (lon, lat)


#: the words a yes-or-no parameter may be (a form's checkbox sends ``on``; a JSON body sends true/false)
FLAG_WORDS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def parse_flag(value) -> bool:
    """A yes-or-no value as sent (a JSON boolean, 0 or 1, or one of :data:`FLAG_WORDS`, any case, spaces
    around allowed) as a bool; ValueError for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in FLAG_WORDS:
        return FLAG_WORDS[value.strip().lower()]
    raise ValueError(f"{_shown(value)} is not true or false")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _shown(value) -> str:
    """A bad value as a reason quotes it: repr, cut to 40 characters (the value itself may be huge)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


class BadParameters(InvalidData):
    """Bad query parameters of a page that only reads (the statistics): 400, each parameter named."""

    status = 400


#: the area parameters of the statistics, with the ``gis.codes`` kind of each (one or none may be given)
STATS_AREAS = ("street", "community", "grid")
#: ``period`` values: the last 12 months (the default, also when absent) or every month ever recorded
STATS_PERIODS = ("12m", "all")


def parse_stats(args, *, earliest: date, tz: str, areas: dict, visible: dict | None = None,
                latest: date | None = None):
    """The period and area of ``/dashboard/stats`` and its CSVs: ``(Period, Area | None)``.

    ``period`` is ``12m`` (default: ``stats.default_period``, ``latest`` the latest month with data) or ``all``; ``start``/``end`` are months ``YYYY-MM`` (both included; one
    alone runs from the month of ``earliest`` or to this month) and exclude ``period=all``. One of ``street``,
    ``community`` or ``grid``: a code of that kind that ``areas[kind]`` (code → name, the whole district)
    holds. ``visible`` (a grid lead's areas, the same shape) limits them: a known area outside it raises
    ``NotFound`` (as an incident outside one's grids is not found). Bad values: ``BadParameters`` (400).
    """
    from app.dashboards.stats import Area, Period, add_months, default_period
    from gis.codes import COMMUNITY, GRID, STREET
    from gis.errors import NotFound

    p = Params(args, earliest=earliest, tz=tz)
    kind_of = {"street": STREET, "community": COMMUNITY, "grid": GRID}
    which = p.choice("period", STATS_PERIODS, default="12m")
    start, end = p.month("start"), p.month("end")
    period = None
    if which == "all" and (start or end):
        p.bad("period", "all covers every month: leave start and end empty, or choose the last 12 months")
    elif start and end and end < start:
        p.bad("end", f"{end.isoformat()[:7]} is before the start {start.isoformat()[:7]}")
    elif which == "all":
        period = Period(None, None)
    elif start or end:
        today = datetime.now(ZoneInfo(tz)).date()
        period = Period(start or earliest.replace(day=1), add_months(end or today, 1))
    elif which is not None:
        period = default_period(tz, latest=latest)
    area, given = None, [k for k in STATS_AREAS if p.raw(k) is not None]
    for extra in given[1:]:
        p.bad(extra, f"give one area only: {given[0]} is given already")
    if given:
        kind = given[0]
        code = p.code(kind, kind_of[kind])
        names = dict(areas.get(kind, ()))
        if code is not None and code not in names:
            p.bad(kind, f"{code} is no {kind} of this district")
        elif code is not None:
            area = Area(kind, code, names[code])
    if p.errors:
        raise BadParameters(p.errors)
    if area is not None and visible is not None and area.code not in dict(visible.get(area.kind, ())):
        raise NotFound(f"{area.kind} {area.code} holds none of your grids")
    return period, area


# -- the filters and spots the dashboard routes share ------------------------------------------------
def parse_filter(args, *, basemap: str = "none", categories=None, earliest: date, tz: str):
    """An ``IncidentFilter`` from request arguments; every bad value is named in one ``InvalidData``.

    ``state`` (repeatable, or ``all``) from ``STATES``; ``category`` (repeatable) from ``categories``
    (the stored code list; None = not checked); ``start``/``end`` district dates, the end day included;
    ``street``/``community`` codes; ``since`` an ISO time; ``after`` a cursor (an answer's ``cursor``); ``bbox`` in display coordinates.
    """
    from app.dashboards.service import IncidentFilter
    from app.incidents.models import STATES
    from gis.codes import COMMUNITY, STREET

    p = Params(args, earliest=earliest, tz=tz)
    flt = IncidentFilter()
    states = p.choices("state", set(STATES) | {"all"})
    if states:
        flt.states = [] if "all" in states else states
    flt.categories = p.choices("category", categories) if categories is not None else \
        [c for c in p.values("category") if isinstance(c, str)]
    flt.start = p.day("start")
    end = p.day("end")
    flt.end = end + timedelta(days=1) if end else None  # the end day is included
    if flt.start and flt.end and flt.start >= flt.end:
        p.bad("end", f"{end.date().isoformat()} is before the start {flt.start.date().isoformat()}")
    flt.street, flt.community = p.code("street", STREET), p.code("community", COMMUNITY)
    flt.since = p.moment("since")
    flt.after = p.snapshot("after")
    box = p.bbox("bbox")
    if box is not None:
        flt.bbox = display_bbox_to_wgs84(box, basemap)
    p.done()
    return flt


def display_bbox_to_wgs84(bbox, basemap: str) -> tuple[float, float, float, float]:
    """A bounding box seen on the map back in WGS-84; on a GCJ-02 basemap widened by 1 km so
    the ~0.5 km shift can never drop an incident at the edge of the view."""
    from layers.base import display_crs

    w, s, e, n = bbox
    if display_crs(basemap) == "gcj02":
        pad = 0.01
        return w - pad, s - pad, e + pad, n + pad
    return w, s, e, n


def display_to_wgs84(lon: float, lat: float, basemap: str) -> tuple[float, float]:
    """A spot in display coordinates (GCJ-02 on an Amap basemap, else WGS-84) → WGS-84 lon/lat."""
    from layers.base import display_crs

    if display_crs(basemap) == "gcj02":
        from gis.crs import gcj02_to_wgs84

        x, y = gcj02_to_wgs84(lon, lat)
        return float(x), float(y)
    return float(lon), float(lat)


def parse_spot(args, *, basemap: str = "none") -> tuple[float, float]:
    """(lon, lat) in WGS-84 from arguments ``lon``/``lat`` given in display coordinates; a missing or
    impossible value raises InvalidData naming the field."""
    p = Params(args)
    spot = p.spot()
    p.done()
    return display_to_wgs84(*spot, basemap)
