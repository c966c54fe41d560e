"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) over the incident services.

Plain functions that return ``(status, headers, body)`` and know nothing of Flask; ``views.py``
routes to them. Services are the incident categories; service requests are incidents, identified
by their numeric id. ``status`` is ``open``/``closed`` (closed = closed or voided) and
``status_notes`` carries our detailed workflow state. Reporter phone and e-mail never leave.
Errors are always ``[{"code": N, "description": "…"}]`` (``<errors><error>…`` in XML).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.incidents.models import Category, Incident
from gis.errors import GridwatchError, InvalidData

FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
DEFAULT_WINDOW = timedelta(days=90)   # the spec's default date window for GET requests
MAX_PAGE_SIZE = 1000                  # the spec's customary cap on one response
CLOSED_STATES = ("closed", "voided")
# Open311 groups: the digital urban-management event classes versus the grid-governance ones (DOMAIN.md)
GROUPS = {"dispute": "网格治理 grid governance", "safety_hazard": "网格治理 grid governance",
          "work_safety": "网格治理 grid governance", "public_service": "网格治理 grid governance"}
DEFAULT_GROUP = "城市管理 urban management"
REQUEST_FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url")
SERVICE_FIELDS = ("service_code", "service_name", "description", "metadata", "type", "keywords", "group")


# -- rendering --------------------------------------------------------------------------------
def _xml_value(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return escape(str(v))


def _xml(root: str, item: str, rows: list[dict]) -> str:
    parts = ['<?xml version="1.0" encoding="utf-8"?>', f"<{root}>"]
    for row in rows:
        parts.append(f"<{item}>" + "".join(f"<{k}>{_xml_value(v)}</{k}>" for k, v in row.items()
                                           if not isinstance(v, list)) + f"</{item}>")
    parts.append(f"</{root}>")
    return "".join(parts)


def _respond(status: int, fmt: str, root: str, item: str, rows: list[dict]):
    if fmt == "xml":
        body = _xml(root, item, rows)
    else:
        body = json.dumps(rows, ensure_ascii=False)
    return status, {"Content-Type": FORMATS.get(fmt, FORMATS["json"])}, body


def error(code: int, description: str, fmt: str = "json"):
    """An Open311 error response: ``[{"code": code, "description": description}]`` with HTTP ``code``."""
    return _respond(code, fmt if fmt in FORMATS else "json", "errors", "error",
                    [{"code": code, "description": description}])


def _fmt_ok(fmt: str):
    return None if fmt in FORMATS else error(404, f"unknown format {fmt!r}; use .json or .xml")


def iso(ts: datetime | None, tz: str) -> str | None:
    """ISO 8601 with the district's offset (e.g. 2025-03-01T08:30:00+08:00), as the spec requires."""
    return None if ts is None else ts.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


def _parse_time(value: str, tz: str) -> datetime:
    ts = datetime.fromisoformat(value.strip().replace(" ", "+") if "T" in value and " " in value else value.strip())
    return ts.replace(tzinfo=ZoneInfo(tz)) if ts.tzinfo is None else ts


# -- services ---------------------------------------------------------------------------------
def _service(c: Category) -> dict:
    return {"service_code": c.code, "service_name": c.name_zh,
            "description": f"{c.name_zh} — {c.name_en} (normal deadline {c.normal_h:g} h)",
            "metadata": False, "type": "realtime", "keywords": f"{c.name_zh}, {c.name_en.lower()}, {c.code}",
            "group": GROUPS.get(c.code, DEFAULT_GROUP)}


def get_services(session: Session, fmt: str = "json"):
    """``GET services.{fmt}``: every incident category as an Open311 service."""
    if (bad := _fmt_ok(fmt)):
        return bad
    rows = [_service(c) for c in session.scalars(select(Category).order_by(Category.code))]
    return _respond(200, fmt, "services", "service", rows)


def get_service_definition(session: Session, code: str, fmt: str = "json"):
    """``GET services/{code}.{fmt}``: our services take no extra attributes (``metadata`` false)."""
    if (bad := _fmt_ok(fmt)):
        return bad
    if session.get(Category, code) is None:
        return error(404, f"service_code {code!r} not found; GET services.json lists them", fmt)
    if fmt == "xml":
        body = (f'<?xml version="1.0" encoding="utf-8"?><service_definition><service_code>{escape(code)}'
                "</service_code><attributes></attributes></service_definition>")
        return 200, {"Content-Type": FORMATS["xml"]}, body
    return 200, {"Content-Type": FORMATS["json"]}, json.dumps({"service_code": code, "attributes": []})


# -- requests ---------------------------------------------------------------------------------
def _request_row(inc: Incident, lon: float, lat: float, cat: Category | None, tz: str) -> dict:
    return {
        "service_request_id": str(inc.id),
        "status": "closed" if inc.state in CLOSED_STATES else "open",
        "status_notes": inc.state,
        "service_name": cat.name_zh if cat else inc.category_code,
        "service_code": inc.category_code,
        "description": inc.description,
        "agency_responsible": f"大安区网格 {inc.grid_code}" if inc.grid_code else "大安区",
        "service_notice": None,
        "requested_datetime": iso(inc.reported_at, tz),
        "updated_datetime": iso(inc.updated_at, tz),
        "expected_datetime": iso(inc.deadline, tz),
        "address": inc.address,
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": inc.media_url,
    }


def _rows(session: Session, incidents: list[Incident], tz: str) -> list[dict]:
    if not incidents:
        return []
    coords = dict((r[0], (r[1], r[2])) for r in session.execute(text(
        "SELECT id, ST_X(geom), ST_Y(geom) FROM incidents WHERE id = ANY(:ids)"), {"ids": [i.id for i in incidents]}))
    cats = {c.code: c for c in session.scalars(select(Category))}
    return [_request_row(i, *coords[i.id], cats.get(i.category_code), tz) for i in incidents]


def get_request(session: Session, request_id: str, fmt: str = "json", *, tz: str = "Asia/Shanghai"):
    """``GET requests/{id}.{fmt}``: one service request, as a one-element list (per the spec)."""
    if (bad := _fmt_ok(fmt)):
        return bad
    inc = session.get(Incident, int(request_id)) if request_id.isdigit() and len(request_id) < 10 else None
    if inc is None:
        return error(404, f"service_request_id {request_id!r} not found", fmt)
    return _respond(200, fmt, "service_requests", "request", _rows(session, [inc], tz))


def get_requests(session: Session, args, fmt: str = "json", *, tz: str = "Asia/Shanghai",
                 now: datetime | None = None):
    """``GET requests.{fmt}`` with service_request_id, service_code, start_date, end_date, status, page, page_size.

    ``service_request_id`` (comma list) overrides every other filter, as the spec says. Without
    dates the window is the last 90 days; one page holds at most 1000 requests (``page_size``).
    """
    if (bad := _fmt_ok(fmt)):
        return bad
    now = now or datetime.now(timezone.utc)
    stmt = select(Incident)
    ids = (args.get("service_request_id") or "").strip()
    try:
        page = int(args.get("page") or 1)
        size = int(args.get("page_size") or MAX_PAGE_SIZE)
    except ValueError:
        return error(400, "page and page_size must be whole numbers", fmt)
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        return error(400, f"page must be ≥ 1 and page_size between 1 and {MAX_PAGE_SIZE}", fmt)
    if ids:
        wanted = [int(v) for v in (p.strip() for p in ids.split(",")) if v.isdigit() and len(v) < 10]
        stmt = stmt.where(Incident.id.in_(wanted))
    else:
        try:
            start = _parse_time(args["start_date"], tz) if args.get("start_date") else None
            end = _parse_time(args["end_date"], tz) if args.get("end_date") else None
        except ValueError:
            return error(400, "start_date and end_date must be ISO 8601 date-times with a time zone, "
                              "e.g. 2025-03-01T00:00:00+08:00", fmt)
        if start is None and end is None:
            end = now
        if start is None:
            start = end - DEFAULT_WINDOW
        if end is None:
            end = start + DEFAULT_WINDOW
        if end < start:
            return error(400, "end_date is earlier than start_date", fmt)
        stmt = stmt.where(Incident.reported_at >= start, Incident.reported_at <= end)
        codes = [c.strip() for c in (args.get("service_code") or "").split(",") if c.strip()]
        if codes:
            stmt = stmt.where(Incident.category_code.in_(codes))
        status = (args.get("status") or "").strip().lower()
        if status:
            wanted_states = [s for s in status.split(",") if s]
            if any(s not in ("open", "closed") for s in wanted_states):
                return error(400, f"status must be open or closed, not {status!r}", fmt)
            if wanted_states == ["open"]:
                stmt = stmt.where(Incident.state.not_in(CLOSED_STATES))
            elif wanted_states == ["closed"]:
                stmt = stmt.where(Incident.state.in_(CLOSED_STATES))
    stmt = stmt.order_by(Incident.reported_at.desc(), Incident.id.desc()).offset((page - 1) * size).limit(size)
    return _respond(200, fmt, "service_requests", "request", _rows(session, list(session.scalars(stmt)), tz))


def post_request(session: Session, form, fmt: str = "json", *, settings=None):
    """``POST requests.{fmt}`` (form-encoded): report an incident from an Open311 client.

    Needs ``api_key`` (403 when missing or wrong), ``service_code`` and ``lat``/``long`` in WGS-84.
    ``address_string`` alone is refused with 400: there is no offline address geocoder, and a
    guessed position would send the case to the wrong grid. The caller commits.
    """
    from app.incidents.service import report_incident

    if (bad := _fmt_ok(fmt)):
        return bad
    api_key = (form.get("api_key") or "").strip()
    if not api_key:
        return error(403, "api_key is required; ask the district for one (gridwatch api-keys add NAME)", fmt)
    from app.open311.keys import key_name as _key_name

    key_name = _key_name(session, api_key)
    if key_name is None:
        return error(403, "api_key is not valid", fmt)
    code = (form.get("service_code") or "").strip()
    if not code:
        return error(400, "service_code is required; GET services.json lists them", fmt)
    if session.get(Category, code) is None:
        return error(400, f"service_code {code!r} not found; GET services.json lists them", fmt)
    lat_s, lon_s = (form.get("lat") or "").strip(), (form.get("long") or "").strip()
    address = (form.get("address_string") or "").strip() or None
    if not (lat_s and lon_s):
        if address:
            return error(400, "address_string alone cannot be located offline; send lat and long (WGS-84) too", fmt)
        return error(400, "a location is required: lat and long (WGS-84 degrees)", fmt)
    try:
        lat, lon = float(lat_s), float(lon_s)
    except ValueError:
        return error(400, f"lat and long must be decimal degrees, not {lat_s!r}, {lon_s!r}", fmt)
    media = (form.get("media_url") or "").strip() or None
    if media and not media.lower().startswith(("http://", "https://")):
        return error(400, "media_url must be an http(s) URL", fmt)
    name = " ".join(p for p in ((form.get("first_name") or "").strip(), (form.get("last_name") or "").strip()) if p)
    try:
        inc = report_incident(
            session, category=code, source="public", description=(form.get("description") or "").strip()[:4000],
            lon=lon, lat=lat, address=address[:200] if address else None, reporter_name=name[:60] or None,
            reporter_phone=(form.get("phone") or "").strip()[:30] or None,
            reporter_email=(form.get("email") or "").strip()[:120] or None, media_url=media[:500] if media else None,
            actor=f"open311:{key_name}", settings=settings)
    except InvalidData as exc:
        return error(400, "; ".join(e.reason for e in exc.errors), fmt)
    except GridwatchError as exc:
        return error(exc.status, str(exc), fmt)
    notice = (f"suspected duplicate of request {inc.duplicate_of_id}; an operator will check it"
              if inc.duplicate_of_id else None)
    return _respond(201, fmt, "service_requests", "request",
                    [{"service_request_id": str(inc.id), "service_notice": notice, "account_id": None}])
