"""Data of the grid-lead view (网格长): their grids, members and roles, open incidents with deadlines
and the actions allowed on each, and patrol coverage of the last days."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.accounts.auth import mask_phone, sees_member_phones
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
    rows = s.execute(text(
        "SELECT r.grid_code, m.id, m.name, m.phone, string_agg(r.role, ';' ORDER BY r.role) AS roles "
        "FROM member_roles r JOIN members m ON m.id = r.member_id WHERE r.grid_code = ANY(:g) "
        "GROUP BY r.grid_code, m.id ORDER BY r.grid_code, bool_or(r.role = 'lead') DESC, m.name"),
        {"g": sorted(grids)}).mappings().all()
    show = sees_member_phones(user)
    return [{**r, "phone": r["phone"] if show else mask_phone(r["phone"])} for r in rows]


def open_incidents(s: Session, user, grids, *, lang: str = "zh") -> list[dict]:
    from app.incidents.models import Incident
    from app.incidents.workflow import allowed_actions

    name = "k.name_en" if lang == "en" else "k.name_zh"
    rows = s.execute(text(
        f"SELECT i.id, i.external_id, i.state, {name} AS category, i.description, i.address, i.grid_code, "
        "i.deadline, i.reported_at, m.name AS assignee, (i.deadline < now()) AS overdue FROM incidents i "
        "JOIN categories k ON k.code = i.category_code LEFT JOIN members m ON m.id = i.assignee_id "
        "WHERE i.grid_code = ANY(:g) AND i.state = ANY(:open) "
        "ORDER BY (i.deadline < now()) DESC NULLS LAST, i.deadline NULLS LAST, i.reported_at DESC LIMIT :n"),
        {"g": sorted(grids), "open": list(OPEN_STATES), "n": MAX_LISTED_INCIDENTS}).mappings().all()
    out = []
    for r in rows:
        out.append({**r, "overdue": bool(r["overdue"]), "actions": allowed_actions(s.get(Incident, r["id"]), user)})
    return out


def patrol_coverage(s: Session, grids, *, days: int = PATROL_DAYS) -> list[dict]:
    """Per grid over the last ``days``: patrol points, members who patrolled, days with a patrol, last one."""
    since = datetime.now(timezone.utc) - timedelta(days=days)
    rows = s.execute(text(
        "SELECT g.code AS grid_code, count(p.id) AS points, count(DISTINCT p.member_id) AS members, "
        "count(DISTINCT date(p.at AT TIME ZONE 'Asia/Shanghai')) AS days, max(p.at) AS last_at "
        "FROM grids g LEFT JOIN patrol_points p ON p.grid_code = g.code AND p.at >= :since "
        "WHERE g.code = ANY(:g) GROUP BY g.code ORDER BY g.code"),
        {"g": sorted(grids), "since": since}).mappings().all()
    return [dict(r) for r in rows]


def grid_lead_data(s: Session, user, grids, *, lang: str = "zh") -> dict:
    info = s.execute(text("SELECT code, name FROM grids WHERE code = ANY(:g) ORDER BY code"),
                     {"g": sorted(grids)}).all()
    return {"grids": info, "members": members(s, user, grids), "incidents": open_incidents(s, user, grids, lang=lang),
            "patrols": patrol_coverage(s, grids), "patrol_days": PATROL_DAYS}
