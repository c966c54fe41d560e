"""Work orders (工单): the command centre's list of open incidents, overdue first, and the due-soon and
overdue badges of the bar (no Flask here).

A work order is an open incident (``OPEN_STATES``). The list is ordered by urgency: overdue ones first
(most overdue first), then the due-soon ones (deadline within ``due_soon_hours``), then the rest by
deadline and, without a deadline (not dispatched yet), by how long they have waited. "Overdue" and
"due soon" are ``app.incidents.queries.overdue_condition`` / ``due_soon_condition``: the one rule the
grid page and the webhooks use too. Every function takes the grids the user may see (``grids``: None
= the whole district, from ``app.accounts.auth.visible_grid_codes``) and filters in SQL.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from app.dashboards.service import local_iso
from app.grids.models import Grid, Member, Street
from app.incidents import permissions
from app.incidents.models import OPEN_STATES, Category, Incident
from app.incidents.queries import due_soon_condition, overdue_condition
from layers.base import shift_lonlat
from layers.incidents import OVERDUE_STROKE, STATE_COLOURS
from layers.style import DUE_SOON_COLOUR

#: rows of one page of the list: the default, and the most a client may ask for
PAGE_DEFAULT = 50
PAGE_MAX = 200
#: the actions a bulk request may take (the command centre's two steps that come in batches)
BULK_ACTIONS = ("accept", "dispatch")
#: most rows one bulk request may carry
BULK_MAX = 200

#: urgency rank of a row: 0 overdue, 1 due soon, 2 the rest (the list's first sort key)
RANK_OVERDUE, RANK_DUE_SOON, RANK_OTHER = 0, 1, 2


@dataclass
class WorkOrderFilter:
    """Filters of the work-order list; empty lists mean no filter on that field."""

    states: list[str] = field(default_factory=list)      # each one of OPEN_STATES
    grid: str | None = None                              # a 15-digit grid code
    street: str | None = None                            # a 9-digit street code
    categories: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def _scope(grids) -> list:
    """Open incidents the user may see."""
    conds = [Incident.state.in_(OPEN_STATES)]
    if grids is not None:
        conds.append(Incident.grid_code.in_(sorted(grids)))
    return conds


def _conditions(flt: WorkOrderFilter, grids, *, with_states: bool = True) -> list:
    conds = _scope(grids)
    if with_states and flt.states:
        conds.append(Incident.state.in_(list(flt.states)))
    if flt.grid:
        conds.append(Incident.grid_code == flt.grid)
    if flt.street:
        conds.append(Incident.community_code.startswith(flt.street, autoescape=True))
    if flt.categories:
        conds.append(Incident.category_code.in_(list(flt.categories)))
    if flt.sources:
        conds.append(Incident.source.in_(list(flt.sources)))
    return conds


def urgency_rank(hours: float, now=None):
    """SQL: the row's urgency rank (``RANK_OVERDUE``, ``RANK_DUE_SOON``, ``RANK_OTHER``)."""
    return case((overdue_condition(now), RANK_OVERDUE), (due_soon_condition(hours, now), RANK_DUE_SOON),
                else_=RANK_OTHER)


def order_by(hours: float, now=None) -> list:
    """The list's order: urgency rank, deadline (none last), reported time, id."""
    return [urgency_rank(hours, now), Incident.deadline.asc().nulls_last(), Incident.reported_at.asc(),
            Incident.id.asc()]


def list_work_orders(s: Session, user, flt: WorkOrderFilter, grids, *, due_soon_hours: float, basemap: str,
                     tz: str, lang: str = "zh", limit: int = PAGE_DEFAULT, offset: int = 0,
                     now: datetime | None = None) -> dict:
    """One page of work orders with the counts the filter shows.

    Returns ``{"rows": [...], "total", "overdue", "due_soon", "counts": {state: n}, "offset", "limit",
    "now"}``: ``total``/``overdue``/``due_soon`` count every row matching ``flt`` (not only this page);
    ``counts`` are per open state under every filter but the state one (what choosing a state would
    give). Each row: id, no, category_code, category, state, priority, source, grid_code, grid_name,
    street_code, street_name, reported_at, deadline (ISO in the district's zone ``tz``), assignee_id,
    assignee, overdue, due_soon, version, lon/lat (display coordinates on ``basemap``) and ``actions``
    (``app.incidents.permissions.actions_for``, one batch for the page). ``now``: the time overdue and
    due soon are judged at (default: the database's clock).
    """
    clock = func.now() if now is None else literal(now)
    rank = urgency_rank(due_soon_hours, clock).label("rank")
    conds = _conditions(flt, grids)
    street_code = func.left(Incident.community_code, 9)
    stmt = (select(Incident.id, Incident.external_id, Incident.category_code,
                   (Category.name_en if lang == "en" else Category.name_zh).label("category"),
                   Incident.state, Incident.priority, Incident.source, Incident.grid_code,
                   Grid.name.label("grid_name"), street_code.label("street_code"), Street.name.label("street_name"),
                   Incident.reported_at, Incident.deadline, Incident.assignee_id, Member.name.label("assignee"),
                   Incident.version, Incident.duplicate_status, rank,
                   func.ST_X(Incident.geom).label("x"), func.ST_Y(Incident.geom).label("y"))
            .join(Category, Category.code == Incident.category_code)
            .outerjoin(Grid, Grid.code == Incident.grid_code)
            .outerjoin(Street, Street.code == street_code)
            .outerjoin(Member, Member.id == Incident.assignee_id)
            .where(*conds).order_by(*order_by(due_soon_hours, clock)).limit(limit).offset(offset))
    rows = s.execute(stmt).all()
    totals = s.execute(select(func.count(), func.count().filter(overdue_condition(clock)),
                              func.count().filter(due_soon_condition(due_soon_hours, clock)), func.now())
                       .select_from(Incident).where(*conds)).one()
    per_state = dict(s.execute(select(Incident.state, func.count()).where(*_conditions(flt, grids, with_states=False))
                               .group_by(Incident.state)).all())
    actions = permissions.actions_for(s, user, rows)
    lon, lat = shift_lonlat([r.x for r in rows], [r.y for r in rows], basemap)
    out = []
    for r, x, y in zip(rows, lon, lat):
        out.append({
            "id": r.id, "no": r.external_id or str(r.id), "category_code": r.category_code, "category": r.category,
            "state": r.state, "priority": r.priority, "source": r.source, "grid_code": r.grid_code,
            "grid_name": r.grid_name, "street_code": r.street_code, "street_name": r.street_name,
            "reported_at": local_iso(r.reported_at, tz), "deadline": local_iso(r.deadline, tz),
            "assignee_id": r.assignee_id, "assignee": r.assignee,
            "overdue": r.rank == RANK_OVERDUE, "due_soon": r.rank == RANK_DUE_SOON, "version": r.version,
            "lon": round(float(x), 7), "lat": round(float(y), 7), "actions": actions[r.id]})
    return {"rows": out, "total": totals[0], "overdue": totals[1], "due_soon": totals[2],
            "counts": {st: int(per_state.get(st, 0)) for st in OPEN_STATES}, "offset": offset, "limit": limit,
            "now": local_iso(now or totals[3], tz)}


def badge_scope(user, grids) -> list:
    """Which open incidents a user's badges count: the grids they see (None = the district).

    A member's and a lead's badges count the incidents of their grids, the same rows their task list
    shows and they may act on; an incident assigned to a member outside their grids is not counted,
    because they could neither open nor act on it there.
    """
    return _scope(grids)


def badge_counts(s: Session, user, settings, grids, *, now: datetime | None = None) -> dict:
    """``{"overdue": n, "due_soon": n}`` over the open incidents in the user's scope (``badge_scope``),
    judged at ``now`` (default: the database's clock) with the ``due_soon_hours`` setting."""
    clock = func.now() if now is None else literal(now)
    row = s.execute(select(func.count().filter(overdue_condition(clock)),
                           func.count().filter(due_soon_condition(settings.due_soon_hours, clock)))
                    .select_from(Incident).where(*badge_scope(user, grids))).one()
    return {"overdue": int(row[0]), "due_soon": int(row[1])}


def filter_options(s: Session, grids, *, lang: str = "zh") -> dict:
    """What the list's filters offer: streets, grids (with their street), categories, in code order;
    a field role sees only their grids and those grids' streets."""
    gq = select(Grid.code, Grid.name, func.left(Grid.code, 9)).order_by(Grid.code)
    if grids is not None:
        gq = gq.where(Grid.code.in_(sorted(grids)))
    grid_rows = s.execute(gq).all()
    sq = select(Street.code, Street.name).order_by(Street.code)
    if grids is not None:
        sq = sq.where(Street.code.in_({g[2] for g in grid_rows} or {""}))
    name = Category.name_en if lang == "en" else Category.name_zh
    return {"streets": [[c, n] for c, n in s.execute(sq).all()],
            "grids": [[c, n, st] for c, n, st in grid_rows],
            "categories": [[c, n] for c, n in s.execute(select(Category.code, name).order_by(Category.code)).all()]}


def mark_colours() -> dict:
    """The colours of the list's and the bar's marks (``layers``' definitions): overdue, due soon, states."""
    return {"overdue": OVERDUE_STROKE, "due_soon": DUE_SOON_COLOUR, "states": dict(STATE_COLOURS)}
