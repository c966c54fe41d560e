"""Who may do what in the management console (角色权限): the one table every route, API, page and test reads.

``CAPABILITIES[name] = (roles, what it means)``. Routes check with :func:`capability_required`, pages hide
what :func:`can` refuses, ``docs/roles.md`` prints this table and ``tests/app/test_role_matrix.py`` tries
every cell. Grid scoping (a grid lead's own grids) is applied on top by the feature (``scoped`` below).

Decisions that differ from the issue's example (and why) are written in ``docs/roles.md``:

- planners change where a camera is and what it sees (position, azimuth, field of view, range, height: the
  inputs of coverage, which they survey and plan) and everything about *planned* cameras, but not an installed
  camera's record (its GB/T 28181 ID, programme, management unit, contact, recording): those belong to the
  registry's administrator, who answers for them to the public-security bureau;
- operators change a camera's status (with a reason), because the duty room is where a dead picture is seen
  first; they do not edit its fields;
- a grid lead manages the roles of its own grid's members except the lead role itself (who leads a grid is
  the street's decision, made by an administrator), and cannot move people to another grid.
"""
from __future__ import annotations

import functools

from app.accounts.models import ACCOUNT_ROLES
from gis.errors import Forbidden

ALL = ACCOUNT_ROLES
DISTRICT = ("admin", "operator", "planner")

#: camera fields a planner may change on an installed camera (besides ``lon``/``lat``, the position)
PLACEMENT_FIELDS = ("lon", "lat", "azimuth", "fov", "vfov", "range_m", "height_m")

CAPABILITIES: dict[str, tuple[tuple[str, ...], str]] = {
    # cameras (/cameras, /api/cameras)
    "camera.read": (ALL, "see the camera list, a camera's page and its history (a field role: its grids)"),
    "camera.edit_record": (("admin",), "change any field of a camera's record"),
    "camera.edit_placement": (("admin", "planner"), "move a camera, change its azimuth, field of view, range, height"),
    "camera.edit": (("admin", "planner"), "open a camera's edit form (it offers only the fields the role may change)"),
    "camera.status": (("admin", "operator"), "change a camera's status (ON, OFF, VLOST, DEFECT) with a reason"),
    "camera.add": (("admin",), "add an installed camera"),
    "camera.retire": (("admin",), "retire a camera (it stays, with its history)"),
    "camera.import": (("admin",), "upload a camera file (dry run, then commit)"),
    "camera.export": (DISTRICT, "download the camera list"),
    "camera.plan": (("admin", "planner"), "adopt a proposed site as a planned camera, edit or drop planned cameras"),
    # coverage planning (/dashboard/planner, /api/coverage)
    "coverage.plan": (("admin", "planner"), "run the coverage what-if, export its plan and the coverage reports"),
    # grids and members (/grids)
    "grid.read": (ALL, "see the grid list and a grid's page (a field role: its grids)"),
    "grid.boundary": (("admin",), "upload grid boundaries (preview, then commit)"),
    "member.manage": (("admin",), "add members, assign them to grids, move, unassign, appoint the lead"),
    "member.roles_own_grid": (("admin", "grid_lead"), "give or take the non-lead roles of a grid's members "
                                                        "(a grid lead: in its own grids)"),
    "member.phones": (("admin", "operator", "grid_lead", "member"), "see members' phone numbers unmasked"),
    # people, reference data, audit
    "user.manage": (("admin",), "list, add, disable, reset, remove accounts; issue and revoke API keys"),
    "reference.edit": (("admin",), "edit categories, deadlines, the sensitive flag and code names"),
    "reference.read": (DISTRICT, "see the reference data"),
    "audit.read": (("admin",), "search and export the audit log"),
    "webhooks.manage": (("admin",), "read the webhook's delivery log and send a failed delivery again"),
}
#: capabilities that are the union of others (checked at import: they cannot drift apart)
UNIONS = {"camera.edit": ("camera.edit_record", "camera.edit_placement", "camera.plan")}


def _check() -> None:
    for name, (roles, _what) in CAPABILITIES.items():
        unknown = set(roles) - set(ACCOUNT_ROLES)
        if unknown:
            raise ValueError(f"capability {name}: unknown roles {sorted(unknown)}")
        if "admin" not in roles:
            raise ValueError(f"capability {name}: an administrator may do everything")
    for name, parts in UNIONS.items():
        union = {r for p in parts for r in CAPABILITIES[p][0]}
        if set(CAPABILITIES[name][0]) != union:
            raise ValueError(f"capability {name}: its roles must be those of {', '.join(parts)}: {sorted(union)}")


_check()


def roles_for(capability: str) -> tuple[str, ...]:
    return CAPABILITIES[capability][0]


def can(user, capability: str) -> bool:
    """Whether ``user`` (an account, or None) holds ``capability`` (a KeyError for an unknown one)."""
    return user is not None and user.role in CAPABILITIES[capability][0]


def capability_required(capability: str):
    """A route decorator: log-in required, then 403 (naming the capability) unless the role holds it.
    The view function gets ``required_capability`` (the role-matrix test reads it)."""
    from app.accounts.auth import current_user, login_required

    roles, what = CAPABILITIES[capability]

    def decorate(view):
        @functools.wraps(view)
        def checked(*args, **kwargs):
            user = current_user()
            if user is not None and user.role not in roles:
                raise Forbidden(f"{capability}: only {', '.join(roles)} may {what}; you are logged in as {user.role}")
            return view(*args, **kwargs)
        wrapped = login_required(checked)
        wrapped.required_capability = capability
        return wrapped
    return decorate


def require(user, capability: str) -> None:
    """Raise Forbidden (naming the capability) unless ``user`` holds it: for checks inside a view (a PATCH
    whose fields decide which capability it needs)."""
    if not can(user, capability):
        roles, what = CAPABILITIES[capability]
        raise Forbidden(f"{capability}: only {', '.join(roles)} may {what}"
                        + (f"; you are logged in as {user.role}" if user is not None else ""))


def capabilities_of(user) -> dict[str, bool]:
    """``{capability: allowed}`` for ``user``: what a page hands its scripts so they show only what works."""
    return {name: can(user, name) for name in CAPABILITIES}
