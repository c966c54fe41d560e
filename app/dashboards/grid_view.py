"""Data of the field page (网格长 grid lead, 网格员 member; an admin looks at one grid): their grids, members
and roles, the tasks (open incidents with deadlines and the actions allowed on each), and patrol coverage
of the last days."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.accounts.auth import mask_phone, sees_member_phones
from app.grids.models import LEAD
from app.incidents.models import OPEN_STATES
from gis.errors import NotFound

PATROL_DAYS = 7
MAX_LISTED_INCIDENTS = 200


def admin_grid(s: Session, code: str | None) -> frozenset[str]:
    """The one grid an admin asked for (``?grid=``), else the first grid."""
    sql = "SELECT code FROM grids WHERE (CAST(:g AS text) IS NULL OR code = :g) ORDER BY code LIMIT 1"
    found = s.execute(text(sql), {"g": code or None}).scalar()
    if found is None:
        raise NotFound(f"grid {code} not found")
    return frozenset({found})


def members(s: Session, user, grids) -> list[dict]:
    """The members of ``grids``, per grid: the lead first, then by name; ``roles`` a list of role codes
    (shown by name, kind ``member_role``); ``phone`` in full for the roles that call members
    (``sees_member_phones``: the field roles see their own grids' colleagues), else masked, and
    ``tel`` (the ``tel:`` target) only when it is in full."""
    rows = s.execute(text(
        "SELECT r.grid_code, m.id, m.name, m.phone, array_agg(r.role ORDER BY r.role) AS roles "
        "FROM member_roles r JOIN members m ON m.id = r.member_id WHERE r.grid_code = ANY(:g) "
        "GROUP BY r.grid_code, m.id ORDER BY r.grid_code, bool_or(r.role = :lead) DESC, m.name"),
        {"g": sorted(grids), "lead": LEAD}).mappings().all()
    show = sees_member_phones(user)
    return [{**r, "roles": list(r["roles"]), "phone": r["phone"] if show else mask_phone(r["phone"]),
             "tel": tel_target(r["phone"]) if show else None} for r in rows]


def tel_target(phone: str | None) -> str | None:
    """A phone number as a ``tel:`` link's target: its digits and a leading ``+`` (spaces, dashes and
    brackets dropped); None when nothing dialable is left."""
    if not phone:
        return None
    digits = "".join(c for c in str(phone) if c.isascii() and c.isdigit())
    if not digits:
        return None
    return "tel:" + ("+" if str(phone).strip().startswith("+") else "") + digits


def open_incidents(s: Session, user, grids, *, lang: str = "zh", due_soon_hours: float) -> list[dict]:
    """The tasks (任务) of ``grids``: their open incidents, those assigned to the user's own member first,
    then overdue ones, then by deadline (due soon comes next by itself), then newest reported; each with
    its category's name, ``overdue`` and ``due_soon`` (``app.incidents.queries``' one rule, in SQL),
    ``mine``, ``version`` and the ``actions`` the user may take (one batch: ``permissions.actions_for``)."""
    from sqlalchemy import Integer, bindparam, false, func, literal, select

    from app.incidents.models import Category, Incident
    from app.incidents.permissions import actions_for
    from app.incidents.queries import due_soon_condition, overdue_condition
    from app.grids.models import Member

    member_id = getattr(user, "member_id", None)
    # NULL for an account without a member (an admin): nothing is "mine"
    mine = func.coalesce(Incident.assignee_id == bindparam("me", member_id, type_=Integer), false())
    overdue = func.coalesce(overdue_condition(), false())  # no deadline: NULL, which DESC would sort first
    name = Category.name_en if lang == "en" else Category.name_zh
    stmt = (select(Incident.id, Incident.external_id, Incident.state, Incident.priority, Incident.category_code,
                   name.label("category"), Incident.description, Incident.address, Incident.grid_code,
                   Incident.deadline, Incident.reported_at, Incident.assignee_id, Member.name.label("assignee"),
                   Incident.version, Incident.duplicate_status, mine.label("mine"), overdue.label("overdue"),
                   due_soon_condition(due_soon_hours).label("due_soon"))
            .join(Category, Category.code == Incident.category_code)
            .outerjoin(Member, Member.id == Incident.assignee_id)
            .where(Incident.grid_code.in_(sorted(grids)), Incident.state.in_(OPEN_STATES))
            .order_by(mine.desc(), overdue.desc(), Incident.deadline.asc().nulls_last(),
                      Incident.reported_at.desc(), Incident.id.desc())
            .limit(literal(MAX_LISTED_INCIDENTS)))
    rows = [dict(r) for r in s.execute(stmt).mappings()]
    allowed = actions_for(s, user, [_Row(r) for r in rows])
    return [{**r, "mine": bool(r["mine"]), "overdue": bool(r["overdue"]), "due_soon": bool(r["due_soon"]),
             "actions": allowed[r["id"]]} for r in rows]


class _Row:
    """A task row as ``actions_for`` reads it (attributes, not keys)."""

    def __init__(self, row: dict):
        self.__dict__.update(row)


def patrol_coverage(s: Session, grids, *, days: int = PATROL_DAYS, settings=None) -> list[dict]:
    """Per grid over the last ``days`` (today included, district time), from the patrol report: points
    inside the grid, members who patrolled it, days with a patrol, minutes in the grid, the best day's
    share of the grid's roads passed within 30 m, and whether nobody patrolled it at all."""
    from app.patrols.service import district_zone, patrol_report, unpatrolled_grids

    codes = sorted(grids)
    today = datetime.now(district_zone(settings)).date()
    report = patrol_report(s, today - timedelta(days=days - 1), today, grid_codes=codes, settings=settings)
    report = report[report["points"] > 0]
    idle = set(unpatrolled_grids(s, days, grid_codes=codes)["grid_code"])
    out = []
    for code in codes:
        mine = report[report["grid_code"] == code]
        share = mine["road_share"].max() if len(mine) else None
        out.append({"grid_code": code, "points": int(mine["points"].sum()), "members": int(mine["member_id"].nunique()),
                    "days": int(mine["day"].nunique()), "minutes": round(float(mine["minutes_in_grid"].sum()), 1),
                    "road_share": None if share is None or share != share else float(share),
                    "unpatrolled": code in idle})
    return out


def grid_lead_data(s: Session, user, grids, *, lang: str = "zh", settings) -> dict:
    """Everything the field page shows, and ``js``: what its scripts (field.js, patrol.js) get in the
    page's data block (URLs from ``url_for``, the track style, whether this account can patrol)."""
    from flask import url_for

    from app.patrols import phone
    from app.patrols.views import SENDER_ROLES

    info = s.execute(text("SELECT code, name FROM grids WHERE code = ANY(:g) ORDER BY code"),
                     {"g": sorted(grids)}).all()
    tracks = phone.today_tracks(s, grids, settings=settings)
    one_grid = sorted(grids)[0] if user.role not in SENDER_ROLES and grids else None  # an admin's ?grid=
    js = {"urls": {"points": url_for("patrols.api_points"), "today": url_for("patrols.api_today", grid=one_grid)},
          "track_style": phone.TRACK_STYLE, "user": user.username,
          "can_patrol": user.role in SENDER_ROLES and getattr(user, "member_id", None) is not None,
          "batch_points": phone.SEND_EVERY_POINTS, "batch_ms": phone.SEND_EVERY_MS,
          "min_gap_ms": phone.KEEP_EVERY_MS, "max_batch": phone.MAX_BATCH_POINTS}
    return {"grids": info, "members": members(s, user, grids),
            "incidents": open_incidents(s, user, grids, lang=lang, due_soon_hours=settings.due_soon_hours),
            "patrols": patrol_coverage(s, grids, settings=settings), "patrol_days": PATROL_DAYS,
            "tracks": [f["properties"] for f in tracks["features"]], "js": js}
