"""One incident's details for the map (事件详情), and the search box (no Flask here).

Scoping: an incident outside the user's grids is reported as not found, so a grid lead cannot even
learn that another grid's incident number exists.
"""
from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.accounts.auth import mask_name, mask_phone, sees_member_phones, sees_reporters
from app.dashboards.service import local_iso
from app.grids.models import LEAD
from app.incidents.models import OPEN_STATES
from app.layers_db import read_postgis
from gis.coverage import view_sector_frame
from gis.errors import NotFound
from gis.text import like_literal
from layers.base import shift_lonlat, to_display

SEARCH_MAX = 100         # longest search text (characters); a longer one is refused, not cut


def cameras_seeing_spot(s: Session, lon: float, lat: float, basemap: str, grids=None) -> dict:
    """Cameras that see (lon, lat), as ``gridwatch coverage sees`` lists them (``app.coverage.service
    .cameras_seeing``, the one definition), with their view cones as GeoJSON (display coordinates) and the
    spot itself (``spot``: WGS-84 lon/lat). ``grids`` (None = all) limits the cameras to those the user
    may see, as every other camera list does."""
    from app.coverage.service import cameras_seeing

    seen = cameras_seeing(s, lon, lat, grids=grids)  # those that see it, then those that would after a turn
    cones = view_sector_frame(seen, ["device_id"])
    cones["after_turn"] = seen["after_turn"].astype(bool).to_numpy()
    cams = [{"device_id": r["device_id"], "distance_m": round(float(r["distance_m"]), 1),
             "bearing_deg": round(float(r["bearing_deg"]), 1), "sees": bool(r["sees"]),
             "after_turn": bool(r["after_turn"])} for r in seen.to_dict("records")]
    return {"cameras": cams, "cones": json.loads(to_display(cones, basemap).to_json(drop_id=True)),
            "spot": [round(lon, 7), round(lat, 7)]}


def incident_detail(s: Session, user, incident_id: int, grids, *, basemap: str, tz: str, lang: str = "zh") -> dict:
    """Details, timeline (times in the district's zone ``tz``), allowed actions and the cameras that see
    the spot; reporter masked unless the role needs it."""
    row = s.execute(text(
        "SELECT i.id, i.external_id, i.state, i.category_code, k.name_zh, k.name_en, i.description, i.address, "
        "i.priority, i.source, i.reporter_name, i.reporter_phone, i.reported_at, i.dispatched_at, i.deadline, "
        "i.closed_at, i.grid_code, i.community_code, i.assignee_id, m.name AS assignee, m.phone AS assignee_phone, "
        "i.version, i.duplicate_of_id, i.duplicate_status, coalesce(d.external_id, d.id::text) AS duplicate_of_no, "
        "(i.state = ANY(:open) AND i.deadline < now()) AS overdue, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat "
        "FROM incidents i JOIN categories k ON k.code = i.category_code "
        "LEFT JOIN members m ON m.id = i.assignee_id LEFT JOIN incidents d ON d.id = i.duplicate_of_id "
        "WHERE i.id = :id"),
        {"id": incident_id, "open": list(OPEN_STATES)}).mappings().first()
    if row is None or (grids is not None and row["grid_code"] not in grids):
        raise NotFound(f"incident {incident_id} not found")
    d = dict(row)
    d["category"] = d.pop("name_en") if lang == "en" else d.pop("name_zh")
    d.pop("name_zh", None), d.pop("name_en", None)
    if not sees_reporters(user):
        d["reporter_name"], d["reporter_phone"] = mask_name(d["reporter_name"]), mask_phone(d["reporter_phone"])
    if not sees_member_phones(user):
        d["assignee_phone"] = None
    if d["duplicate_of_id"] is not None and grids is not None and _grid_of(s, d["duplicate_of_id"]) not in grids:
        d["duplicate_of_no"] = None  # the original lies outside the user's grids: its number is not theirs
    for key in ("reported_at", "dispatched_at", "deadline", "closed_at"):
        d[key] = local_iso(d[key], tz)
    x, y = shift_lonlat([d["lon"]], [d["lat"]], basemap)
    d["display"] = [float(x[0]), float(y[0])]
    photos = _photos(s, incident_id, tz)
    return {"incident": d, "timeline": timeline(s, incident_id, tz=tz, lang=lang, photos=photos),
            "actions": _actions(s, user, incident_id, d), "photos": _by_kind(photos),
            "seeing": cameras_seeing_spot(s, d["lon"], d["lat"], basemap, grids)}


def _grid_of(s: Session, incident_id: int) -> str | None:
    return s.execute(text("SELECT grid_code FROM incidents WHERE id = :i"), {"i": incident_id}).scalar()


def _actions(s: Session, user, incident_id: int, d: dict) -> list[str]:
    from types import SimpleNamespace

    from app.incidents.permissions import actions_for

    inc = SimpleNamespace(id=incident_id, grid_code=d["grid_code"], state=d["state"],
                          duplicate_status=d["duplicate_status"])
    return actions_for(s, user, [inc])[incident_id]


def _photos(s: Session, incident_id: int, tz: str) -> list[dict]:
    """The incident's photos (``app.photos.service.photos_of``: each with its URLs and the event it came with)."""
    from zoneinfo import ZoneInfo

    from app.photos.service import photos_of

    return photos_of(s, [incident_id], tz=ZoneInfo(tz)).get(incident_id, [])


def _by_kind(photos: list[dict]) -> dict[str, list[dict]]:
    from app.photos.models import PHOTO_KINDS

    return {kind: [p for p in photos if p["kind"] == kind] for kind in PHOTO_KINDS}


def note_text(key: str | None, args, note: str | None, lang: str) -> str | None:
    """An event's note in ``lang``: a system note (``note_key`` of ``app.messages.loop`` and its values)
    translated, else the note as written (a person's text, or an event older than note keys)."""
    from app.i18n import MESSAGES

    if not key or key not in MESSAGES:
        return note
    try:
        return (MESSAGES[key].get(lang) or MESSAGES[key]["zh"]).format(**(args or {}))
    except (KeyError, IndexError, ValueError):  # values that do not fit the message: the stored text
        return note


def timeline(s: Session, incident_id: int, *, tz: str, lang: str, photos: list[dict] = ()) -> list[dict]:
    """The incident's events, oldest first: at (district time), actor, action, from/to state, the note in
    ``lang`` (``note_text``) and the photos that came with the event."""
    rows = s.execute(text(
        "SELECT id, at, actor, action, from_state, to_state, note, note_key, note_args FROM incident_events "
        "WHERE incident_id = :i ORDER BY at, id"), {"i": incident_id}).mappings()
    by_event: dict = {}
    for p in photos:
        by_event.setdefault(p.get("event_id"), []).append(p)
    return [{"id": r["id"], "at": local_iso(r["at"], tz), "actor": r["actor"], "action": r["action"],
             "from_state": r["from_state"], "to_state": r["to_state"],
             "note": note_text(r["note_key"], r["note_args"], r["note"], lang),
             "photos": by_event.get(r["id"], [])} for r in rows]


def assignees(s: Session, incident_id: int) -> dict:
    """The members of the incident's grid with their roles there (codes of ``app.grids.models.ROLES``), the
    lead first: whom it may be dispatched or reassigned to; ``default`` is the lead's id (or None)."""
    grid = _grid_of(s, incident_id)
    rows = s.execute(text(
        "SELECT m.id, m.name, array_agg(r.role ORDER BY r.role) AS roles, bool_or(r.role = :lead) AS lead "
        "FROM member_roles r JOIN members m ON m.id = r.member_id WHERE r.grid_code = :g AND m.active "
        "GROUP BY m.id, m.name ORDER BY bool_or(r.role = :lead) DESC, m.name, m.id"), {"g": grid, "lead": LEAD}).all()
    members = [{"id": i, "name": n, "roles": list(roles), "lead": bool(lead)} for i, n, roles, lead in rows]
    return {"grid": grid, "members": members, "default": next((m["id"] for m in members if m["lead"]), None)}


def search(s: Session, q: str, grids, *, basemap: str, limit: int = 10) -> list[dict]:
    """Incidents (number or address), cameras (ID or name) and grids (code or name) matching ``q``.

    Each hit: ``kind``, ``id``, ``label`` and display ``lon``/``lat`` to fly to. ``q`` has been checked
    by the caller (``gis.text``, at most ``SEARCH_MAX`` characters).
    """
    q = (q or "").strip()
    if not q:
        return []
    like = "%" + like_literal(q) + "%"
    scope = "AND grid_code = ANY(:grids)" if grids is not None else ""
    params = {"q": q, "like": like, "limit": limit, "grids": sorted(grids or []),
              "qid": int(q) if q.isascii() and q.isdigit() and len(q) < 18 else -1}
    id_match = "id = :qid OR "
    queries = [
        ("incident", f"SELECT id::text AS id, coalesce(external_id, id::text) || ' ' || coalesce(address, '') AS label, "
                     f"geom FROM incidents WHERE ({id_match}external_id ILIKE :like OR address ILIKE :like) {scope} "
                     f"ORDER BY (external_id = CAST(:q AS text) OR id = :qid) DESC, reported_at DESC LIMIT :limit"),
        ("camera", f"SELECT device_id AS id, device_id || ' ' || coalesce(name, '') AS label, geom FROM cameras "
                   f"WHERE lifecycle <> 'retired' AND (device_id LIKE :like OR name ILIKE :like OR address ILIKE :like) {scope} "
                   f"ORDER BY device_id LIMIT :limit"),
        ("grid", f"SELECT code AS id, code || ' ' || name AS label, ST_PointOnSurface(geom) AS geom FROM grids "
                 f"WHERE (code LIKE :like OR name ILIKE :like) {scope.replace('grid_code', 'code')} "
                 f"ORDER BY code LIMIT :limit"),
    ]
    hits = []
    for kind, sql in queries:
        frame = read_postgis(s.connection(), text(sql), params)
        shown = to_display(frame, basemap)
        hits += [{"kind": kind, "id": i, "label": label, "lon": round(x, 6), "lat": round(y, 6)}
                 for i, label, x, y in zip(frame["id"], frame["label"], shown.geometry.x, shown.geometry.y)]
    return hits


def incident_detail_scope(s: Session, incident_id: int, grids) -> None:
    """Raise NotFound unless the incident exists and lies in ``grids`` (None = anywhere)."""
    grid = s.execute(text("SELECT grid_code FROM incidents WHERE id = :id"), {"id": incident_id}).first()
    if grid is None or (grids is not None and grid[0] not in grids):
        raise NotFound(f"incident {incident_id} not found")
