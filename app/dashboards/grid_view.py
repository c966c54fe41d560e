"""Data of the grid-lead view (网格长): their grids, members and roles, open incidents with deadlines
and the actions allowed on each, and patrol coverage of the last days."""
from __future__ import annotations

from datetime import datetime, timedelta

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
    from app.incidents.service import allowed_actions

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


def grid_lead_data(s: Session, user, grids, *, lang: str = "zh", settings=None) -> dict:
    info = s.execute(text("SELECT code, name FROM grids WHERE code = ANY(:g) ORDER BY code"),
                     {"g": sorted(grids)}).all()
    return {"grids": info, "members": members(s, user, grids), "incidents": open_incidents(s, user, grids, lang=lang),
            "patrols": patrol_coverage(s, grids, settings=settings), "patrol_days": PATROL_DAYS}
