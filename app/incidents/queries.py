"""Read-only incident queries for dashboards and APIs: lists, timelines, overdue flags, on-time rate."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import Session

from app.incidents.models import OPEN_STATES, Incident, IncidentEvent
from gis.errors import NotFound


def _now() -> datetime:
    return datetime.now(timezone.utc)


def is_overdue(incident: Incident, now: datetime | None = None) -> bool:
    """True when an open incident is past its deadline (closed or voided ones never are)."""
    return bool(incident.state in OPEN_STATES and incident.deadline is not None
                and incident.deadline < (now or _now()))


def is_due_soon(incident: Incident, hours: float, now: datetime | None = None) -> bool:
    """True when an open incident's deadline is still ahead but less than ``hours`` away (the
    ``due_soon_hours`` setting); an overdue incident is not due soon, it is overdue."""
    now = now or _now()
    return bool(incident.state in OPEN_STATES and incident.deadline is not None
                and now <= incident.deadline < now + timedelta(hours=hours))


def overdue_condition(now=None):
    """``is_overdue`` as a SQL condition on ``Incident`` (``now``: a time, else the database's clock)."""
    return and_(Incident.state.in_(OPEN_STATES), Incident.deadline < (func.now() if now is None else now))


def due_soon_condition(hours: float, now=None):
    """``is_due_soon`` as a SQL condition on ``Incident`` (``now``: a time, else the database's clock)."""
    now = func.now() if now is None else now
    return and_(Incident.state.in_(OPEN_STATES), Incident.deadline >= now,
                Incident.deadline < now + timedelta(hours=float(hours)))


def on_time_rate(session: Session, start: datetime, end: datetime, grid_codes=None, *,
                 now: datetime | None = None) -> float | None:
    """Honest on-time rate of incidents dispatched in [start, end).

    rate = closed on time / (closed + still open past their deadline at ``now``).
    Incidents that are open but not yet due count in neither; voided ones never count.
    None when nothing qualifies.
    """
    row = session.execute(text(
        "SELECT count(*) FILTER (WHERE state = 'closed' AND closed_at <= deadline) AS on_time, "
        "count(*) FILTER (WHERE state = 'closed') AS closed, "
        "count(*) FILTER (WHERE state = ANY(:open) AND deadline < :now) AS late_open "
        "FROM incidents WHERE deadline IS NOT NULL AND dispatched_at >= :start AND dispatched_at < :end "
        "AND (CAST(:grids AS text[]) IS NULL OR grid_code = ANY(:grids))"),
        {"open": list(OPEN_STATES), "now": now or _now(), "start": start, "end": end,
         "grids": list(grid_codes) if grid_codes is not None else None}).one()
    denominator = row.closed + row.late_open
    return row.on_time / denominator if denominator else None


def incident_conditions(*, states=None, categories=None, start=None, end=None, street=None, community=None,
                        grid_codes=None, bbox=None, overdue=None, since=None, after=None, now=None) -> list:
    """WHERE conditions on ``Incident`` for the filters every incident list shares (API, pages, exports)."""
    conds = []
    if states:
        conds.append(Incident.state.in_(list(states)))
    if categories:
        conds.append(Incident.category_code.in_(list(categories)))
    if start is not None:
        conds.append(Incident.reported_at >= start)
    if end is not None:
        conds.append(Incident.reported_at < end)
    if street:
        conds.append(Incident.community_code.startswith(street, autoescape=True))
    if community:
        conds.append(Incident.community_code == community)
    if grid_codes is not None:
        conds.append(Incident.grid_code.in_(list(grid_codes)))
    if bbox is not None:
        w, s, e, n = (float(v) for v in bbox)
        conds.append(Incident.geom.intersects(func.ST_MakeEnvelope(w, s, e, n, 4326)))
    if since is not None:
        conds.append(Incident.updated_at > since)
    if after is not None:
        conds.append(changed_after(after))
    if overdue is not None:
        late = overdue_condition(now or _now())
        conds.append(late if overdue else or_(Incident.deadline.is_(None), ~late))
    return conds


#: An incident written by a transaction that the snapshot ``:after_snapshot`` (``pg_current_snapshot()`` as
#: text, checked by ``app.dashboards.params.Params.snapshot``) does not see: still running then, or begun
#: later (migration 0016_live_cursor). The bounds let the index on ``changed_xid`` find them. The upper one
#: (the statement's own snapshot's xmax) is no bound for a row written in this cluster, whose writer has
#: committed and so has a lower id; it leaves out rows restored from another cluster's dump with that
#: cluster's larger ids, which would otherwise count as changed on every poll, forever. (A transaction that
#: wrote an incident itself would not see its own row here: only read-only polls ask.)
CHANGED_AFTER_SQL = (
    "incidents.changed_xid >= CAST(CAST(pg_snapshot_xmin(CAST(:after_snapshot AS pg_snapshot)) AS text) AS bigint) "
    "AND incidents.changed_xid < CAST(CAST(pg_snapshot_xmax(pg_current_snapshot()) AS text) AS bigint) "
    "AND NOT pg_visible_in_snapshot(CAST(CAST(incidents.changed_xid AS text) AS xid8), "
    "CAST(:after_snapshot AS pg_snapshot))")


def changed_after(snapshot: str):
    """The condition ``CHANGED_AFTER_SQL`` for ``snapshot`` (a cursor the server gave)."""
    return text(CHANGED_AFTER_SQL).bindparams(after_snapshot=snapshot)


def list_incidents(session: Session, *, states=None, categories=None, start: datetime | None = None,
                   end: datetime | None = None, street: str | None = None, community: str | None = None,
                   grid_codes=None, bbox=None, overdue: bool | None = None, limit: int | None = 500,
                   offset: int = 0) -> list[Incident]:
    """Incidents newest first, filtered by state, category, reported time [start, end), 9-digit street,
    12-digit community, grid codes, ``bbox`` = (W, S, E, N) lon/lat in EPSG:4326, and overdue flag."""
    stmt = (select(Incident).where(*incident_conditions(states=states, categories=categories, start=start, end=end,
                                             street=street, community=community, grid_codes=grid_codes,
                                             bbox=bbox, overdue=overdue))
            .order_by(Incident.reported_at.desc(), Incident.id.desc()).offset(offset))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def count_incidents(session: Session, **filters) -> int:
    """How many incidents ``list_incidents`` would return without limit and offset."""
    return session.scalar(select(func.count()).select_from(Incident).where(*incident_conditions(**filters)))


def incident_timeline(session: Session, incident_id: int) -> list[dict]:
    """The incident's events, oldest first: at, actor, action, from_state, to_state, note."""
    if session.get(Incident, incident_id) is None:
        raise NotFound(f"incident {incident_id} not found")
    rows = session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
                           .order_by(IncidentEvent.at, IncidentEvent.id))
    return [{"at": e.at, "actor": e.actor, "action": e.action, "from_state": e.from_state,
             "to_state": e.to_state, "note": e.note} for e in rows]
