"""Incident services (事件服务): report, move along the workflow, assign, re-locate.

Every function takes a SQLAlchemy ``Session`` and raises the typed errors of ``gis.errors``; nothing
here knows about Flask or Click. Every change writes an ``IncidentEvent`` (actor, time, from/to
state, note), so the timeline can rebuild the current state. Read-only queries for dashboards live
in ``app.incidents.queries`` and are re-exported here.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached, object_session

from app.incidents import permissions, workflow
from app.geocoding import KEYS_MATCH_SQL, KEYS_SQL
from app.incidents.models import OPEN_STATES, PRIORITIES, SOURCES, Category, Incident, IncidentEvent
from app.incidents.queries import (incident_timeline, is_overdue, list_incidents, count_incidents,  # noqa: F401
                                   on_time_rate)
from gis.errors import Conflict, Forbidden, GridwatchError, InvalidData, NotFound, RowError
from gis.text import check_text, column_length


def _now() -> datetime:
    return datetime.now(timezone.utc)


def actor_name(actor) -> str:
    """The name written into the timeline for a ``User``, a ``Member`` or a plain string."""
    if isinstance(actor, str):
        return actor
    return getattr(actor, "username", None) or getattr(actor, "name", None) or str(actor)


def locate(session: Session, lon: float, lat: float, keys: tuple | None = None) -> tuple[str, str]:
    """Grid and community code of one WGS-84 point, through the in-memory grid index (``keys``: the
    index keys to locate with, ``app.geocoding.index_keys``; asked for when not given).

    Raises ``InvalidData`` when the point lies outside every grid of the district.
    """
    from app.geocoding import locate_codes

    grids, communities = locate_codes(session, np.array([lon], float), np.array([lat], float), keys)
    grid, community = grids[0], communities[0]
    if not isinstance(grid, str) or not grid:
        raise InvalidData(RowError(None, "location", f"({lon:.6f}, {lat:.6f}) lies outside every grid of the "
                                   "district; check the coordinates and their CRS"))
    return grid, community


def to_wgs84(lon, lat, crs: str, district) -> tuple[float, float]:
    """One coordinate pair in ``crs`` (wgs84, cgcs2000, gcj02, bd09, EPSG:…) → WGS-84 lon/lat, validated
    against the ``district``'s extent."""
    from gis.crs import parse_coordinates

    lons, lats, errors, ok = parse_coordinates([str(lon)], [str(lat)], [None], crs=crs, bbox=district.bbox,
                                               margin_m=district.margin_m)
    if errors or not bool(np.asarray(ok)[0]):
        raise InvalidData(errors or [RowError(None, "lon", f"invalid coordinates ({lon}, {lat})")])
    return float(lons[0]), float(lats[0])


def grid_lead(session: Session, grid_code: str | None) -> int | None:
    """The member id of the lead (网格长) of ``grid_code``, or None."""
    if not grid_code:
        return None
    return session.execute(text("SELECT member_id FROM member_roles WHERE grid_code = :g AND role = 'lead'"),
                           {"g": grid_code}).scalar()


def allowed_actions(incident: Incident, user) -> list[str]:
    """The actions ``user`` may take on ``incident`` now (``app.incidents.permissions``, the one rule)."""
    return permissions.actions_for(object_session(incident), user, [incident])[incident.id]


def refusal(incident: Incident, action: str, user) -> GridwatchError | None:
    """Why ``user`` may not take ``action`` on ``incident`` now, or None (``permissions.refusal``)."""
    return permissions.refusal(object_session(incident), incident, action, user)


def _check_allowed(incident: Incident, action: str, user, expected_version: int | None = None) -> None:
    # who may act comes first (403); then a stale page (409, reload), before what the state allows now
    problem = refusal(incident, action, user)
    if isinstance(problem, Forbidden):
        raise problem
    if expected_version is not None and expected_version != incident.version:
        raise Conflict(f"incident {incident.id} has changed since it was shown (version {expected_version}, now "
                       f"{incident.version}): reload it and try again")
    if problem is not None:
        raise problem


#: a note's size limit comes from the column (None while ``incident_events.note`` is ``Text``)
NOTE_MAX = column_length(IncidentEvent.__table__.c.note)


def _checked_note(note, *, required: str | None = None) -> str | None:
    """The note stripped, or None when blank; refuses non-text, NUL/control/bidi characters and over-long
    notes, and a blank note when ``required`` (the reason to give) is set."""
    if note is not None and not isinstance(note, str):
        raise InvalidData(RowError(None, "note", f"must be text, not {type(note).__name__}"))
    problem = check_text(note, "note", max_len=NOTE_MAX, multiline=True)
    if problem is not None:
        raise InvalidData(problem)
    note = (note or "").strip() or None
    if note is None and required:
        raise InvalidData(RowError(None, "note", required))
    return note


def _checked_spot(kw: dict) -> tuple[float, float]:
    """The WGS-84 ``lon``/``lat`` of a move, each a finite number in range; InvalidData naming what is wrong."""
    errors, out = [], []
    for name, limit in (("lon", 180.0), ("lat", 90.0)):
        value = kw.get(name)
        try:
            v = float(value)
            if isinstance(value, bool) or not -limit <= v <= limit:  # also refuses NaN
                raise ValueError
            out.append(v)
        except (TypeError, ValueError):
            errors.append(RowError(None, name, "a move needs the new spot: give lon and lat in degrees"
                                   if value is None else f"{value!r} is not a degree between -{limit:g} and {limit:g}"))
    if errors:
        raise InvalidData(errors)
    return out[0], out[1]


def system_note(key: str, **values) -> tuple[str, str, dict]:
    """A note the service writes itself: (its Chinese text for ``note``, ``note_key``, ``note_args``); the
    timeline shows it in the reader's language from ``app.messages.loop``."""
    from app.i18n import translate

    return translate(key, "zh", **values), key, values


def _event(incident: Incident, actor, action: str, from_state, to_state, note=None, at=None) -> IncidentEvent:
    """One more event (and version). ``note`` is the user's text, or a ``system_note`` triple."""
    key = args = None
    if isinstance(note, tuple):
        note, key, args = note
    ev = IncidentEvent(actor=actor_name(actor), action=action, from_state=from_state, to_state=to_state,
                       note=note, note_key=key, note_args=args, at=at or _now())
    incident.events.append(ev)
    if incident.id is not None:  # every change after the report is one more version
        incident.version = (incident.version or 1) + 1
    return ev


def get_incident(session: Session, incident_id: int, *, lock: bool = False) -> Incident:
    stmt = select(Incident).where(Incident.id == incident_id)
    if lock:
        stmt = stmt.with_for_update()
    inc = session.scalar(stmt)
    if inc is None:
        raise NotFound(f"incident {incident_id} not found")
    return inc


def _category(session: Session, code: str) -> Category:
    cat = session.get(Category, code)
    if cat is None:
        known = ", ".join(session.scalars(select(Category.code).order_by(Category.code)))
        raise InvalidData(RowError(None, "category", f"unknown category {code!r}; known: {known}"))
    return cat


def deadline_for(category: Category, priority: str, dispatched_at: datetime) -> datetime:
    """Deadline = dispatch time + the category's hours for ``priority`` (``categories.<priority>_h``)."""
    return dispatched_at + timedelta(hours=category.deadline_hours(priority))


#: The duplicate rule (one definition): the nearest open incident of ``:category`` within ``:r`` metres
#: (geodesic, WGS-84) of ``(:lon, :lat)`` reported between ``:t0`` and ``:t1``. The degree box only lets the
#: GiST index on ``geom`` find the candidates (a busy window holds thousands of reports): it holds every
#: point within ``:r`` metres, with 5 % to spare, since a degree of latitude is at least 110.5 km and a
#: degree of longitude at least 111.3 km × the cosine of the box's farthest latitude.
DUPLICATE_SQL = """SELECT id, external_id FROM incidents
        WHERE category_code = :category AND state = ANY(:open) AND reported_at BETWEEN :t0 AND :t1
          AND geom && ST_Expand(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
                                1.05 * :r / (110000 * cos(radians(least(abs(:lat) + 1.05 * :r / 110000, 89.9)))),
                                1.05 * :r / 110000)
          AND ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :r)
        ORDER BY geom::geography <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, id LIMIT 1"""


def report_incident(session: Session, *, category: str, source: str, description: str, lon: float, lat: float,
                    crs: str = "wgs84", address: str | None = None, priority: str = "normal",
                    reporter_name: str | None = None, reporter_phone: str | None = None,
                    reporter_email: str | None = None, actor, reported_at: datetime | None = None,
                    external_id: str | None = None, media_url: str | None = None, idempotency_key: str | None = None,
                    settings) -> Incident:
    """Store a new incident (事件上报) in state ``reported``, geocoded to its grid and community.

    ``lon``/``lat`` are in ``crs`` (WGS-84 by default) and stored as WGS-84. A report of the same
    category within ``duplicate_radius_m`` and ``duplicate_window_h`` (settings) of an open incident
    is linked to it as a suspected duplicate, for a person to confirm or reject. ``settings`` are the
    deployment's (built once at the composition root): its district and duplicate thresholds.

    ``idempotency_key`` (1–64 characters of ``[A-Za-z0-9_-]``, generated by the client for one report):
    when an incident with that key exists, it is returned as it is and nothing is written (a retried
    send; ``incident.replayed`` is True). Two sends racing on one key end with one incident: the second
    waits on the unique index and then finds the first's.
    """
    if idempotency_key is not None:
        if not isinstance(idempotency_key, str) or not IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise InvalidData(RowError(None, "idempotency_key", "1–64 letters, digits, '-' or '_'"))
        existing = _by_idempotency_key(session, idempotency_key)
        if existing is not None:
            return existing
    problems = []
    if source not in SOURCES:
        problems.append(RowError(None, "source", f"{source!r} is not one of {', '.join(SOURCES)}"))
    if priority not in PRIORITIES:
        problems.append(RowError(None, "priority", f"{priority!r} is not one of {', '.join(PRIORITIES)}"))
    if problems:
        raise InvalidData(problems)
    try:
        return _store_report(session, category=category, source=source, description=description, lon=lon, lat=lat,
                             crs=crs, address=address, priority=priority, reporter_name=reporter_name,
                             reporter_phone=reporter_phone, reporter_email=reporter_email, actor=actor,
                             reported_at=reported_at, external_id=external_id, media_url=media_url,
                             idempotency_key=idempotency_key, settings=settings)
    except InvalidData:
        _category(session, category)  # an unknown category is said first, whatever else is wrong
        raise


def _store_report(session: Session, *, category, source, description, lon, lat, crs, address, priority,
                  reporter_name, reporter_phone, reporter_email, actor, reported_at, external_id, media_url,
                  idempotency_key, settings) -> Incident:
    # the category is checked by the write itself (no query of its own): see _REPORT_SQL
    if crs.lower() not in ("wgs84", "epsg:4326"):
        lon, lat = to_wgs84(lon, lat, crs, settings.district)
    lon, lat = float(lon), float(lat)
    if not (np.isfinite(lon) and np.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidData(RowError(None, "lon", f"({lon}, {lat}) is not a WGS-84 longitude/latitude"))
    at = reported_at or _now()
    values = dict(category=category, source=source, description=description or "", address=address,
                  priority=priority, reporter_name=reporter_name, reporter_phone=reporter_phone,
                  reporter_email=reporter_email, reported_at=at, external_id=external_id, media_url=media_url,
                  idempotency_key=idempotency_key, lon=lon, lat=lat, actor=actor_name(actor),
                  open=list(OPEN_STATES), t0=at - timedelta(hours=settings.duplicate_window_h),
                  t1=at + timedelta(hours=settings.duplicate_window_h), r=settings.duplicate_radius_m)
    row = _write_report(session, values)
    if not row.known:
        _category(session, category)  # raises, naming the known categories
    if row.id is None:  # the key was stored by a racing send (its transaction has committed by now)
        existing = _by_idempotency_key(session, idempotency_key) if idempotency_key is not None else None
        if existing is None:
            raise Conflict("the report could not be stored; send it again")
        return existing
    if row.dup_id is not None:  # the timeline says which incident it may repeat, in the reader's language
        note, key, args = system_note("loop_note_suspected_duplicate", no=row.dup_external_id or str(row.dup_id),
                                      id=row.dup_id)
        session.execute(text("UPDATE incident_events SET note = :n, note_key = :k, note_args = CAST(:a AS jsonb) "
                             "WHERE id = :e"), {"n": note, "k": key, "a": json.dumps(args), "e": row.event_id})
    inc = Incident(id=row.id, category_code=category, source=source, description=values["description"],
                   address=address, grid_code=values["grid"], community_code=values["community"], priority=priority,
                   reporter_name=reporter_name, reporter_phone=reporter_phone, reporter_email=reporter_email,
                   assignee_id=None, state="reported", reported_at=at, dispatched_at=None, deadline=None,
                   closed_at=None, external_id=external_id, media_url=media_url, duplicate_of_id=row.dup_id,
                   duplicate_status="suspected" if row.dup_id else None, version=1, idempotency_key=idempotency_key)
    make_transient_to_detached(inc)  # as if just read: the columns the database filled load when first used
    session.add(inc)
    inc.replayed = False
    return inc


# The report's one write: the incident and its first event, in one statement, once it has checked that the
# category exists and that the grid index the point was located with is the stored one (its keys, as
# app.geocoding keeps them); the nearest open incident of the category within the duplicate radius and
# window is linked as a suspected duplicate (DUPLICATE_SQL). It answers the keys, so a process
# whose index is stale rebuilds it and writes again. A key a racing send has stored inserts nothing.
_REPORT_SQL = text(f"""
WITH k AS ({KEYS_SQL}),
ok AS (SELECT 1 FROM k WHERE {KEYS_MATCH_SQL} AND EXISTS (SELECT 1 FROM categories WHERE code = :category)),
dup AS (SELECT * FROM ({DUPLICATE_SQL}) AS d WHERE EXISTS (SELECT 1 FROM ok)),
ins AS (INSERT INTO incidents (category_code, source, description, address, geom, grid_code, community_code,
                               priority, reporter_name, reporter_phone, reporter_email, state, reported_at,
                               external_id, media_url, duplicate_of_id, duplicate_status, idempotency_key)
        SELECT :category, :source, :description, :address, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :grid,
               :community, :priority, :reporter_name, :reporter_phone, :reporter_email, 'reported', :reported_at,
               :external_id, :media_url, (SELECT id FROM dup),
               CASE WHEN EXISTS (SELECT 1 FROM dup) THEN 'suspected' END, :idempotency_key FROM ok
        ON CONFLICT ON CONSTRAINT uq_incidents_idempotency_key DO NOTHING
        RETURNING id),
ev AS (INSERT INTO incident_events (incident_id, at, actor, action, from_state, to_state)
       SELECT id, :reported_at, :actor, 'report', NULL, 'reported' FROM ins RETURNING id)
SELECT k.gn, k.gt, k.cn, k.ct, EXISTS (SELECT 1 FROM ok) AS current,
       EXISTS (SELECT 1 FROM categories WHERE code = :category) AS known,
       (SELECT id FROM ins) AS id, (SELECT id FROM ev) AS event_id,
       (SELECT id FROM dup) AS dup_id, (SELECT external_id FROM dup) AS dup_external_id
FROM k""")


def _write_report(session: Session, values: dict):
    """Locate ``values``' point with this process's grid index and run ``_REPORT_SQL``; when the index
    turns out stale, rebuild it from the keys the statement answered and write again. Sets ``grid`` and
    ``community`` on ``values``. One statement in the common case."""
    from app.geocoding import cached_keys, index_keys

    keys = cached_keys(session)
    for _attempt in range(5):
        if keys is None:
            keys = index_keys(session)
        try:
            grid, community = locate(session, values["lon"], values["lat"], keys)
        except InvalidData:
            fresh = index_keys(session)
            if fresh == keys:  # outside every stored grid, not just the grids this process knew
                raise
            keys = fresh
            continue
        values.update(grid=grid, community=community)
        row = session.execute(_REPORT_SQL, {**values, "gn": keys[0], "gt": keys[1], "cn": keys[2],
                                            "ct": keys[3]}).one()
        if row.current or not row.known:
            return row
        keys = (row.gn, row.gt, row.cn, row.ct)
    raise Conflict("the district's grids are being changed right now; send the report again")


#: an idempotency key: what a page's crypto.randomUUID() or any client's token looks like
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _by_idempotency_key(session: Session, key: str) -> Incident | None:
    inc = session.scalar(select(Incident).where(Incident.idempotency_key == key))
    if inc is not None:
        inc.replayed = True
    return inc


def _number(session: Session, incident_id: int | None) -> str | None:
    """How an incident is named to people: its external number, else its id."""
    if incident_id is None:
        return None
    ext = session.execute(text("SELECT external_id FROM incidents WHERE id = :i"), {"i": incident_id}).scalar()
    return ext or str(incident_id)


def _member_name(session: Session, member_id: int) -> str | None:
    return session.execute(text("SELECT name FROM members WHERE id = :m"), {"m": member_id}).scalar()


def transition(session: Session, incident_id: int, action: str, user, note: str | None = None, *,
               expected_version: int | None = None, **kw) -> Incident:
    """Take one workflow ``action`` on an incident; raise and change nothing when it is not allowed.

    The note: ``workflow.ACTION_RULES`` says which actions need one (void, resolve, fail_check, move,
    comment: ``InvalidData`` naming ``note`` without it). Notes the service adds itself (to whom, which
    duplicate) are written with ``system_note``, translated in the timeline.

    Keyword arguments: ``member_id`` for ``dispatch`` and ``reassign`` (default: the grid's lead);
    ``lon``/``lat`` for ``move``; ``at`` (aware datetime) to back-date the step. ``expected_version`` is
    the incident's ``version`` as the caller saw it: when it has changed since, ``Conflict`` (409) and
    nothing changes (the pages always send it).

    Raises
    ------
    Forbidden
        The user's role may not take ``action``, or a grid lead acts outside their grids.
    IllegalTransition
        The incident's state does not allow ``action`` (the message names the allowed ones).
    Conflict
        ``expected_version`` is not the incident's version any more.
    """
    if action == "move":
        return move_incident(session, incident_id, kw.get("lon"), kw.get("lat"), user, note,
                             expected_version=expected_version)
    inc = get_incident(session, incident_id, lock=True)
    _check_allowed(inc, action, user, expected_version)
    note = _checked_note(note, required=workflow.note_required(action))
    at = kw.get("at") or _now()
    before, after = inc.state, workflow.next_state(inc.state, action)
    if action in ("dispatch", "reassign"):
        member = kw.get("member_id") or grid_lead(session, inc.grid_code)
        if member is None:
            raise NotFound(f"grid {inc.grid_code} has no lead to {action} incident {inc.id} to; name a member")
        name = _member_name(session, member)
        if name is None:
            raise NotFound(f"member {member} not found")
        # whoever assigns (a lead within their grid, the command centre anywhere), the member must work in
        # the incident's grid and be active: anyone else could neither see nor take it, and it would stall
        if not session.execute(text(
                "SELECT 1 FROM member_roles r JOIN members m ON m.id = r.member_id "
                "WHERE r.member_id = :m AND r.grid_code = :g AND m.active"),
                {"m": member, "g": inc.grid_code}).scalar():
            raise Forbidden(f"member {member} ({name}) is not an active member of grid {inc.grid_code}: an "
                            "incident is assigned to a member of its own grid")
        note = (system_note("loop_note_to_member_note", member=name, member_id=member, note=note) if note
                else system_note("loop_note_to_member", member=name, member_id=member))
        inc.assignee_id = member
    if action == "dispatch":
        inc.dispatched_at = at
        inc.deadline = deadline_for(_category(session, inc.category_code), inc.priority, at)
    elif action == "pass_check":
        inc.closed_at = at
    elif action == "confirm_duplicate":
        inc.duplicate_status = "confirmed"
        if note is None:
            note = system_note("loop_note_duplicate_of", no=_number(session, inc.duplicate_of_id),
                               id=inc.duplicate_of_id)
        inc.closed_at = at
    elif action == "reject_duplicate":
        inc.duplicate_status = "rejected"
    elif action == "void":
        inc.closed_at = at
    inc.state = after
    inc.updated_at = at
    _event(inc, user, action, before, after, note, at)
    session.flush()
    return inc


def bulk_assign(session: Session, ids, member_id: int, user, note: str | None = None) -> list[Incident]:
    """Reassign every incident in ``ids`` to ``member_id``; all or nothing."""
    out = []
    with session.begin_nested():
        for incident_id in ids:
            out.append(transition(session, int(incident_id), "reassign", user, note, member_id=member_id))
    return out


def move_incident(session: Session, incident_id: int, lon: float, lat: float, user, note: str | None, *,
                  expected_version: int | None = None) -> Incident:
    """Move an incident to WGS-84 ``lon``/``lat``: re-geocode, and re-dispatch when the grid changes.

    A dispatched or in-progress incident whose grid changes goes back to ``dispatched``, assigned to
    the new grid's lead; the deadline stays (the reporter's clock does not restart). ``note`` (why)
    is required. Raises ``InvalidData`` naming ``lon``/``lat`` without a spot, ``location`` for a spot
    outside every grid, ``note`` without a reason; permission is checked first.
    """
    inc = get_incident(session, incident_id, lock=True)
    _check_allowed(inc, "move", user, expected_version)
    lon, lat = _checked_spot({"lon": lon, "lat": lat})
    note = _checked_note(note, required=workflow.note_required("move"))
    grid, community = locate(session, lon, lat)
    at, before, old_grid = _now(), inc.state, inc.grid_code
    inc.geom = f"SRID=4326;POINT({lon!r} {lat!r})"
    inc.grid_code, inc.community_code = grid, community
    inc.updated_at = at
    moved = system_note("loop_note_moved", note=note, old=old_grid, new=grid) if grid != old_grid else note
    _event(inc, user, "move", before, before, moved, at)
    if grid != old_grid and before in ("dispatched", "in_progress"):
        inc.assignee_id = grid_lead(session, grid)
        inc.state = "dispatched"
        why = (system_note("loop_note_redispatched", grid=grid, member=_member_name(session, inc.assignee_id),
                           member_id=inc.assignee_id) if inc.assignee_id is not None
               else system_note("loop_note_redispatch_no_lead", grid=grid))
        _event(inc, user, "dispatch", before, "dispatched", why, at)
    session.flush()
    return inc
