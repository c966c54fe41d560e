"""The incident workflow (事件处置流程) as data: which action moves which state where, and who may act.

The closed loop of DOMAIN.md: 报告 reported → 立案 accepted (or voided) → 派遣 dispatched to the grid
(the deadline clock starts) → 处置 in_progress → 处理反馈 resolved → 督查核查: pass → closed (feedback to
the reporter), fail → back to dispatched. Everything here is plain data plus two small functions, so
the dashboards, the Open311 API and the tests read the same table.
"""
from __future__ import annotations

from app.incidents.models import OPEN_STATES, STATES

#: (state, action) → next state, for the actions that move an incident along the loop.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("reported", "accept"): "accepted",
    ("reported", "void"): "voided",
    ("accepted", "dispatch"): "dispatched",
    ("dispatched", "start"): "in_progress",
    ("in_progress", "resolve"): "resolved",
    ("resolved", "pass_check"): "closed",
    ("resolved", "fail_check"): "dispatched",
    # confirming a suspected duplicate closes the copy as voided (the original carries on)
    ("reported", "confirm_duplicate"): "voided",
    ("accepted", "confirm_duplicate"): "voided",
}

#: Actions that leave the state as it is, and the states in which they make sense.
IN_PLACE: dict[str, tuple[str, ...]] = {
    "reassign": ("dispatched", "in_progress"),
    "move": ("reported", "accepted", "dispatched", "in_progress"),
    "reject_duplicate": OPEN_STATES,
    "comment": STATES,
}

FLOW_ACTIONS = ("accept", "void", "dispatch", "start", "resolve", "pass_check", "fail_check")
ACTIONS = FLOW_ACTIONS + ("reassign", "move", "confirm_duplicate", "reject_duplicate", "comment")

# who may take which action (role, grid, the check's independence) is app.incidents.permissions

#: What each action needs from whoever takes it: the incident service enforces it and the detail panel asks
#: for it (the page data's ``map.rules``). ``note``: a note is required, the value says what it must tell
#: (the 422's reason); ``member``: a member of the incident's grid may be chosen (default: its lead);
#: ``photos``: after-photos may come with it; ``spot``: a new spot on the map.
ACTION_RULES: dict[str, dict] = {
    "accept": {},
    "void": {"note": "say why the incident is voided"},
    "dispatch": {"member": True},
    "start": {},
    "resolve": {"note": "say what was done", "photos": True},
    "pass_check": {},
    "fail_check": {"note": "say why the work fails the check"},
    "reassign": {"member": True},
    "move": {"note": "say why the incident moves", "spot": True},
    "confirm_duplicate": {},
    "reject_duplicate": {},
    "comment": {"note": "a comment needs its text"},
}


def note_required(action: str) -> str | None:
    """What the note of ``action`` must say when it is required, else None (``ACTION_RULES``)."""
    return ACTION_RULES.get(action, {}).get("note")


#: Actions that only make sense while the incident is flagged as a suspected duplicate.
NEEDS_SUSPECTED_DUPLICATE = frozenset({"confirm_duplicate", "reject_duplicate"})


def next_state(state: str, action: str) -> str | None:
    """The state ``action`` leads to from ``state``; the same state for in-place actions; None if illegal."""
    if (state, action) in TRANSITIONS:
        return TRANSITIONS[(state, action)]
    if state in IN_PLACE.get(action, ()):
        return state
    return None


def legal_actions(state: str, duplicate_status: str | None = None) -> list[str]:
    """Every action the workflow allows from ``state``, whoever asks, in ``ACTIONS`` order."""
    out = []
    for action in ACTIONS:
        if next_state(state, action) is None:
            continue
        if action in NEEDS_SUSPECTED_DUPLICATE and duplicate_status != "suspected":
            continue
        out.append(action)
    return out

