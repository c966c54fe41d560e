"""Reading the audit log (审计日志): search, keyset pages, the rows as a page and a CSV show them.

Two sources in one list, newest first: ``audit_log`` (every change, written by the ``gw_audit`` trigger:
app.audit.models) and the failed log-ins of ``login_attempts`` (object type ``login``, action
``login_failed``; the name typed is both the actor and the object, with the client's address and the
reason). Paging is by keyset, ``(at, source, id)`` of the last row shown, so a page is one index range
read however deep the log is, and rows written meanwhile neither shift nor repeat a page.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.audit.models import AUDIT_ACTIONS, AUDITED, KEY_JOIN, OBJECT_TYPES, AuditEntry
from app.dashboards.params import Params
from gis.text import column_length, like_literal

LOGIN_TYPE = "login"
LOGIN_FAILED = "login_failed"
#: the actions a row may show: the trigger's, and a refused log-in
ACTIONS = AUDIT_ACTIONS + (LOGIN_FAILED,)
PAGE_SIZE = 50
#: rows read per query while the CSV streams
CSV_BATCH = 2000
#: a value longer than this is folded on the page (shown in full when opened)
FOLD_AT = 80
ACTOR_MAX = column_length(AuditEntry.__table__.c.actor)
OBJECT_ID_MAX = column_length(AuditEntry.__table__.c.object_id)
_SOURCES = ("a", "l")  # audit_log, login_attempts: the middle key of the keyset
#: object types keyed by several columns (``17@510304001001001``): found by any one part too
JOINED_TYPES = tuple(kind for kind, key, _ignored, _hidden in AUDITED.values() if KEY_JOIN in key)


@dataclass(frozen=True)
class AuditQuery:
    """What to look for; None = any. ``start``/``end``: aware times, the end excluded. ``actor`` ending in
    ``*`` is a prefix (``open311:*``: every API key)."""

    object_type: str | None = None
    object_id: str | None = None
    actor: str | None = None
    action: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def args(self, tz: str) -> dict:
        """The query as the page's URL carries it (dates in the district's zone)."""
        zone = ZoneInfo(tz)
        out = {k: getattr(self, k) for k in ("object_type", "object_id", "actor", "action") if getattr(self, k)}
        if self.start:
            out["from"] = self.start.astimezone(zone).date().isoformat()
        if self.end:
            out["to"] = (self.end.astimezone(zone) - timedelta(days=1)).date().isoformat()
        return out


def parse_query(args, *, earliest, tz: str) -> tuple[AuditQuery, tuple | None]:
    """The query and the keyset cursor (``after``) of a request; InvalidData names every bad parameter.

    ``from``/``to``: district dates, ``to`` included."""
    p = Params(args, earliest=earliest, tz=tz)
    q = AuditQuery(object_type=p.choice("object_type", OBJECT_TYPES),
                   object_id=p.text("object_id", max_len=OBJECT_ID_MAX),
                   actor=p.text("actor", max_len=ACTOR_MAX), action=p.choice("action", ACTIONS),
                   start=p.day("from"), end=None)
    end = p.day("to")
    if end is not None:
        end += timedelta(days=1)
        if q.start and q.start >= end:
            p.bad("to", "is before from")
        q = AuditQuery(**{**q.__dict__, "end": end})
    after = _cursor(p, p.raw("after"))
    p.done()
    return q, after


def cursor_text(row: dict) -> str:
    """The keyset cursor after ``row`` (what ``after=`` carries)."""
    return f"{row['at'].isoformat()}|{row['src']}|{row['id']}"


def _cursor(p: Params, value) -> tuple | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str) or len(value) > 80:
            raise ValueError
        at, src, rid = value.split("|")
        t = datetime.fromisoformat(at)
        if t.tzinfo is None or src not in _SOURCES or not rid.isascii() or not rid.isdigit() or int(rid) >= 2**63:
            raise ValueError
        return t, src, int(rid)
    except ValueError:
        p.bad("after", "is not a cursor of this log (use the page's own 'older' link)")
        return None


def _branches(q: AuditQuery, after: tuple | None) -> tuple[list[str], dict]:
    """The SQL of each source that can match ``q`` (with its own ORDER and LIMIT: each reads one index range)."""
    params: dict = {}
    audit, login = ["TRUE"], ["NOT success"]
    if q.object_type is not None:
        params["ot"] = q.object_type
        audit.append("object_type = :ot")
        if q.object_type != LOGIN_TYPE:
            login.append("FALSE")
        else:
            audit.append("FALSE")
    if q.action is not None:
        params["act"] = q.action
        if q.action == LOGIN_FAILED:
            audit.append("FALSE")
        else:
            audit.append("action = :act")
            login.append("FALSE")
    if q.object_id is not None:
        params["oid"] = q.object_id
        if JOINED_TYPES:  # a member's role by the member (its first part) or the grid (its last)
            like = like_literal(q.object_id)
            params.update(joined=list(JOINED_TYPES), oid_head=like + KEY_JOIN + "%", oid_tail="%" + KEY_JOIN + like)
            audit.append("(object_id = :oid OR object_type = ANY(:joined) AND (object_id LIKE :oid_head ESCAPE '\\' "
                         "OR object_id LIKE :oid_tail ESCAPE '\\'))")
        else:
            audit.append("object_id = :oid")
        login.append("username = :oid")
    if q.actor is not None:
        if q.actor.endswith("*"):
            params["actor"] = like_literal(q.actor[:-1]) + "%"
            audit.append("actor LIKE :actor")
            login.append("username LIKE :actor")
        else:
            params["actor"] = q.actor
            audit.append("actor = :actor")
            login.append("username = :actor")
    for name, value, cond in (("t0", q.start, "at >= :t0"), ("t1", q.end, "at < :t1")):
        if value is not None:
            params[name] = value
            audit.append(cond)
            login.append(cond)
    if after is not None:
        params.update(cat=after[0], csrc=after[1], cid=after[2])
        audit.append("(at, 'a'::text, id) < (:cat, CAST(:csrc AS text), :cid)")
        login.append("(at, 'l'::text, id) < (:cat, CAST(:csrc AS text), :cid)")
    out = []
    if "FALSE" not in audit:
        out.append("(SELECT 'a' AS src, id, at, actor, object_type, object_id, action, changed, before, after, "
                   "NULL::text AS addr, NULL::text AS reason FROM audit_log WHERE " + " AND ".join(audit)
                   + " ORDER BY at DESC, id DESC LIMIT :n)")
    if "FALSE" not in login:
        out.append("(SELECT 'l' AS src, id, at, username AS actor, 'login' AS object_type, username AS object_id, "
                   f"'{LOGIN_FAILED}' AS action, NULL::text[] AS changed, NULL::jsonb AS before, "
                   "NULL::jsonb AS after, client_addr AS addr, reason FROM login_attempts WHERE "
                   + " AND ".join(login) + " ORDER BY at DESC, id DESC LIMIT :n)")
    return out, params


def search(s: Session, q: AuditQuery, *, limit: int = PAGE_SIZE, after: tuple | None = None
           ) -> tuple[list[dict], str | None]:
    """One page of rows matching ``q``, newest first, after the cursor ``after``; and the cursor of the
    next (older) page, None on the last."""
    branches, params = _branches(q, after)
    if not branches:
        return [], None
    params["n"] = limit + 1
    sql = ("SELECT * FROM (" + " UNION ALL ".join(branches) + ") AS entries "
           "ORDER BY at DESC, src DESC, id DESC LIMIT :n")
    rows = [dict(r) for r in s.execute(text(sql), params).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (cursor_text(rows[-1]) if more else None)


def iter_all(s: Session, q: AuditQuery, *, batch: int = CSV_BATCH) -> Iterator[list[dict]]:
    """Every row matching ``q``, newest first, in batches (each one keyset query)."""
    after = None
    while True:
        rows, nxt = search(s, q, limit=batch, after=after)
        if rows:
            yield rows
        if nxt is None:
            return
        after = _cursor(Params({}), nxt)


# -- showing a row --------------------------------------------------------------------------------
#: (object type, column) → the ``app.labels`` kind of its codes: a changed status shows by its name
CODED_COLUMNS = {
    ("camera", "status"): "camera_status", ("camera", "programme"): "programme", ("camera", "lifecycle"): "lifecycle",
    ("camera", "ptz_type"): "ptz_type", ("camera", "point_class"): "point_class",
    ("incident", "state"): "state", ("incident", "priority"): "priority", ("incident", "source"): "source",
    ("incident", "duplicate_status"): "duplicate", ("user", "role"): "role", ("member_role", "role"): "member_role",
    ("street", "kind"): "street_kind",
}


def summarise(value) -> str:
    """A stored value as one line of text: a GeoJSON geometry by its type and size (a boundary's thousands
    of coordinates say nothing in a log), other JSON compact, None as empty."""
    if value is None:
        return ""
    if isinstance(value, dict) and isinstance(value.get("type"), str) and "coordinates" in value:
        coords = value["coordinates"]
        if value["type"] == "Point" and isinstance(coords, list) and len(coords) >= 2:
            return f"Point {coords[0]:.6f}, {coords[1]:.6f}"
        return f"{value['type']} ({_points(coords)} points)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _points(coords) -> int:
    if isinstance(coords, list) and coords and all(isinstance(c, (int, float)) for c in coords):
        return 1
    return sum(_points(c) for c in coords) if isinstance(coords, list) else 0


_ABSENT = object()
HIDDEN = "(hidden)"  # what the trigger writes for a secret (app.audit.models)


def changes(row: dict) -> list[tuple[str, object, object]]:
    """``(column, before, after)`` of a row, as stored: the changed columns of an update; every non-empty
    column of an insert (before :data:`_ABSENT`) or a delete (after :data:`_ABSENT`)."""
    before, after = row.get("before") or {}, row.get("after") or {}
    if row["action"] == "update":
        cols = row.get("changed") or sorted(set(before) | set(after))
        return [(c, before.get(c), after.get(c)) for c in cols]
    if row["action"] == "insert":
        return [(c, _ABSENT, v) for c, v in sorted(after.items()) if v not in (None, "", [], {})]
    if row["action"] == "delete":
        return [(c, v, _ABSENT) for c, v in sorted(before.items()) if v not in (None, "", [], {})]
    return []


def field_name(object_type: str, column: str, lang: str) -> str:
    """A column by its name: a camera's fields as the registry's import names them, the others from the
    audit catalogue (``aud_f_<column>``), else the column itself."""
    from app.i18n import MESSAGES, translate
    from camera_registry.schema import BY_NAME, DERIVED

    if object_type == "camera" and lang == "zh":
        if column in BY_NAME:
            return BY_NAME[column].zh
        if column in DERIVED:
            return DERIVED[column][0]
    if f"aud_f_{column}" in MESSAGES:
        return translate(f"aud_f_{column}", lang)
    return column.replace("_", " ") if lang == "en" else column


def shown_value(object_type: str, column: str, value, lang: str) -> str | None:
    """A stored value as the page shows it: a code by its name, a secret as hidden, a geometry summarised;
    None when the side does not exist (before an insert, after a delete)."""
    from app.i18n import translate
    from app.labels import label

    if value is _ABSENT:
        return None
    if value == HIDDEN:
        return translate("aud_hidden", lang)
    if value is None or value == "":
        return translate("aud_none", lang)
    kind = CODED_COLUMNS.get((object_type, column))
    if kind is not None and isinstance(value, (str, int)):
        return label(kind, value, lang)
    return summarise(value)


def actor_name(actor: str, lang: str) -> str:
    """``cli:root`` → 命令行 root; an account's name as it is."""
    from app.i18n import translate

    kind, _, rest = actor.partition(":")
    words = {"cli": "aud_actor_cli", "open311": "aud_actor_key", "key": "aud_actor_key", "db": "aud_actor_db"}
    if rest and kind in words:
        return f"{translate(words[kind], lang)} {rest}"
    return actor


def present(row: dict, lang: str, tz: str) -> dict:
    """One row as the page shows it: time in the district's zone (to the second), names for codes, the
    object's page, the changes with field names and folded long values."""
    from app.i18n import MESSAGES, translate
    from app.labels import label

    shown = []
    for column, before, after in changes(row):
        b = shown_value(row["object_type"], column, before, lang)
        a = shown_value(row["object_type"], column, after, lang)
        shown.append({"field": field_name(row["object_type"], column, lang), "column": column, "before": b,
                      "after": a, "fold": any(v is not None and len(v) > FOLD_AT for v in (b, a))})
    reason = row.get("reason")
    if reason:
        key = f"aud_reason_{reason}"
        reason = translate(key, lang) if key in MESSAGES else reason
    user = actor_user(row["actor"])
    return {
        "src": row["src"], "id": row["id"], "at": row["at"].astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S"),
        "actor": row["actor"], "actor_name": actor_name(row["actor"], lang), "actor_user": user,
        "actor_path": object_path("user", user) if user else None,
        "object_type": row["object_type"], "object_type_name": label("audit_object", row["object_type"], lang),
        "object_id": row["object_id"], "path": object_path(row["object_type"], row["object_id"]),
        "action": row["action"], "action_name": label("audit_action", row["action"], lang),
        "changes": shown, "addr": row.get("addr"), "reason": reason,
    }


#: the CSV's columns (raw values for machines beside the names for people)
CSV_COLUMNS = ("at", "actor", "object_type", "object_type_name", "object_id", "action", "action_name", "changed",
               "before", "after", "address", "reason")


def csv_rows(rows: list[dict], lang: str, tz: str) -> list[dict]:
    """Rows of :data:`CSV_COLUMNS`: times with their offset in the district's zone, before/after as JSON."""
    from app.labels import label

    zone = ZoneInfo(tz)
    out = []
    for r in rows:
        out.append({
            "at": r["at"].astimezone(zone).isoformat(), "actor": r["actor"], "object_type": r["object_type"],
            "object_type_name": label("audit_object", r["object_type"], lang), "object_id": r["object_id"],
            "action": r["action"], "action_name": label("audit_action", r["action"], lang),
            "changed": ",".join(r.get("changed") or []),
            "before": "" if r.get("before") is None else json.dumps(r["before"], ensure_ascii=False, sort_keys=True),
            "after": "" if r.get("after") is None else json.dumps(r["after"], ensure_ascii=False, sort_keys=True),
            "address": r.get("addr") or "", "reason": r.get("reason") or ""})
    return out


#: the page of each kind of object: (its endpoint, the endpoint's argument); an incident opens in the panel of
#: the operator's map (``dashboards.operator`` + ``#incident=<id>``), a failed log-in has no page
OBJECT_PAGES = {"camera": ("cameras.camera", "device_id"), "grid": ("grids.grid", "code"),
                "user": ("people.user", "username")}


def _page(endpoint: str, **values) -> str | None:
    """``url_for(endpoint, **values)`` when this application has that page (the cameras, grids and people
    pages are features of their own: an object links to its page only where that page exists)."""
    from flask import current_app, url_for
    from werkzeug.routing import BuildError

    if endpoint not in current_app.view_functions:
        return None
    try:
        return url_for(endpoint, **values)
    except BuildError:  # a value the endpoint's converter refuses: no page
        return None


def object_path(object_type: str, object_id: str) -> str | None:
    """The URL of the object's own page, or None (no such page in this application). In a request."""
    from urllib.parse import quote

    if object_type == "incident":
        page = _page("dashboards.operator")
        return f"{page}#incident={quote(object_id, safe='')}" if page else None
    if object_type in JOINED_TYPES:  # a member's role: the page of its grid (the key's last part)
        object_type, object_id = "grid", object_id.rpartition(KEY_JOIN)[2]
    endpoint, argument = OBJECT_PAGES.get(object_type, (None, None))
    return _page(endpoint, **{argument: object_id}) if endpoint else None


def actor_user(actor: str) -> str | None:
    """The account's name when ``actor`` is a web account (not ``open311:``, ``cli:``, ``db:``, ``key:``)."""
    return None if ":" in actor else actor
