"""Who may do what (权限): the one permission rule of the incident loop, for the pages and the service alike.

Roles (``app.accounts.models.ACCOUNT_ROLES``):

- **member** (网格员): reports, starts, resolves and comments on the incidents of the grids they hold a
  role in;
- **grid_lead** (网格长): the same on the grids they lead, and also reassigns within them (to a member of
  the incident's grid);
- **operator** (指挥中心): accepts, dispatches, reassigns, moves, checks (督查), voids, decides on
  suspected duplicates and comments, across the district; takes reports (a phone call);
- **admin**: everything an operator or a lead does; **planner**: reads only.

The check (督查 ``pass_check``/``fail_check``) stays independent of the work: the field roles never check,
and nobody checks an incident whose last ``resolve`` they wrote themselves.

``actions_for`` answers for many incidents at once (a task list, a work-order list) with one query for
the user's grids and one for who resolved; ``refusal`` is the same rule for one incident with its reason.
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.accounts.models import FIELD_ROLES  # roles limited to their grids
from app.grids.models import LEAD
from app.incidents import workflow
from gis.errors import Forbidden, GridwatchError, IllegalTransition

_COMMAND_CENTRE = frozenset({"accept", "void", "dispatch", "pass_check", "fail_check", "reassign", "move",
                             "confirm_duplicate", "reject_duplicate", "comment"})
_FIELD_WORK = frozenset({"start", "resolve", "comment"})

#: account role → the actions it may take (on which incidents: ``incident_scope``)
ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(workflow.ACTIONS),
    "operator": _COMMAND_CENTRE,
    "grid_lead": _FIELD_WORK | {"reassign"},
    "member": _FIELD_WORK,
    "planner": frozenset(),
}
#: roles that may report an incident (``/report``; an operator takes a phone call)
REPORT_ROLES = frozenset({"admin", "operator", "grid_lead", "member"})
#: the actions that check the work (督查): never by whoever resolved it
CHECK_ACTIONS = frozenset({"pass_check", "fail_check"})


def field_grids(session: Session, user) -> frozenset[str] | None:
    """The grids ``user`` works in: None (the whole district) for the command-centre roles; the grids a
    grid lead leads; the grids a member holds any role in."""
    if user.role not in FIELD_ROLES:
        return None
    if getattr(user, "member_id", None) is None:
        return frozenset()
    sql = ("SELECT grid_code FROM member_roles WHERE member_id = :m"
           + (" AND role = :lead" if user.role == "grid_lead" else ""))
    return frozenset(session.execute(text(sql), {"m": user.member_id, "lead": LEAD}).scalars())


def may_report(user) -> bool:
    return user.role in REPORT_ROLES


def _resolvers(session: Session, ids: list[int]) -> dict[int, str]:
    """incident id → the actor of its last ``resolve``, for the incidents in ``ids`` that have one."""
    if not ids:
        return {}
    rows = session.execute(text(
        "SELECT DISTINCT ON (incident_id) incident_id, actor FROM incident_events "
        "WHERE incident_id = ANY(:ids) AND action = 'resolve' ORDER BY incident_id, id DESC"), {"ids": ids})
    return {i: a for i, a in rows}


def _why_not(incident, action: str, user, grids, resolver: str | None) -> GridwatchError | None:
    if action not in workflow.ACTIONS:
        return IllegalTransition(f"unknown action {action!r}; actions are {', '.join(workflow.ACTIONS)}")
    if action not in ROLE_ACTIONS.get(user.role, frozenset()):
        return Forbidden(f"role {user.role!r} may not {action} incidents")
    if grids is not None and incident.grid_code not in grids:
        return Forbidden(f"incident {incident.id} lies in grid {incident.grid_code}, which is not one of "
                         f"{user.username}'s grids")
    if action in CHECK_ACTIONS and resolver is not None and resolver == user.username:
        return Forbidden(f"{user.username} resolved incident {incident.id}: the check (督查) must be someone "
                         "else's")
    legal = workflow.legal_actions(incident.state, incident.duplicate_status)
    if action not in legal:
        why = (" (it is not flagged as a suspected duplicate)"
               if action in workflow.NEEDS_SUSPECTED_DUPLICATE and workflow.next_state(incident.state, action)
               else "")
        return IllegalTransition(f"incident {incident.id} is {incident.state!r}: cannot {action}{why}; "
                                 f"allowed now: {', '.join(legal) or 'nothing (final state)'}")
    return None


def refusal(session: Session, incident, action: str, user) -> GridwatchError | None:
    """Why ``user`` may not take ``action`` on ``incident`` now, or None (role, grid, independence of the
    check, state and duplicate flag, in that order)."""
    resolver = _resolvers(session, [incident.id]).get(incident.id) if action in CHECK_ACTIONS else None
    return _why_not(incident, action, user, field_grids(session, user), resolver)


def actions_for(session: Session, user, incidents: Iterable) -> dict[int, list[str]]:
    """incident id → the actions ``user`` may take on it now, in ``workflow.ACTIONS`` order.

    ``incidents`` are objects (or rows) with ``id``, ``grid_code``, ``state`` and ``duplicate_status``.
    Two queries whatever their number: the user's grids and who resolved the resolved ones.
    """
    incidents = list(incidents)
    allowed = ROLE_ACTIONS.get(user.role, frozenset())
    if not allowed or not incidents:
        return {i.id: [] for i in incidents}
    grids = field_grids(session, user)
    resolvers = (_resolvers(session, [i.id for i in incidents if i.state == "resolved"])
                 if allowed & CHECK_ACTIONS else {})
    return {i.id: [a for a in workflow.ACTIONS if a in allowed
                   and _why_not(i, a, user, grids, resolvers.get(i.id)) is None] for i in incidents}
