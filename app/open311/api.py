"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) over the incident services.

Plain functions that return ``(status, headers, body)`` and know nothing of Flask; ``views.py``
routes to them. Services are the incident categories; service requests are incidents, identified
by their numeric id. ``status`` is ``open``/``closed`` (closed = closed or voided) and
``status_notes`` carries our detailed workflow state. Reporter name, phone and e-mail never leave.
Errors are always ``[{"code": N, "description": "…"}, …]`` (``<errors><error>…`` in XML), one per
bad field.

Reads of requests need an API key (``keys.authenticate``) and see what the key's account sees; the
setting ``open311_anonymous_reads`` lets reads without a key through, masked (``_request_row``).
The catalogue (``services``) is public.
"""
from __future__ import annotations

import functools
import inspect
import json
import re
from datetime import datetime, timedelta, timezone
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.accounts.auth import visible_grid_codes
from app.incidents.models import Category, Incident
from app.accounts.keys import ANONYMOUS, Caller, KeyRefused, authenticate
from app.open311.params import LIMITS, MAX_PAGE, MAX_PAGE_SIZE, Fields, request_id, shift
from gis.errors import GridwatchError, InvalidData, NotFound, RowError

FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
DEFAULT_WINDOW = timedelta(days=90)   # the spec's default date window for GET requests
CLOSED_STATES = ("closed", "voided")
STATUSES = ("open", "closed")
# anonymous reads show spots on a 0.001° grid: ≤ 56 m off in latitude and ≤ 49 m in longitude at the
# district's ~29.4°N (≤ 74 m in all), enough to tell the street, not the doorway
ANONYMOUS_DECIMALS = 3
# Open311 groups: the digital urban-management event classes versus the grid-governance ones (DOMAIN.md)
GROUPS = {"dispute": "网格治理 grid governance", "safety_hazard": "网格治理 grid governance",
          "work_safety": "网格治理 grid governance", "public_service": "网格治理 grid governance"}
DEFAULT_GROUP = "城市管理 urban management"
REQUEST_FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url")
SERVICE_FIELDS = ("service_code", "service_name", "description", "metadata", "type", "keywords", "group")
# characters XML 1.0 cannot carry at all (text stored before gis.text refused them): shown as U+FFFD
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# -- rendering --------------------------------------------------------------------------------
def _xml_value(v) -> str:
    """Text XML 1.0 can carry: a character it cannot (stored before input was checked, or by SQL) is U+FFFD,
    so one bad description never makes a response, or a list containing it, malformed."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return _NOT_XML.sub("\ufffd", str(v))


def _xml_element(parent: ET.Element, name: str, value) -> None:
    """``<name>value</name>`` under ``parent``; a dict value nests, a list value repeats its items' tag
    (``{"endpoint": [...]}`` inside ``<endpoints>``: the discovery document's shape)."""
    node = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for k, v in value.items():
            _xml_element(node, k, v)
    elif isinstance(value, list):
        for entry in value:
            item_name, item_value = entry if isinstance(entry, tuple) else (name[:-1] or name, entry)
            _xml_element(node, item_name, item_value)
    else:
        node.text = _xml_value(value)


def _xml(root: str, item: str | None, rows) -> str:
    """An XML document written by ElementTree: ``<root><item>…</item>…</root>`` for a list of rows, or the
    elements of one dict directly under ``root`` when ``item`` is None."""
    top = ET.Element(root)
    for row in ([rows] if item is None else rows):
        parent = top if item is None else ET.SubElement(top, item)
        for k, v in row.items():
            _xml_element(parent, k, v)
    return '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="unicode")


def _respond(status: int, fmt: str, root: str, item: str, rows: list[dict]):
    if fmt == "xml":
        body = _xml(root, item, rows)
    else:
        body = json.dumps(rows, ensure_ascii=False)
    return status, {"Content-Type": FORMATS.get(fmt, FORMATS["json"])}, body


def error(code: int, description: str | list[str], fmt: str = "json"):
    """An Open311 error response with HTTP ``code``: one ``{"code", "description"}`` per description."""
    descriptions = [description] if isinstance(description, str) else description
    status, headers, body = _respond(code, fmt if fmt in FORMATS else "json", "errors", "error",
                                     [{"code": code, "description": d} for d in descriptions])
    if code == 401:
        headers["WWW-Authenticate"] = 'APIKey realm="open311", header="X-API-Key"'
    return status, headers, body


def _fmt_ok(fmt: str):
    return None if fmt in FORMATS else error(404, f"unknown format {fmt!r}; use .json or .xml")


def _open311_errors(endpoint):
    """Turn a refused key, bad fields and other domain errors into Open311 errors in the URL's format."""
    signature = inspect.signature(endpoint)

    @functools.wraps(endpoint)
    def wrapped(*args, **kw):
        bound = signature.bind(*args, **kw)
        bound.apply_defaults()
        fmt = bound.arguments["fmt"]
        if (bad := _fmt_ok(fmt)):
            return bad
        try:
            return endpoint(*args, **kw)
        except KeyRefused as exc:
            return error(exc.status, str(exc), fmt)
        except InvalidData as exc:
            return error(400, [f"{e.field}: {e.reason}" if e.field else e.reason for e in exc.errors], fmt)
        except GridwatchError as exc:
            return error(exc.status, str(exc), fmt)
    return wrapped


def iso(ts: datetime | None, tz: str) -> str | None:
    """ISO 8601 with the district's offset (e.g. 2025-03-01T08:30:00+08:00), as the spec requires."""
    return None if ts is None else ts.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds")


# -- discovery and jurisdiction --------------------------------------------------------------------
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
#: the last change to what this endpoint offers (the spec's ``changeset``): bump it when the API changes
CHANGESET = "2026-12-02T00:00:00+08:00"


def get_discovery(base_url: str, district, fmt: str = "json"):
    """``GET discovery.{fmt}``: the service discovery document the spec requires (public)."""
    if (bad := _fmt_ok(fmt)):
        return bad
    endpoint = {"specification": SPECIFICATION, "url": base_url.rstrip("/"), "changeset": CHANGESET,
                "type": "production", "formats": ["text/xml", "application/json"]}
    doc = {"changeset": CHANGESET, "contact": f"{district.name} 网格化服务管理中心 ({district.name_en})",
           "key_service": "an API key is issued by the district's administrators (gridwatch api-keys add); send it "
                          "in the X-API-Key header or as api_key in a POST body",
           "jurisdiction_id": district.code, "endpoints": [endpoint]}
    if fmt == "xml":
        xml_doc = {**doc, "endpoints": [("endpoint", {**endpoint, "formats": [("format", f) for f in
                                                                              endpoint["formats"]]})]}
        return 200, {"Content-Type": FORMATS["xml"]}, _xml("discovery", None, xml_doc)
    return 200, {"Content-Type": FORMATS["json"]}, json.dumps(doc, ensure_ascii=False)


def check_jurisdiction(values, district) -> None:
    """``jurisdiction_id``, when a client sends it, must be the district's (its GB/T 2260 code): a 404 otherwise,
    as for any resource this endpoint does not serve."""
    given = str(values.get("jurisdiction_id") or "").strip()
    if given and given != district.code:
        raise NotFound(f"jurisdiction_id {given[:40]!r} not found: this endpoint serves {district.code} "
                       f"({district.name}); discovery.json names it")


# -- services ---------------------------------------------------------------------------------
def _service(c: Category) -> dict:
    return {"service_code": c.code, "service_name": c.name_zh,
            "description": f"{c.name_zh} — {c.name_en} (normal deadline {c.normal_h:g} h)",
            "metadata": False, "type": "realtime", "keywords": f"{c.name_zh}, {c.name_en.lower()}, {c.code}",
            "group": GROUPS.get(c.code, DEFAULT_GROUP)}


@_open311_errors
def get_services(session: Session, fmt: str = "json"):
    """``GET services.{fmt}``: every incident category as an Open311 service (public: a catalogue)."""
    rows = [_service(c) for c in session.scalars(select(Category).order_by(Category.code))]
    return _respond(200, fmt, "services", "service", rows)


@_open311_errors
def get_service_definition(session: Session, code: str, fmt: str = "json"):
    """``GET services/{code}.{fmt}``: our services take no extra attributes (``metadata`` false)."""
    fields = Fields({"service_code": code})
    code = fields.text("service_code")
    fields.check()
    if code is None or session.get(Category, code) is None:
        return error(404, f"service_code {code!r} not found; GET services.json lists them", fmt)
    if fmt == "xml":
        return 200, {"Content-Type": FORMATS["xml"]}, _xml("service_definition", None,
                                                             {"service_code": code, "attributes": []})
    return 200, {"Content-Type": FORMATS["json"]}, json.dumps({"service_code": code, "attributes": []},
                                                              ensure_ascii=False)


# -- requests ---------------------------------------------------------------------------------
def _reader(session: Session, key: str | None, settings) -> Caller:
    """The caller of a read: the key's account, or nobody when the key is absent and anonymous reads are on.

    A key that is sent is always checked, so a mistyped key is a 401 rather than a quietly masked answer."""
    if not (key or "").strip() and settings.open311_anonymous_reads:
        return ANONYMOUS
    return authenticate(session, key)


def _scoped(stmt, session: Session, caller: Caller):
    """Only the incidents the caller's account sees (a grid lead: their grids); anonymous: all, masked."""
    grids = None if caller.anonymous else visible_grid_codes(caller.user, session)
    return stmt if grids is None else stmt.where(Incident.grid_code.in_(sorted(grids)))


def _request_row(inc: Incident, lon: float, lat: float, cat: Category | None, district, masked: bool,
                 photo_url: str | None = None) -> dict:
    """One service request. ``masked`` (anonymous reads): the spot on a 0.001° grid, and no description,
    address or photo for sensitive categories (disputes, safety hazards: they name people and doors)."""
    hide = masked and (cat is None or cat.sensitive)
    tz = district.timezone
    if masked:
        lon, lat = round(lon, ANONYMOUS_DECIMALS), round(lat, ANONYMOUS_DECIMALS)
    return {
        "service_request_id": str(inc.id),
        "status": "closed" if inc.state in CLOSED_STATES else "open",
        "status_notes": inc.state,
        "service_name": cat.name_zh if cat else inc.category_code,
        "service_code": inc.category_code,
        "description": None if hide else inc.description,
        "agency_responsible": f"{district.name}网格 {inc.grid_code}" if inc.grid_code else district.name,
        "service_notice": None,
        "requested_datetime": iso(inc.reported_at, tz),
        "updated_datetime": iso(inc.updated_at, tz),
        "expected_datetime": iso(inc.deadline, tz),
        "address": None if hide else inc.address,
        "address_id": None,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": None if hide else (photo_url or inc.media_url),  # our first photo, else the client's link
    }


def _rows(session: Session, incidents: list[Incident], district, caller: Caller) -> list[dict]:
    if not incidents:
        return []
    coords = dict((r[0], (r[1], r[2])) for r in session.execute(text(
        "SELECT id, ST_X(geom), ST_Y(geom) FROM incidents WHERE id = ANY(:ids)"), {"ids": [i.id for i in incidents]}))
    cats = {c.code: c for c in session.scalars(select(Category))}
    # media_url: the first photo, behind the photo route's access rules (the caller adds its key); an
    # anonymous read cannot open a photo, so it gets only the link a client stored
    from app.photos.service import first_photo_ids, photo_url

    photos = {} if caller.anonymous else first_photo_ids(session, [i.id for i in incidents])
    return [_request_row(i, *coords[i.id], cats.get(i.category_code), district, caller.anonymous,
                         photo_url(photos[i.id], external=True) if i.id in photos else None)
            for i in incidents]


@_open311_errors
def get_request(session: Session, rid: str, fmt: str = "json", *, key: str | None, settings):
    """``GET requests/{id}.{fmt}``: one service request, as a one-element list (per the spec); 404 when
    unknown or outside the key's grids (the same answer, so ids of other grids are not confirmed)."""
    caller = _reader(session, key, settings)
    number = request_id(rid)
    inc = None if number is None else session.scalar(
        _scoped(select(Incident).where(Incident.id == number), session, caller))
    if inc is None:
        return error(404, f"service_request_id {rid[:40]!r} not found", fmt)
    return _respond(200, fmt, "service_requests", "request", _rows(session, [inc], settings.district, caller))


def _window(fields: Fields, tz: str, now: datetime) -> tuple[datetime, datetime] | None:
    """start_date/end_date (90 days from/to the one given, the 90 days up to now without either)."""
    start, end = fields.date("start_date", tz), fields.date("end_date", tz, end=True)
    if fields.errors:
        return None
    if start is None and end is None:
        end = now
    start = start or shift(end, -DEFAULT_WINDOW)
    end = end or shift(start, DEFAULT_WINDOW)
    if end < start:
        fields.bad("end_date", "is earlier than start_date")
        return None
    return start, end


def _known_codes(fields: Fields, session: Session) -> list[str] | None:
    codes = fields.codes("service_code")
    if codes:
        known = set(session.scalars(select(Category.code)))
        if unknown := [c for c in codes if c not in known]:
            raise NotFound(f"service_code {unknown[0][:40]!r} not found; GET services.json lists them")
    return codes


@_open311_errors
def get_requests(session: Session, args, fmt: str = "json", *, key: str | None, settings,
                 now: datetime | None = None):
    """``GET requests.{fmt}`` with service_request_id, service_code, start_date, end_date, status, page, page_size.

    ``service_request_id`` (comma list) overrides every other filter, as the spec says. Without
    dates the window is the last 90 days; one page holds at most 1000 requests (``page_size``).
    Dates without an offset are times of the district's zone (``settings.district.timezone``).
    """
    caller = _reader(session, key, settings)
    fields = Fields(args)
    page = fields.whole("page", 1, 1, MAX_PAGE)
    size = fields.whole("page_size", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    ids = fields.ids()
    stmt = _scoped(select(Incident), session, caller)
    if ids:
        stmt = stmt.where(Incident.id.in_(ids))
    else:
        window = _window(fields, settings.district.timezone, now or datetime.now(timezone.utc))
        codes = _known_codes(fields, session)
        statuses = [s.lower() for s in fields.codes("status") or []]
        if bad := [s for s in statuses if s not in STATUSES]:
            fields.bad("status", f"{bad[0][:40]!r}: use open, closed or both (open,closed)")
        fields.check()
        stmt = stmt.where(Incident.reported_at >= window[0], Incident.reported_at <= window[1])
        if codes:
            stmt = stmt.where(Incident.category_code.in_(codes))
        if set(statuses) == {"open"}:
            stmt = stmt.where(Incident.state.not_in(CLOSED_STATES))
        elif set(statuses) == {"closed"}:
            stmt = stmt.where(Incident.state.in_(CLOSED_STATES))
    fields.check()
    stmt = stmt.order_by(Incident.reported_at.desc(), Incident.id.desc()).offset((page - 1) * size).limit(size)
    rows = _rows(session, list(session.scalars(stmt)), settings.district, caller)
    return _respond(200, fmt, "service_requests", "request", rows)


def _report_fields(fields: Fields) -> dict:
    """The POST form as ``report_incident`` keywords; every bad or missing field is noted on ``fields``."""
    code = fields.text("service_code")
    lat, lon = fields.degrees("lat", 90), fields.degrees("long", 180)
    address = fields.text("address_string")
    first, last = (fields.text(f, max_len=LIMITS["name"]) for f in ("first_name", "last_name"))
    name = " ".join(p for p in (first, last) if p) or None
    media = fields.text("media_url")
    out = dict(category=code, lat=lat, lon=lon, address=address, reporter_name=name, media_url=media,
               description=fields.text("description", multiline=True) or "",
               reporter_phone=fields.text("phone"), reporter_email=fields.text("email"))
    if name and len(name) > LIMITS["name"]:
        fields.bad("first_name + last_name", f"together {len(name)} characters long; at most {LIMITS['name']} allowed")
    if not fields.raw("service_code"):
        fields.bad("service_code", "is required; GET services.json lists them")

    if not (fields.raw("lat") and fields.raw("long")):
        fields.bad("lat" if not fields.raw("lat") else "long",
                   "address_string alone cannot be located offline; send lat and long (WGS-84) too" if address
                   else "a location is required: lat and long (WGS-84 degrees)")
    if media and not media.lower().startswith(("http://", "https://")):
        fields.bad("media_url", "must be an http(s) URL")
    return out


@_open311_errors
def post_request(session: Session, form, fmt: str = "json", *, key: str | None, settings, media=()):
    """``POST requests.{fmt}`` (form-encoded): report an incident from an Open311 client.

    Needs an API key (401 without or with an unknown one, 403 revoked or its account disabled),
    ``service_code`` and ``lat``/``long`` in WGS-84. Every text is refused (400 naming the field and
    the limit) rather than cut when it is longer than its column or holds control or bidirectional-
    override characters; nothing is written then. ``address_string`` alone is refused with 400: there
    is no offline address geocoder, and a guessed position would send the case to the wrong grid.
    The caller commits.
    """
    from app.incidents.service import report_incident

    # the audit log's actor of what this request writes is set by the key's own query
    caller = authenticate(session, key, actor_prefix="open311:")
    fields = Fields(form)
    report = _report_fields(fields)
    fields.check()
    files = [f for f in media or () if getattr(f, "filename", None) or getattr(f, "content_length", 0)]
    if files and report.get("media_url"):
        raise InvalidData(RowError(None, "media", "send either a media file or a media_url, not both"))
    try:  # the write checks the category (no query of its own)
        inc = report_incident(session, source="public", actor=f"open311:{caller.key_name}", settings=settings,
                              **report)
    except InvalidData as exc:
        if any(e.field == "category" for e in exc.errors):  # well formed, but no such service: the spec's 404
            raise NotFound(f"service_code {report['category'][:40]!r} not found; GET services.json lists them") from None
        raise
    row = {"service_request_id": str(inc.id), "service_notice": None, "account_id": None}
    if files:
        from app.photos.service import add_photos, photo_url

        try:
            photos = add_photos(session, inc, files, kind="before", actor=f"open311:{caller.key_name}",
                                settings=settings)
        except InvalidData as exc:  # the photo checks name photos / photos[i]: here the field is ``media``
            raise InvalidData([RowError(None, "media" + (e.field or "")[len("photos"):], e.reason)
                               for e in exc.errors]) from None
        row["media_url"] = photo_url(photos[0].id, external=True)
    if inc.duplicate_of_id:
        row["service_notice"] = f"suspected duplicate of request {inc.duplicate_of_id}; an operator will check it"
    return _respond(201, fmt, "service_requests", "request", [row])
