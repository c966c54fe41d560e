"""Reference data (参考数据): read, check, edit and seed the categories and the release's code lists.

Two kinds of reference data, kept apart on purpose:

- **incident categories** (``categories``) are the district's data: an administrator adds them, renames them,
  sets their weight, their deadline per priority and whether they are sensitive (issue 8);
- **programmes, incident sources and member roles** are the release's code lists: code paths key on them
  (Open311 reports are ``public``, field reports ``patrol``, a grid has one ``lead``), so only their names
  are the district's. Adding a code is a change of ``data/reference/*.csv`` shipped with a release.

Every edit carries the ``version`` of the row the form read (a digest of its values, see :func:`version_of`):
when the row has changed since, :class:`StaleEdit` (409) carries both versions and nothing is written.
The database's ``gw_audit`` trigger writes the audit row of every change (app.audit.models).

The names of the code lists are shown through ``app.labels``: :func:`refresh_labels` overlays the names of
the database on the shipped ones, at once in the process that made an edit and, in every other process, on
the first request after at most :data:`REFRESH_S` seconds (one query of a dozen rows).
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from app import labels
from app.dashboards.params import Params
from app.incidents.models import PRIORITIES, Category
from data import reference
from gis.errors import Conflict, InvalidData, NotFound, RowError
from gis.text import column_length

#: label kind → its file in data/reference (the table is ``data.reference.TABLES[file]``); codes fixed, names editable
CODE_LISTS: dict[str, str] = {"programme": "programmes.csv", "source": "sources.csv", "member_role": "roles.csv"}
CATEGORIES_CSV = "categories.csv"
#: the deadline columns, in the order of the priorities (urgent first)
DEADLINES = tuple(f"{p}_h" for p in PRIORITIES)
NAME_FIELDS = ("name_zh", "name_en")
CATEGORY_FIELDS = NAME_FIELDS + ("weight",) + DEADLINES + ("sensitive",)
#: a category code: what Open311 ``service_code`` and the importers carry (lower-case ASCII)
CODE_PATTERN = "^[a-z][a-z0-9_]*$"
CODE_MAX = column_length(Category.__table__.c.code)
#: the names' sizes (the same in every reference table: migration 0009 made them like ``categories``')
NAME_MAX = {f: column_length(Category.__table__.c[f]) for f in NAME_FIELDS}
#: the longest deadline (a year) and the largest weight accepted; both must be > 0
DEADLINE_MAX_H = 8760.0
WEIGHT_MAX = 100.0
#: how long another process may show a name an administrator has since changed
REFRESH_S = 10.0


def table_of(kind: str) -> str:
    return reference.TABLES[CODE_LISTS[kind]]


class StaleEdit(Conflict):
    """The row has changed since the form read it: ``current`` (the stored row) and ``yours`` (the edit)."""

    def __init__(self, what: str, current: dict, yours: dict):
        super().__init__(f"{what} has changed since you read it; nothing was written: compare and try again")
        self.current, self.yours = current, yours


# -- reading --------------------------------------------------------------------------------------
def version_of(row: dict, fields) -> str:
    """A digest of the values of ``fields`` of ``row`` (the optimistic lock: any change gives another)."""
    shown = {f: (row[f].isoformat() if isinstance(row[f], datetime) else row[f]) for f in fields}
    return hashlib.sha256(json.dumps(shown, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def _category_row(m) -> dict:
    row = {"code": m["code"], **{f: m[f] for f in CATEGORY_FIELDS}}
    row["weight"], row["sensitive"] = float(row["weight"]), bool(row["sensitive"])
    for f in DEADLINES:
        row[f] = float(row[f])
    row["version"] = version_of(row, CATEGORY_FIELDS)
    return row


def categories(s: Session, code: str | None = None, *, lock: bool = False) -> list[dict]:
    """Every category (or the one ``code``) with its ``version``, in code order."""
    sql = "SELECT code, " + ", ".join(CATEGORY_FIELDS) + " FROM categories"
    sql += " WHERE code = :code" if code is not None else " ORDER BY code"
    rows = s.execute(text(sql + (" FOR UPDATE" if lock else "")), {"code": code}).mappings().all()
    return [_category_row(m) for m in rows]


def _code_row(m) -> dict:
    row = dict(m)
    row["version"] = version_of(row, NAME_FIELDS + ("updated_at",))
    row["updated_at"] = row["updated_at"].isoformat()
    return row


def code_list(s: Session, kind: str, code: str | None = None, *, lock: bool = False) -> list[dict]:
    """The rows of one code list (``CODE_LISTS`` kind) with their ``version``, in the file's order."""
    order = {c: i for i, c in enumerate(reference.codes(CODE_LISTS[kind]))}
    sql = f"SELECT code, name_zh, name_en, updated_at FROM {table_of(kind)}"
    sql += " WHERE code = :code" if code is not None else ""
    rows = s.execute(text(sql + (" FOR UPDATE" if lock else "")), {"code": code}).mappings().all()
    return sorted((_code_row(m) for m in rows), key=lambda r: order.get(r["code"], len(order)))


# -- checking ---------------------------------------------------------------------------------------
def _names(p: Params) -> dict:
    return {f: p.text(f, max_len=NAME_MAX[f], required=True) for f in NAME_FIELDS}


def check_category(data, *, new: bool, line: int | None = None) -> dict:
    """The checked values of a category form or a ``categories.csv`` row; InvalidData names every bad field.

    Names required (at most the column's size); weight in (0, 100]; each deadline in hours, > 0 and at most
    a year; a more urgent priority never has a longer deadline (urgent ≤ high ≤ normal ≤ low: a deadline is
    a promise to the reporter, and a higher priority that waits longer would break the dispatch order);
    ``sensitive`` true or false. A new category also needs its ``code``."""
    if not isinstance(data, dict):
        raise InvalidData(RowError(line, None, "send a JSON object of the category's fields"))
    p = Params(data)
    out = {}
    if new:
        code = p.text("code", max_len=CODE_MAX, required=True)
        if code is not None:
            if not re.fullmatch(CODE_PATTERN, code):
                p.bad("code", f"{code!r}: lower-case letters, digits and _ only, starting with a letter")
            else:
                out["code"] = code
    out.update(_names(p))
    out["weight"] = p.number("weight", lo=0.0, hi=WEIGHT_MAX, required=True, what="a weight")
    if out["weight"] == 0:
        p.bad("weight", "must be more than 0 (a weight of 0 would drop the category from coverage planning)")
    for f in DEADLINES:
        out[f] = p.number(f, lo=0.0, hi=DEADLINE_MAX_H, required=True, what="hours")
        if out[f] == 0:
            p.bad(f, "must be more than 0 hours")
    hours = [(f, out[f]) for f in DEADLINES if out[f]]
    for (f1, h1), (f2, h2) in zip(hours, hours[1:]):
        if h2 < h1:
            p.bad(f2, f"{h2:g} h is shorter than {f1} ({h1:g} h): a lower priority never has a shorter deadline")
    out["sensitive"] = bool(p.flag("sensitive", default=False))
    unknown = sorted(set(data) - set(CATEGORY_FIELDS) - {"code", "version"})
    for name in unknown:
        p.bad(name, "is not a field of a category")
    if line is not None:
        p.errors = [RowError(line, e.field, e.reason) for e in p.errors]
    p.done()
    return out


def _check_unique_names(s: Session, table: str, code: str, values: dict) -> None:
    """Two codes of one list never share a name in a language: a reader could not tell them apart."""
    errors = []
    for f in NAME_FIELDS:
        other = s.execute(text(f"SELECT code FROM {table} WHERE {f} = :v AND code <> :c"),
                          {"v": values[f], "c": code}).scalar()
        if other is not None:
            errors.append(RowError(None, f, f"{values[f]!r} is already the name of {other!r}"))
    if errors:
        raise InvalidData(errors)


def _version_sent(data) -> str:
    p = Params(data if isinstance(data, dict) else {})
    version = p.text("version", max_len=64, required=True)
    p.done()
    return version


# -- editing ----------------------------------------------------------------------------------------
def update_category(s: Session, code: str, data) -> dict:
    """Change a category (every field of :data:`CATEGORY_FIELDS` sent, with the ``version`` read).
    Returns the stored row. Raises NotFound, StaleEdit (409, both versions) or InvalidData (422)."""
    version = _version_sent(data)
    found = categories(s, code, lock=True)
    if not found:
        raise NotFound(f"category {code!r} not found")
    current = found[0]
    if current["version"] != version:
        raise StaleEdit(f"category {code!r}", current, {k: data.get(k) for k in CATEGORY_FIELDS})
    values = check_category(data, new=False)
    _check_unique_names(s, "categories", code, values)
    changed = {f: values[f] for f in CATEGORY_FIELDS if values[f] != current[f]}
    if changed:  # a form sent unchanged writes nothing (and no audit row)
        s.execute(text("UPDATE categories SET " + ", ".join(f"{f} = :{f}" for f in changed) + " WHERE code = :code"),
                  {**changed, "code": code})
    return categories(s, code)[0]


def add_category(s: Session, data) -> dict:
    """Add a category; Conflict (409) when the code exists."""
    values = check_category(data, new=True)
    if s.execute(text("SELECT 1 FROM categories WHERE code = :c"), {"c": values["code"]}).first():
        raise Conflict(f"category {values['code']!r} exists: edit it instead")
    _check_unique_names(s, "categories", values["code"], values)
    cols = ("code",) + CATEGORY_FIELDS
    s.execute(text(f"INSERT INTO categories ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"), values)
    return categories(s, values["code"])[0]


def rename(s: Session, kind: str, code: str, data) -> dict:
    """Give a code of a release's code list (``CODE_LISTS``) new names; the code itself never changes."""
    if kind not in CODE_LISTS:
        raise NotFound(f"{kind!r} is not an editable code list ({', '.join(CODE_LISTS)})")
    version = _version_sent(data)
    found = code_list(s, kind, code, lock=True)
    if not found:
        raise NotFound(f"{kind} {code!r} not found (adding a code is a release change: data/reference)")
    current = found[0]
    if current["version"] != version:
        raise StaleEdit(f"{kind} {code!r}", current, {k: data.get(k) for k in NAME_FIELDS})
    p = Params(data)
    values = _names(p)
    for name in sorted(set(data) - set(NAME_FIELDS) - {"version"}):
        p.bad(name, "is not a field of a code list (only its names may change)")
    p.done()
    _check_unique_names(s, table_of(kind), code, values)
    if any(values[f] != current[f] for f in NAME_FIELDS):
        s.execute(text(f"UPDATE {table_of(kind)} SET name_zh = :name_zh, name_en = :name_en, updated_at = now() "
                       "WHERE code = :code"), {**values, "code": code})
    return code_list(s, kind, code)[0]


# -- the seed ---------------------------------------------------------------------------------------
def _seed_categories(s: Session, overwrite: bool) -> tuple[int, int]:
    rows = [check_category(dict(r), new=True, line=i) for i, r in enumerate(reference.rows(CATEGORIES_CSV), 2)]
    stored = {r["code"]: r for r in categories(s)}
    cols = ("code",) + CATEGORY_FIELDS
    missing = [r for r in rows if r["code"] not in stored]
    if missing:
        s.execute(text(f"INSERT INTO categories ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"),
                  missing)
    changed = [r for r in rows if overwrite and r["code"] in stored
               and any(r[f] != stored[r["code"]][f] for f in CATEGORY_FIELDS)]
    if changed:
        s.execute(text("UPDATE categories SET " + ", ".join(f"{f} = :{f}" for f in CATEGORY_FIELDS)
                       + " WHERE code = :code"), changed)
    return len(missing), len(changed)


def _seed_code_list(s: Session, kind: str, overwrite: bool) -> tuple[int, int]:
    table = table_of(kind)
    stored = {r["code"]: r for r in code_list(s, kind)}
    rows = [{"code": r["code"], "name_zh": r["name_zh"], "name_en": r["name_en"]}
            for r in reference.rows(CODE_LISTS[kind])]
    missing = [r for r in rows if r["code"] not in stored]
    if missing:
        s.execute(text(f"INSERT INTO {table} (code, name_zh, name_en) VALUES (:code, :name_zh, :name_en)"), missing)
    changed = [r for r in rows if overwrite and r["code"] in stored
               and any(r[f] != stored[r["code"]][f] for f in NAME_FIELDS)]
    if changed:
        s.execute(text(f"UPDATE {table} SET name_zh = :name_zh, name_en = :name_en, updated_at = now() "
                       "WHERE code = :code"), changed)
    return len(missing), len(changed)


def load(s: Session, *, overwrite: bool = False) -> dict[str, tuple[int, int]]:
    """Seed the reference tables from data/reference: insert the codes the database lacks; with
    ``overwrite``, also put back the files' names (and the categories' weights, deadlines and flags) where
    an administrator changed them. ``{table: (inserted, overwritten)}``. The caller commits.

    Without ``overwrite`` an edit made in /admin/reference is never undone (``make demo`` loads the demo
    on every start). A category row that breaks :func:`check_category` stops the load (InvalidData with
    its line)."""
    out = {"categories": _seed_categories(s, overwrite)}
    for kind in CODE_LISTS:
        out[table_of(kind)] = _seed_code_list(s, kind, overwrite)
    return out


# -- the names shown ----------------------------------------------------------------------------------
_lock = threading.Lock()
_checked_at = -math.inf


def refresh_labels(s: Session, *, force: bool = False) -> bool:
    """Overlay the code lists' names stored in the database on ``app.labels`` (at most once every
    :data:`REFRESH_S` seconds unless ``force``). Returns whether it read them."""
    global _checked_at
    with _lock:
        now = time.monotonic()
        if not force and now - _checked_at < REFRESH_S:
            return False
        _checked_at = now
    union = " UNION ALL ".join(f"SELECT '{kind}', code, name_zh, name_en FROM {table_of(kind)}" for kind in CODE_LISTS)
    names: dict[str, dict] = {kind: {} for kind in CODE_LISTS}
    for kind, code, zh, en in s.execute(text(union)).all():
        names[kind][code] = (zh, en)
    for kind, pairs in names.items():
        labels.overlay(kind, pairs)
    return True


def forget_names() -> None:
    """Back to the shipped names, and read the database's again on the next request (tests, after a
    rolled-back edit)."""
    global _checked_at
    with _lock:
        _checked_at = -math.inf
    for kind in CODE_LISTS:
        labels.overlay(kind, {})
