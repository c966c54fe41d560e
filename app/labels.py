"""Words, not codes (代码名称): the one table of the names the interface shows for every code.

``LABELS[kind][code] = (中文, English)``. Templates use ``{{ code|label('state') }}``; pages hand the whole
table of their language to their scripts in the page data (``table(lang)``), so a script shows the same
words (``gw.label(kind, code)``). Incident categories have their names in the ``categories`` table (loaded
from data/reference); street, community and grid names are in their tables.

Kinds and where their codes are defined (``_complete`` checks at import that every code has its names):

=================  ====================================================================================
state, priority,   ``app.incidents.models`` STATES, PRIORITIES, SOURCES
source
action             ``app.incidents.workflow.ACTIONS`` and ``report``
duplicate          ``incidents.duplicate_status`` (its check constraint; tests/app/test_labels.py reads it)
role               ``app.accounts.models.ACCOUNT_ROLES`` (accounts)
member_role        ``app.grids.models.ROLES`` (网格员的职务: 网格长, 宣传员, …)
street_kind        ``app.grids.models.STREET_KINDS``
programme,         ``camera_registry.models`` PROGRAMMES, STATUSES, EVENTS, PTZ_TYPES, POINT_CLASSES; their
camera_status,     names are defined there (``*_NAMES``), beside the codes, because the registry's import
camera_event,      accepts the Chinese names too (``camera_registry.schema`` aliases)
ptz_type,
point_class
industry,          ``camera_registry.gb28181`` INDUSTRY_NAMES, DIRECTION_NAMES, NODE_KIND_NAMES (the catalog tree's
direction_type,    node kinds); ``parental``, ``secrecy``: ``camera_registry.models`` PARENTAL_NAMES, SECRECY_NAMES
catalog_node,
parental, secrecy
photo_kind         ``app.photos.models.PHOTO_KINDS``
webhook_event,     ``app.webhooks.models`` WEBHOOK_EVENTS, DELIVERY_STATES
delivery_status
audit_object,      ``app.audit.models.OBJECT_TYPES`` (what an audit row is about), ``app.audit.service.ACTIONS``
audit_action       (the trigger's insert/update/delete, and a failed log-in)
=================  ====================================================================================

The names of ``programme``, ``source`` and ``member_role`` are the district's to change (/admin/reference):
``app.reference.service.refresh_labels`` lays the database's names over the shipped ones with
:func:`overlay`.

PTZ types and point classes are integers (GB/T 28181); ``label`` also takes them as text or float
(``"3"``, ``3.0``: what a form or a DataFrame column holds).
"""
from __future__ import annotations

from camera_registry.gb28181 import DIRECTION_AZIMUTH, DIRECTION_NAMES, INDUSTRY_NAMES, NODE_KIND_NAMES, NODE_KINDS
from camera_registry.models import (EVENT_NAMES, EVENTS, LIFECYCLE_NAMES, LIFECYCLES, POINT_CLASS_NAMES, POINT_CLASSES, PROGRAMME_NAMES,
                                    PROGRAMMES, PARENTAL_NAMES, PTZ_NAMES, PTZ_TYPES, SECRECY_NAMES, STATUS_NAMES, STATUSES)
from app.accounts.models import ACCOUNT_ROLES
from app.audit.models import OBJECT_TYPES
from app.audit.service import ACTIONS as AUDIT_ACTIONS
from app.grids.models import ROLES as MEMBER_ROLES, STREET_KINDS
from app.incidents.models import PRIORITIES, SOURCES, STATES
from app.incidents.workflow import ACTIONS
from app.photos.models import PHOTO_KINDS
from app.webhooks.models import DELIVERY_STATES, WEBHOOK_EVENTS
from data import reference

LABELS: dict[str, dict] = {
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
    # the shipped names of data/reference (app.reference overlays the names an administrator gave them)
    "source": reference.names("sources.csv"),
    "duplicate": {"suspected": ("疑似重复", "Suspected duplicate"), "confirmed": ("确认重复", "Confirmed duplicate"),
                  "rejected": ("不是重复", "Not a duplicate")},
    "role": {"admin": ("管理员", "Administrator"), "operator": ("指挥中心值班员", "Operator"),
             "planner": ("规划人员", "Planner"), "grid_lead": ("网格长", "Grid lead"), "member": ("网格员", "Grid member")},
    "member_role": reference.names("roles.csv"),
    "street_kind": {"street": ("街道", "Street"), "town": ("镇", "Town"), "township": ("乡", "Township")},
    "programme": PROGRAMME_NAMES,
    "camera_status": STATUS_NAMES,
    "lifecycle": LIFECYCLE_NAMES,
    "camera_event": EVENT_NAMES,
    "ptz_type": PTZ_NAMES,
    "point_class": POINT_CLASS_NAMES,
    "industry": INDUSTRY_NAMES,
    "direction_type": DIRECTION_NAMES,
    "parental": PARENTAL_NAMES,
    "secrecy": SECRECY_NAMES,
    "catalog_node": NODE_KIND_NAMES,
    "photo_kind": {"before": ("处置前", "Before"), "after": ("处置后", "After")},
    "webhook_event": {"created": ("新事件", "Created"), "dispatched": ("已派遣", "Dispatched"),
                      "due_soon": ("即将超期", "Due soon"), "overdue": ("已超期", "Overdue"),
                      "resolved": ("已处置", "Resolved"), "closed": ("已办结", "Closed")},
    "delivery_status": {"pending": ("待发送", "Pending"), "delivered": ("已送达", "Delivered"),
                        "failed": ("发送失败", "Failed")},
    "audit_object": {"camera": ("摄像头", "Camera"), "incident": ("事件", "Incident"), "street": ("街道/镇", "Street"),
                     "community": ("社区", "Community"), "grid": ("网格", "Grid"), "member": ("网格员", "Grid member"),
                     "member_role": ("网格员职务分配", "Member's role"), "user": ("账号", "Account"),
                     "api_key": ("接口密钥", "API key"), "category": ("事件类别", "Incident category"),
                     "programme": ("建设工程", "Programme"), "source": ("事件来源", "Incident source"),
                     "member_role_type": ("网格员职务", "Member role type"), "login": ("登录失败", "Failed log-in"),
                     "catalog_node": ("目录节点", "Catalog node"),
                     "patrol_points": ("巡查轨迹点（保留期清理）", "Patrol points (retention)")},
    "audit_action": {"insert": ("新增", "Added"), "update": ("修改", "Changed"), "delete": ("删除", "Deleted"),
                     "login_failed": ("登录未成功", "Log-in refused")},
}

#: each kind's code list, as its model defines it (``duplicate``: only a check constraint, tested there)
CODES: dict[str, tuple] = {
    "state": STATES, "action": ("report",) + tuple(ACTIONS), "priority": PRIORITIES, "source": SOURCES,
    "role": ACCOUNT_ROLES, "member_role": MEMBER_ROLES, "street_kind": STREET_KINDS, "programme": PROGRAMMES,
    "camera_status": STATUSES, "lifecycle": LIFECYCLES, "camera_event": EVENTS, "ptz_type": PTZ_TYPES, "point_class": POINT_CLASSES, "industry": tuple(INDUSTRY_NAMES),
    "direction_type": tuple(DIRECTION_AZIMUTH), "parental": (0, 1), "secrecy": (0, 1), "catalog_node": NODE_KINDS,
    "photo_kind": PHOTO_KINDS, "webhook_event": WEBHOOK_EVENTS, "delivery_status": DELIVERY_STATES,
    "audit_object": OBJECT_TYPES, "audit_action": AUDIT_ACTIONS,
}
#: the names a kind was shipped with, kept once :func:`overlay` has replaced them
_SHIPPED: dict[str, dict] = {}


def _names(kind: str, code):
    codes = LABELS.get(kind, {})
    if isinstance(code, bool):  # True == 1: not a PTZ type
        return None
    names = codes.get(code)
    if names is None and isinstance(code, (str, float)):
        try:  # an integer code (PTZ type, point class) as a form or a DataFrame column holds it
            number = float(code)
        except ValueError:
            return None
        if number.is_integer():
            names = codes.get(int(number))
    return names


def label(kind: str, code, lang: str = "zh") -> str:
    """The name of ``code`` of ``kind`` in ``lang``; an unknown code is shown as itself (a gap stays visible)."""
    names = _names(kind, code)
    if names is None:
        return "" if code is None else str(code)
    return names[1] if lang == "en" else names[0]


def names(kind: str, lang: str = "zh") -> dict:
    """``{code: name}`` of one kind in ``lang``, in the code list's order."""
    i = 1 if lang == "en" else 0
    return {code: n[i] for code, n in LABELS[kind].items()}


def table(lang: str = "zh") -> dict[str, dict[str, str]]:
    """Every kind's code → name in ``lang``: what a page hands its scripts (integer codes become text keys
    in JSON, which ``gw.label`` looks up by ``String(code)``)."""
    return {kind: names(kind, lang) for kind in LABELS}


def overlay(kind: str, stored: dict) -> None:
    """Show the names ``stored`` (``{code: (中文, English)}``, e.g. an administrator's, from the database)
    for ``kind`` instead of the shipped ones; codes not in the kind's list are ignored, codes missing from
    ``stored`` (or with a blank name) keep their shipped names, so every code always has both names.
    ``overlay(kind, {})`` puts the shipped names back."""
    shipped = _SHIPPED.setdefault(kind, LABELS[kind])
    names = {}
    for code, pair in shipped.items():
        got = stored.get(code)
        ok = isinstance(got, tuple) and len(got) == 2 and all(isinstance(n, str) and n.strip() for n in got)
        names[code] = got if ok else pair
    LABELS[kind] = names  # one assignment: a request reading the table meanwhile sees the old or the new one


def _complete() -> None:
    for kind, codes in CODES.items():
        missing = set(codes) - set(LABELS[kind])
        extra = set(LABELS[kind]) - set(codes)
        if missing or extra:
            raise ValueError(f"app.labels: {kind} names missing for {sorted(missing, key=str)}, "
                             f"or for no code: {sorted(extra, key=str)}")
        for code, pair in LABELS[kind].items():
            if len(pair) != 2 or not all(isinstance(n, str) and n.strip() for n in pair):
                raise ValueError(f"app.labels: {kind} {code!r} needs a Chinese and an English name")
    unchecked = set(LABELS) - set(CODES) - {"duplicate"}
    if unchecked:
        raise ValueError(f"app.labels: kinds without a code list: {sorted(unchecked)}")


_complete()
