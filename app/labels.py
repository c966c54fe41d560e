"""Words, not codes (代码名称): the one table of the names the interface shows for every code.

``LABELS[kind][code] = (中文, English)``. Templates use ``{{ code|label('state') }}``; pages hand the whole
table of their language to their scripts in the page data (``table(lang)``), so a script shows the same
words. Incident categories have their names in the ``categories`` table (loaded from data/reference).
"""
from __future__ import annotations

from app.accounts.models import ACCOUNT_ROLES
from app.incidents.models import PRIORITIES, SOURCES, STATES
from app.incidents.workflow import ACTIONS

LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "state": {
        "reported": ("已上报", "Reported"), "accepted": ("已受理", "Accepted"), "voided": ("已作废", "Voided"),
        "dispatched": ("已派遣", "Dispatched"), "in_progress": ("处置中", "In progress"),
        "resolved": ("已处置待核查", "Resolved, to check"), "closed": ("已办结", "Closed"),
    },
    "action": {
        "report": ("上报", "Report"), "accept": ("受理", "Accept"), "void": ("作废", "Void"),
        "dispatch": ("派遣", "Dispatch"), "start": ("开始处置", "Start"), "resolve": ("处置完成", "Resolve"),
        "pass_check": ("核查通过", "Check: pass"), "fail_check": ("核查不通过", "Check: fail"),
        "reassign": ("改派", "Reassign"), "move": ("调整位置", "Move"),
        "confirm_duplicate": ("确认重复", "Confirm duplicate"), "reject_duplicate": ("不是重复", "Not a duplicate"),
        "comment": ("备注", "Comment"),
    },
    "priority": {"urgent": ("特急", "Urgent"), "high": ("紧急", "High"), "normal": ("一般", "Normal"),
                 "low": ("较低", "Low")},
    "source": {"patrol": ("网格员巡查", "Patrol"), "video": ("视频发现", "Video"), "public": ("群众上报", "Public"),
               "hotline": ("热线电话", "Hotline"), "wechat": ("微信", "WeChat"),
               "higher_office": ("上级交办", "Higher office")},
    "role": {"admin": ("管理员", "Administrator"), "operator": ("指挥中心值班员", "Operator"),
             "planner": ("规划人员", "Planner"), "grid_lead": ("网格长", "Grid lead"), "member": ("网格员", "Grid member")},
}


def label(kind: str, code, lang: str = "zh") -> str:
    """The name of ``code`` of ``kind`` in ``lang``; an unknown code is shown as itself (a gap stays visible)."""
    names = LABELS.get(kind, {}).get(code)
    if names is None:
        return "" if code is None else str(code)
    return names[1] if lang == "en" else names[0]


def table(lang: str = "zh") -> dict[str, dict[str, str]]:
    """Every kind's code → name in ``lang``: what a page hands its scripts."""
    return {kind: {code: (n[1] if lang == "en" else n[0]) for code, n in codes.items()}
            for kind, codes in LABELS.items()}


def _complete() -> None:
    for kind, codes in (("state", STATES), ("action", ("report",) + ACTIONS), ("priority", PRIORITIES),
                        ("source", SOURCES), ("role", ACCOUNT_ROLES)):
        missing = set(codes) - set(LABELS[kind])
        if missing:
            raise ValueError(f"app.labels: no name for {kind} {sorted(missing)}")


_complete()
