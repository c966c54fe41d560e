"""Reports from the field (现场上报): the checks of the ``/report`` form, the grid under a pin, the open
incidents near it, and the one transaction that stores a report, or adds it to an incident it repeats.

Nothing here knows Flask. Every function takes a SQLAlchemy ``Session`` and raises ``gis.errors``; the
caller commits. A report is sent exactly once: the page makes one idempotency key per draft and every
retry sends it again. A new report keeps it in ``incidents.idempotency_key`` (race-safe in
``app.incidents.service.report_incident``); a report added to an existing incident keeps it in its
comment event's ``note_args`` (``{"report_key": K}``), looked up under the incident's row lock.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.accounts.models import FIELD_ROLES
from app.dashboards.params import MAX_ID, Params, display_to_wgs84
from app.incidents import permissions
from app.incidents import service as incidents
from app.incidents.models import DESCRIPTION_MAX, OPEN_STATES, SOURCES, Category, Incident, IncidentEvent
from gis.errors import Conflict, InvalidData, NotFound, RowError
from gis.text import column_length

#: how many nearby open incidents the form offers ("是其中之一吗？")
NEARBY_MAX = 5
#: how much of a nearby incident's description the offer shows
NEARBY_TEXT = 140
#: coordinates a form may send: as shown on the map (GCJ-02 on an Amap basemap) or WGS-84 from the GPS
FORM_CRS = ("display", "wgs84")
#: the source of a report a field role (网格员, 网格长) makes; the command centre chooses one of ``SOURCES``
FIELD_SOURCE = "patrol"
#: a command-centre report's source when none is chosen: a phone call (热线电话)
DEFAULT_SOURCE = "hotline"
_COLUMNS = Incident.__table__.c
LIMITS = {"address": column_length(_COLUMNS.address), "reporter_name": column_length(_COLUMNS.reporter_name),
          "reporter_phone": column_length(_COLUMNS.reporter_phone), "category": column_length(_COLUMNS.category_code),
          "idempotency_key": column_length(_COLUMNS.idempotency_key)}


def incident_no(inc) -> str:
    """The number people quote for an incident: its external id (e.g. a hotline ticket), else its id."""
    return inc.external_id or str(inc.id)


def sources_for(user) -> tuple[str, ...]:
    """The sources ``user`` may give a report: a field role reports from patrol only."""
    return (FIELD_SOURCE,) if user.role in FIELD_ROLES else SOURCES


def default_source(user) -> str:
    """The source a new report starts with: patrol in the field, a phone call in the command centre."""
    allowed = sources_for(user)
    return allowed[0] if len(allowed) == 1 else DEFAULT_SOURCE


@dataclass
class Report:
    """One checked report as the form sent it; ``lon``/``lat`` in WGS-84."""

    idempotency_key: str
    category: str
    description: str
    lon: float
    lat: float
    source: str
    address: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    join_id: int | None = None   # the open incident this report repeats, chosen from the nearby ones


def read_report(form, *, user, categories, basemap: str) -> Report:
    """The ``/report`` form checked field by field; one ``InvalidData`` naming every bad field.

    ``categories``: the known category codes; ``basemap`` decides what ``crs=display`` means.
    """
    p = Params(form)
    key = p.text("idempotency_key", max_len=LIMITS["idempotency_key"], required=True)
    if key is not None and not incidents.IDEMPOTENCY_KEY.fullmatch(key):
        p.bad("idempotency_key", "1–64 letters, digits, '-' or '_' (the page makes one per report)")
    category = p.text("category", max_len=LIMITS["category"], required=True)
    if category is not None and category not in categories:
        p.bad("category", f"{category[:40]!r} is not a category; choose one of the list")
    description = p.text("description", max_len=DESCRIPTION_MAX, multiline=True, required=True)
    crs = p.choice("crs", FORM_CRS, default="display")
    spot = p.spot()
    source = p.choice("source", sources_for(user), default=default_source(user))
    address = p.text("address", max_len=LIMITS["address"]) or None
    caller = {}
    for name in ("reporter_name", "reporter_phone"):
        value = p.text(name, max_len=LIMITS[name]) or None
        if value is not None and user.role in FIELD_ROLES:
            p.bad(name, "only the command centre records a caller's details")
        caller[name] = value
    join_id = p.integer("join", lo=1, hi=MAX_ID)
    p.done()
    lon, lat = spot if crs == "wgs84" else display_to_wgs84(*spot, basemap)
    return Report(idempotency_key=key, category=category, description=description, lon=lon, lat=lat,
                  source=source, address=address, join_id=join_id, **caller)


def grid_at(session: Session, lon: float, lat: float, *, grids=None, basemap: str = "none") -> dict:
    """The grid (网格) a WGS-84 point falls in, through the in-memory grid index: its code, name,
    community, whether it is one of ``grids`` (the user's; None = the whole district), its outline
    (GeoJSON in display coordinates) and the point in display coordinates.

    Raises ``InvalidData`` naming ``lon`` and ``lat`` for a point in no grid of the district."""
    try:
        code, community = incidents.locate(session, lon, lat)
    except InvalidData as exc:
        reason = exc.errors[0].reason
        raise InvalidData([RowError(None, "lon", reason), RowError(None, "lat", reason)]) from None
    row = session.execute(text(
        "SELECT g.name, c.name FROM grids g JOIN communities c ON c.code = g.community_code WHERE g.code = :g"),
        {"g": code}).one()
    from layers.base import shift_lonlat

    x, y = shift_lonlat([lon], [lat], basemap)
    return {"code": code, "name": row[0], "community_code": community, "community_name": row[1],
            "mine": grids is None or code in grids, "lon": lon, "lat": lat,
            "display": [round(float(x[0]), 7), round(float(y[0]), 7)],
            "outline": outlines(session, [code], basemap=basemap)["features"][0]["geometry"]}


def outlines(session: Session, codes=None, *, layer: str = "grids", basemap: str = "none") -> dict:
    """A GeoJSON FeatureCollection of the ``layer`` areas ``codes`` (all when None) with code and name, in
    display coordinates: the user's grids, or the district's communities (社区) for the command centre."""
    from app.layers_db import read_layer
    from layers.base import to_display

    frame = (read_layer(session, layer) if codes is None else
             read_layer(session, layer, where="code = ANY(:codes)", params={"codes": sorted(codes)}))
    frame = to_display(frame[["code", "name", "geom"]], basemap)
    return json.loads(frame.to_json(drop_id=True))


def nearby(session: Session, user, category: str, lon: float, lat: float, *, radius_m: float, tz: str) -> list[dict]:
    """Up to ``NEARBY_MAX`` open incidents of ``category`` within ``radius_m`` metres of WGS-84
    ``lon``/``lat``, nearest first, among those ``user`` may see; each says whether the user may add
    a report to it (``joinable``: the ``comment`` action of the one permission rule)."""
    from app.accounts.auth import visible_grid_codes

    grids = visible_grid_codes(user, session)
    rows = session.execute(text(
        "SELECT i.id, i.external_id, i.state, i.grid_code, i.duplicate_status, i.description, i.address, "
        "to_char(timezone(:tz, i.reported_at), 'YYYY-MM-DD HH24:MI') AS reported_at, "
        "ST_Distance(i.geom::geography, p.pt) AS distance_m, "
        "(SELECT count(*) FROM incident_photos f WHERE f.incident_id = i.id) AS photos "
        "FROM incidents i, (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography AS pt) p "
        "WHERE i.category_code = :c AND i.state = ANY(:open) AND ST_DWithin(i.geom::geography, p.pt, :r) "
        "AND (CAST(:grids AS text[]) IS NULL OR i.grid_code = ANY(CAST(:grids AS text[]))) "
        "ORDER BY distance_m, i.id LIMIT :n"),
        {"tz": tz, "lon": lon, "lat": lat, "c": category, "open": list(OPEN_STATES), "r": radius_m,
         "grids": None if grids is None else sorted(grids), "n": NEARBY_MAX}).mappings().all()
    actions = permissions.actions_for(session, user, [_Row(r) for r in rows])
    out = []
    for r in rows:
        words = r["description"] or ""
        out.append({"id": r["id"], "no": r["external_id"] or str(r["id"]), "state": r["state"],
                    "grid_code": r["grid_code"], "reported_at": r["reported_at"], "address": r["address"],
                    "description": words if len(words) <= NEARBY_TEXT else words[:NEARBY_TEXT - 1] + "…",
                    "distance_m": round(float(r["distance_m"]), 1), "photos": int(r["photos"]),
                    "joinable": "comment" in actions[r["id"]]})
    return out


class _Row:
    """A nearby row as ``permissions.actions_for`` reads incidents (id, grid_code, state, duplicate_status)."""

    def __init__(self, r):
        self.id, self.grid_code, self.state, self.duplicate_status = (r["id"], r["grid_code"], r["state"],
                                                                      r["duplicate_status"])


@dataclass
class Outcome:
    """What a sent report did: the incident it created or was added to, and whether this send was a
    replay of one already stored (then nothing was written)."""

    incident: Incident
    replayed: bool
    joined: bool


def submit(session: Session, user, report: Report, files, *, settings) -> Outcome:
    """Store ``report`` and its ``files`` (photos, kind ``before``) in the caller's transaction.

    A new report goes through ``report_incident`` with the report's key; a report that names
    ``join_id`` becomes a ``comment`` (its text) with its photos on that incident, if the user may see
    and comment on it. A key already stored answers with what it stored, writing nothing. Photos are
    checked by ``app.photos.service.add_photos``; a bad one raises and the caller rolls everything back.
    """
    if report.join_id is not None:
        return _join(session, user, report, files, settings=settings)
    inc = incidents.report_incident(
        session, category=report.category, source=report.source, description=report.description,
        lon=report.lon, lat=report.lat, address=report.address, reporter_name=report.reporter_name,
        reporter_phone=report.reporter_phone, actor=user, idempotency_key=report.idempotency_key,
        settings=settings)
    if inc.replayed:
        if inc.events[0].actor != incidents.actor_name(user):  # a key answers only for the report it made
            raise Conflict(f"idempotency_key {report.idempotency_key!r} belongs to another account's report; "
                           "send it with a new key (the page makes one per report)")
        return Outcome(inc, True, False)
    if files:
        _photos(session, inc, files, user, settings, event=inc.events[0])
    return Outcome(inc, False, False)


def _join(session: Session, user, report: Report, files, *, settings) -> Outcome:
    from app.accounts.auth import visible_grid_codes

    inc = session.scalar(select(Incident).where(Incident.id == report.join_id).with_for_update())
    if inc is None:
        raise NotFound(f"incident {report.join_id} not found")
    # under the row lock: a racing send of the same report waits here, then finds this one's comment. The
    # replay is looked for first: a retry whose first send was stored answers with it even if the incident
    # has since moved out of the user's grids (a 404 would make the page offer to send it again)
    done = session.scalar(select(IncidentEvent.id).where(
        IncidentEvent.incident_id == inc.id, IncidentEvent.action == "comment",
        IncidentEvent.actor == incidents.actor_name(user),
        IncidentEvent.note_args["report_key"].astext == report.idempotency_key))
    if done is not None:
        return Outcome(inc, True, True)
    grids = visible_grid_codes(user, session)
    if grids is not None and inc.grid_code not in grids:
        raise NotFound(f"incident {report.join_id} not found")  # one the user may not see does not exist for them
    if inc.category_code != report.category:
        raise InvalidData(RowError(None, "join", f"incident {inc.id} is of category {inc.category_code!r}, the "
                                   f"report of {report.category!r}: add it to one of its own category"))
    inc = incidents.transition(session, inc.id, "comment", user, report.description)
    event = inc.events[-1]
    event.note_args = {"report_key": report.idempotency_key}
    session.flush()
    if files:
        _photos(session, inc, files, user, settings, event=event)
    return Outcome(inc, False, True)


def _photos(session, inc, files, user, settings, *, event) -> None:
    from app.photos.service import add_photos

    add_photos(session, inc, files, kind="before", actor=user, settings=settings, event=event)


def category_choices(session: Session, lang: str) -> list[dict]:
    """The categories as the form offers them: code and name in ``lang`` (Chinese by default)."""
    rows = session.execute(select(Category.code, Category.name_zh, Category.name_en).order_by(Category.code))
    return [{"code": c, "name": (en if lang == "en" else zh) or c} for c, zh, en in rows]


def reported_by(session: Session, incident_id: int, username: str) -> bool:
    """Whether ``username`` wrote any event of the incident (their own report's confirmation page)."""
    return session.execute(text("SELECT 1 FROM incident_events WHERE incident_id = :i AND actor = :a LIMIT 1"),
                           {"i": incident_id, "a": username}).scalar() is not None
