"""Grid members (网格员) and their roles in grids: the one service the /grids pages, the API and
``gridwatch members`` call. No Flask here.

Rules (issue 13):

- each grid has at most one lead (网格长, :data:`~app.grids.models.LEAD`), and a grid that has one keeps
  one: appointing a new lead where there is one is refused unless the request says ``replace_lead`` (the
  old lead then keeps their other roles); unassigning or moving the lead is refused unless the request
  names a ``successor``, who becomes the grid's lead in the same transaction;
- a move carries the member's roles over to the other grid, in one transaction;
- every change names the grid's :func:`grid_version` the client saw (a move: both grids'): a stale or
  missing one is a :class:`StaleGrid` (409, with that grid's members now), and nothing is written (only
  the command line, ``user=None``, writes without one); the grid rows are
  locked (``FOR UPDATE``) before the check, so two writers of one grid run one after the other;
- who may: ``member.manage`` everything; ``member.roles_own_grid`` (a grid lead) changes the non-lead
  roles of members already in a grid it may see (``visible_grid_codes``: the grids it leads);
  ``user=None`` is the command line (the shell's user is the administrator);
- an account tied to a member (``users.member_id``) that is left with no grid keeps its log-in but sees
  nothing: the result carries a warning naming it.

The audit rows are written by the database (trigger ``gw_audit``: ``member`` rows keyed by the member's
id, ``member_role`` rows by ``<member id>@<grid code>``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.accounts.capabilities import can, require
from app.accounts.models import FIELD_ROLES, User
from app.grids.models import LEAD, ROLES, Member, MemberRole
from gis.codes import GRID
from gis.errors import Conflict, Forbidden, InvalidData, NotFound, RowError
from gis.text import BLANKS, column_length, like_literal, text_problem

#: a phone number as people write it: digits, an optional leading ``+``, dashes or single spaces between
PHONE = re.compile(r"\+?[0-9]+(?:[- ][0-9]+)*")
#: an external id (the HR or 综治 system's number): letters, digits, ``.``, ``-``, ``_``
EXTERNAL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
NAME_MAX = column_length(Member.__table__.c.name)
PHONE_MAX = column_length(Member.__table__.c.phone)
EXTERNAL_ID_MAX = column_length(Member.__table__.c.external_id)
#: the largest member number (``members.id`` is an int4)
MAX_MEMBER_ID = 2**31 - 1
#: rows per page of the grid list and of a member search
PAGE_SIZE = 50
SEARCH_LIMIT = 20


class StaleGrid(Conflict):
    """The grid changed since the client read it: ``seen`` and ``current`` versions, ``members`` now."""

    def __init__(self, grid_code: str, seen: str, current: str, members: list[dict]):
        super().__init__(f"grid {grid_code} was changed by someone else since you loaded it (your version {seen}, "
                         f"now {current}); nothing was written: reload and try again")
        self.grid_code, self.seen, self.current, self.members = grid_code, seen, current, members


@dataclass
class Change:
    """What a write did: the grids it touched (with their new versions) and warnings for the user."""

    member_id: int
    grids: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"member_id": self.member_id, "versions": self.grids, "warnings": self.warnings}


# -- validation ----------------------------------------------------------------------------------
def _text(errors: list, value, name: str, max_len: int, pattern=None, what: str = "", required=False):
    if value is None or (isinstance(value, str) and not value.strip(BLANKS)):
        if required:
            errors.append(RowError(None, name, "is required"))
        return None
    if not isinstance(value, str):
        errors.append(RowError(None, name, f"must be text, not {type(value).__name__}"))
        return None
    value = value.strip(BLANKS)
    problem = text_problem(value, max_len=max_len)
    if problem is None and pattern is not None and not pattern.fullmatch(value):
        problem = f"{value[:40]!r} is not {what}"
    if problem is not None:
        errors.append(RowError(None, name, problem))
        return None
    return value


def check_member_fields(name, phone, external_id) -> tuple[str, str | None, str | None]:
    """(name, phone, external id) stripped and checked against their columns; ``InvalidData`` naming each
    bad field otherwise."""
    errors: list[RowError] = []
    name = _text(errors, name, "name", NAME_MAX, required=True)
    phone = _text(errors, phone, "phone", PHONE_MAX, PHONE, "a phone number (digits, a leading +, dashes)")
    external_id = _text(errors, external_id, "external_id", EXTERNAL_ID_MAX, EXTERNAL_ID,
                        "an id of letters, digits, '.', '-' or '_'")
    if errors:
        raise InvalidData(errors)
    return name, phone, external_id


def check_roles(roles, name: str = "roles") -> list[str]:
    """A non-empty list of role codes (``ROLES``), each once, in the table's order."""
    if isinstance(roles, str):
        roles = [r for r in re.split(r"[,;\s]+", roles) if r]
    if not isinstance(roles, (list, tuple)) or not roles:
        raise InvalidData(RowError(None, name, f"give at least one role of {', '.join(ROLES)}"))
    bad = [r for r in roles if not isinstance(r, str) or r not in ROLES]
    if bad:
        raise InvalidData(RowError(None, name, f"{str(bad[0])[:40]!r} is not a role; roles are {', '.join(ROLES)}"))
    return [r for r in ROLES if r in roles]


def check_grid_code(code, name: str = "grid") -> str:
    try:
        return GRID.validate(code)
    except ValueError as exc:
        raise InvalidData(RowError(None, name, str(exc))) from None


# -- reading ---------------------------------------------------------------------------------------
#: a grid's membership version over its ``member_roles`` rows ``r`` (grouped by grid)
VERSION_OF = ("left(md5(coalesce(string_agg(r.member_id || ':' || r.role, ',' ORDER BY r.member_id, r.role), '')), "
              "12)")
VERSION_SQL = f"SELECT {VERSION_OF} FROM member_roles r WHERE r.grid_code = :g"


def grid_version(s: Session, code: str) -> str:
    """The version of a grid's membership: a digest of its (member, role) pairs, so any change to who is in
    the grid with which roles gives another one (whichever path wrote it)."""
    return s.execute(text(VERSION_SQL), {"g": code}).scalar()


def grid_members(s: Session, code: str, *, show_phones: bool) -> list[dict]:
    """The members of grid ``code``: the lead first, then by name; ``roles`` in the table's order;
    ``phone`` masked unless ``show_phones``; ``accounts``: the log-ins tied to the member."""
    from app.accounts.auth import mask_phone

    rows = s.execute(text(
        "SELECT m.id, m.external_id, m.name, m.phone, m.active, array_agg(r.role) AS roles, "
        "(SELECT coalesce(array_agg(u.username ORDER BY u.username), '{}') FROM users u WHERE u.member_id = m.id) "
        "AS accounts FROM member_roles r JOIN members m ON m.id = r.member_id WHERE r.grid_code = :g "
        "GROUP BY m.id ORDER BY bool_or(r.role = :lead) DESC, m.name, m.id"), {"g": code, "lead": LEAD}).mappings()
    return [{**r, "roles": [x for x in ROLES if x in r["roles"]], "accounts": list(r["accounts"]),
             "phone": r["phone"] if show_phones else mask_phone(r["phone"])} for r in rows]


def _grid_filter(visible, street, community, q) -> tuple[str, dict]:
    where, params = [], {}
    if visible is not None:
        where.append("g.code = ANY(:visible)")
        params["visible"] = sorted(visible)
    if street:
        where.append("c.street_code = :street")
        params["street"] = street
    if community:
        where.append("g.community_code = :community")
        params["community"] = community
    if q:
        where.append("(g.code LIKE :q_prefix OR g.name ILIKE :q_like ESCAPE '\\')")
        params["q_prefix"] = like_literal(q) + "%"
        params["q_like"] = "%" + like_literal(q) + "%"
    return (" WHERE " + " AND ".join(where)) if where else "", params


def list_grids(s: Session, *, visible=None, street=None, community=None, q=None, page: int = 1,
               page_size: int = PAGE_SIZE) -> tuple[list[dict], int]:
    """One page of grids (by code) among ``visible`` (None: all) with the filters, and how many match.
    Each row: code, name, community and street (code and name), households, population, ``members``
    (how many people hold a role), ``lead`` (the lead's name, or None)."""
    where, params = _grid_filter(visible, street, community, q)
    base = "FROM grids g JOIN communities c ON c.code = g.community_code JOIN streets st ON st.code = c.street_code"
    total = s.execute(text(f"SELECT count(*) {base}{where}"), params).scalar()
    rows = s.execute(text(
        f"SELECT g.code, g.name, g.community_code, c.name AS community_name, c.street_code, st.name AS street_name, "
        f"g.households, g.population, "
        f"(SELECT count(DISTINCT r.member_id) FROM member_roles r WHERE r.grid_code = g.code) AS members, "
        f"(SELECT m.name FROM member_roles r JOIN members m ON m.id = r.member_id "
        f" WHERE r.grid_code = g.code AND r.role = :lead) AS lead "
        f"{base}{where} ORDER BY g.code LIMIT :limit OFFSET :offset"),
        {**params, "lead": LEAD, "limit": page_size, "offset": (page - 1) * page_size}).mappings().all()
    return [dict(r) for r in rows], total


def grid_choices(s: Session, exclude: str | None = None) -> list[dict]:
    """Every grid (but ``exclude``) by code, as a move offers it: code, name, its lead's name (None) and
    its membership :func:`grid_version` now, which the move sends back as ``to_version``."""
    rows = s.execute(text(
        f"SELECT g.code, g.name, {VERSION_OF} AS version, min(m.name) FILTER (WHERE r.role = :lead) AS lead "
        "FROM grids g LEFT JOIN member_roles r ON r.grid_code = g.code LEFT JOIN members m ON m.id = r.member_id "
        "WHERE g.code IS DISTINCT FROM CAST(:x AS text) GROUP BY g.code ORDER BY g.code"), {"lead": LEAD, "x": exclude}).mappings()
    return [dict(r) for r in rows]


def filter_options(s: Session, visible=None) -> dict:
    """The streets and communities the grid list may be filtered by (those with a visible grid)."""
    where = "" if visible is None else " WHERE g.code = ANY(:visible)"
    params = {} if visible is None else {"visible": sorted(visible)}
    rows = s.execute(text(
        "SELECT DISTINCT c.street_code, st.name AS street_name, c.code, c.name FROM grids g "
        "JOIN communities c ON c.code = g.community_code JOIN streets st ON st.code = c.street_code"
        f"{where} ORDER BY c.street_code, c.code"), params).mappings().all()
    streets = {r["street_code"]: r["street_name"] for r in rows}
    return {"streets": [{"code": k, "name": v} for k, v in streets.items()],
            "communities": [{"code": r["code"], "name": r["name"], "street_code": r["street_code"]} for r in rows]}


def grid_summary(s: Session, code: str, visible=None) -> dict:
    """A grid's facts for its page: names, households, population, how many incidents (all and open) and
    active cameras lie in it, its membership version. ``NotFound`` when it does not exist or is not
    visible (a field role learns nothing of other grids)."""
    from app.incidents.models import OPEN_STATES

    if visible is not None and code not in visible:
        raise NotFound(f"grid {code} not found among your grids")
    row = s.execute(text(
        "SELECT g.code, g.name, g.community_code, c.name AS community_name, c.street_code, st.name AS street_name, "
        "g.households, g.population, round(ST_Area(ST_Transform(g.geom, 4544))::numeric) AS area_m2, "
        "(SELECT count(*) FROM incidents i WHERE i.grid_code = g.code) AS incidents, "
        "(SELECT count(*) FROM incidents i WHERE i.grid_code = g.code AND i.state = ANY(:open)) AS open_incidents, "
        "(SELECT count(*) FROM cameras k WHERE k.grid_code = g.code AND k.lifecycle = 'active') AS cameras "
        "FROM grids g JOIN communities c ON c.code = g.community_code JOIN streets st ON st.code = c.street_code "
        "WHERE g.code = :g"), {"g": code, "open": list(OPEN_STATES)}).mappings().first()
    if row is None:
        raise NotFound(f"grid {code} not found")
    return {**row, "area_m2": int(row["area_m2"] or 0), "version": grid_version(s, code)}


def search_members(s: Session, q: str | None, *, visible=None, show_phones: bool, limit: int = SEARCH_LIMIT
                   ) -> list[dict]:
    """Members whose name, external id or (only when ``show_phones``) phone contains ``q`` (all when
    blank), by name; among the members of ``visible`` grids when given. Each with its grids and roles (of
    the ``visible`` grids only)."""
    from app.accounts.auth import mask_phone

    params: dict = {"limit": limit}
    where = []
    if q:
        # a masked phone is not matched: searching digit by digit would recover it
        phone = " OR m.phone LIKE :q ESCAPE '\\'" if show_phones else ""
        where.append(f"(m.name ILIKE :q ESCAPE '\\' OR m.external_id ILIKE :q ESCAPE '\\'{phone} "
                     "OR CAST(m.id AS text) = :exact)")
        params.update(q="%" + like_literal(q) + "%", exact=q)
    scope = ""
    if visible is not None:
        where.append("EXISTS (SELECT 1 FROM member_roles v WHERE v.member_id = m.id AND v.grid_code = ANY(:visible))")
        scope = " AND r.grid_code = ANY(:visible)"  # a field role learns nothing of other grids
        params["visible"] = sorted(visible)
    rows = s.execute(text(
        "SELECT m.id, m.external_id, m.name, m.phone, m.active, "
        "(SELECT coalesce(json_agg(json_build_object('grid_code', r.grid_code, 'role', r.role) "
        f" ORDER BY r.grid_code, r.role), '[]') FROM member_roles r WHERE r.member_id = m.id{scope}) AS roles "
        "FROM members m" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY m.name, m.id LIMIT :limit"),
        params).mappings().all()
    out = []
    for r in rows:
        grids: dict[str, list[str]] = {}
        for x in r["roles"]:
            grids.setdefault(x["grid_code"], []).append(x["role"])
        out.append({"id": r["id"], "external_id": r["external_id"], "name": r["name"], "active": r["active"],
                    "phone": r["phone"] if show_phones else mask_phone(r["phone"]),
                    "grids": [{"grid_code": g, "roles": [x for x in ROLES if x in rs]} for g, rs in grids.items()]})
    return out


def resolve_member(s: Session, ref, name: str = "member") -> Member:
    """A member by number (``members.id``) or external id; ``NotFound`` otherwise."""
    if isinstance(ref, bool) or ref is None or (isinstance(ref, str) and not ref.strip()):
        raise InvalidData(RowError(None, name, "is required: give the member's number or external id"))
    if isinstance(ref, int):
        member = s.get(Member, ref) if 1 <= ref <= MAX_MEMBER_ID else None
    elif isinstance(ref, str):
        ref = ref.strip()
        member = s.execute(text("SELECT id FROM members WHERE external_id = :r"), {"r": ref[:EXTERNAL_ID_MAX + 1]}).scalar()
        if member is None and re.fullmatch(r"[0-9]{1,10}", ref) and int(ref) <= MAX_MEMBER_ID:
            member = int(ref)
        member = s.get(Member, member) if member is not None else None
    else:
        raise InvalidData(RowError(None, name, f"must be a member number or external id, not {type(ref).__name__}"))
    if member is None:
        raise NotFound(f"member {str(ref)[:40]!r} not found (give the member's number or external id)")
    return member


# -- writing ---------------------------------------------------------------------------------------
def add_member(s: Session, user, name, phone=None, external_id=None) -> Member:
    """A new member (not yet in any grid). ``Conflict`` when the external id is taken."""
    _may_manage(user)
    name, phone, external_id = check_member_fields(name, phone, external_id)
    if external_id is not None and s.execute(text("SELECT 1 FROM members WHERE external_id = :e"),
                                             {"e": external_id}).first():
        raise Conflict(f"external_id: a member with external id {external_id!r} exists already")
    member = Member(name=name, phone=phone, external_id=external_id)
    s.add(member)
    s.flush()
    return member


def _may_manage(user) -> None:
    if user is not None:
        require(user, "member.manage")


def _lock(s: Session, codes) -> None:
    """Lock the grids (in code order, so two movers cannot deadlock); ``NotFound`` for a missing one."""
    codes = sorted(set(codes))
    found = set(s.execute(text("SELECT code FROM grids WHERE code = ANY(:c) ORDER BY code FOR UPDATE"),
                          {"c": codes}).scalars())
    missing = [c for c in codes if c not in found]
    if missing:
        raise NotFound(f"grid {missing[0]} not found")


def _check_version(s: Session, user, code: str, seen, *, show_phones: bool = False) -> None:
    """``StaleGrid`` unless ``seen`` is the grid's version now. Only the command line (``user`` None, which
    reads and writes in one go) may leave it out: an account that names no version never saw the grid."""
    if seen is None and user is None:
        return
    current = grid_version(s, code)
    if seen != current:
        raise StaleGrid(code, "" if seen is None else str(seen)[:20], current,
                        grid_members(s, code, show_phones=show_phones))


def roles_in(s: Session, member_id: int, code: str) -> list[str]:
    got = set(s.execute(text("SELECT role FROM member_roles WHERE member_id = :m AND grid_code = :g"),
                        {"m": member_id, "g": code}).scalars())
    return [r for r in ROLES if r in got]


def _lead_of(s: Session, code: str) -> int | None:
    return s.execute(text("SELECT member_id FROM member_roles WHERE grid_code = :g AND role = :lead"),
                     {"g": code, "lead": LEAD}).scalar()


def _name(s: Session, member_id: int) -> str:
    return s.execute(text("SELECT name FROM members WHERE id = :m"), {"m": member_id}).scalar() or str(member_id)


def _write_roles(s: Session, member_id: int, code: str, roles) -> None:
    """Make ``roles`` the member's roles in ``code`` (deleting first, so a lead moves without breaking the
    one-lead index)."""
    have = set(roles_in(s, member_id, code))
    gone, new = have - set(roles), [r for r in ROLES if r in roles and r not in have]
    if gone:
        s.execute(text("DELETE FROM member_roles WHERE member_id = :m AND grid_code = :g AND role = ANY(:r)"),
                  {"m": member_id, "g": code, "r": sorted(gone)})
    for role in new:
        s.add(MemberRole(member_id=member_id, grid_code=code, role=role))
    s.flush()


def _take_lead(s: Session, code: str, new_lead: int, change: Change, *, replace: bool) -> None:
    """Make ``new_lead`` the lead of ``code``: refused when another member leads it unless ``replace``
    (then that member keeps their other roles)."""
    old = _lead_of(s, code)
    if old is not None and old != new_lead:
        if not replace:
            raise Conflict(f"grid {code} has a lead already ({_name(s, old)}, member {old}): say replace_lead to make "
                           f"{_name(s, new_lead)} the lead instead (the old lead keeps their other roles)")
        _write_roles(s, old, code, [r for r in roles_in(s, old, code) if r != LEAD])
        change.warnings.extend(_account_warnings(s, old))


def _needs_successor(s: Session, code: str, member_id: int, successor, action: str) -> int | None:
    """The member (id) who takes over the lead of ``code`` when the lead ``member_id`` leaves it; refused
    when none is named. None when ``member_id`` does not lead ``code``."""
    if _lead_of(s, code) != member_id:
        return None
    if successor is None:
        raise Conflict(f"{_name(s, member_id)} is the lead (网格长) of grid {code}: name a successor (another member "
                       f"who becomes the lead) to {action} them, or first appoint another lead with replace_lead")
    other = resolve_member(s, successor, "successor")
    if other.id == member_id:
        raise InvalidData(RowError(None, "successor", "the successor must be another member"))
    return other.id


def _account_warnings(s: Session, member_id: int) -> list[str]:
    """Warnings for the log-ins tied to ``member_id`` that now see no grid (``field_grids``: a member's grids
    are those it holds any role in, a grid lead's those it leads)."""
    from app.incidents.permissions import field_grids

    accounts = s.execute(select(User).where(User.member_id == member_id, User.role.in_(FIELD_ROLES))
                         .order_by(User.username)).scalars().all()
    blind = [u for u in accounts if not field_grids(s, u)]
    if not blind:
        return []
    name = _name(s, member_id)
    # roles left but nothing seen: the account sees only the grids its member leads
    as_lead = s.execute(text("SELECT 1 FROM member_roles WHERE member_id = :m LIMIT 1"), {"m": member_id}).first()
    return [f"account {u.username!r} ({name}, {u.role}) keeps its log-in but now sees no grid: give {name} a role"
            + (" as lead" if as_lead else "") + " or disable the account in /admin/users" for u in blind]


def _finish(s: Session, change: Change) -> Change:
    s.flush()
    for code in change.grids:
        change.grids[code] = grid_version(s, code)
    change.warnings.extend(w for w in _account_warnings(s, change.member_id) if w not in change.warnings)
    return change


def _may_set_roles(s: Session, user, code: str, before: list[str], after: list[str]) -> None:
    """``member.manage``, or a lead's ``member.roles_own_grid``: the non-lead roles of a member already in one
    of its grids."""
    if user is None or can(user, "member.manage"):
        return
    require(user, "member.roles_own_grid")
    from app.accounts.auth import visible_grid_codes

    visible = visible_grid_codes(user, s)
    if visible is not None and code not in visible:
        raise Forbidden(f"member.roles_own_grid: grid {code} is not one of your grids")
    if not before:
        raise Forbidden("member.manage: only an administrator assigns a member to a grid; you may change the roles "
                        "of your grids' members")
    if (LEAD in before) != (LEAD in after):
        raise Forbidden("member.manage: who leads a grid (网格长) is decided by an administrator")
    if not after:
        raise Forbidden("member.manage: only an administrator unassigns a member")


def set_roles(s: Session, user, member_ref, grid_code, roles, *, version=None, replace_lead: bool = False,
              assign_only: bool = False, show_phones: bool = False) -> Change:
    """Give member ``member_ref`` exactly ``roles`` in grid ``grid_code``: assigns them when they are not in
    it (``assign_only``: refuse when they are), changes their roles when they are. ``version``: the grid's
    version as the client saw it (None: unchecked, the command line)."""
    code = check_grid_code(grid_code)
    roles = check_roles(roles)
    member = resolve_member(s, member_ref)
    _lock(s, [code])
    before = roles_in(s, member.id, code)
    _may_set_roles(s, user, code, before, roles)  # first: a 409 would show the grid's members
    _check_version(s, user, code, version, show_phones=show_phones)
    if assign_only and before:
        raise Conflict(f"{member.name} is in grid {code} already (as {', '.join(before)}): change their roles instead")
    change = Change(member.id, {code: ""})
    if LEAD in before and LEAD not in roles:
        raise Conflict(f"{member.name} is the lead (网格长) of grid {code}: appoint another lead with replace_lead "
                       "first; they then keep their other roles")
    if LEAD in roles and LEAD not in before:
        _take_lead(s, code, member.id, change, replace=replace_lead)
    _write_roles(s, member.id, code, roles)
    return _finish(s, change)


def unassign(s: Session, user, member_ref, grid_code, *, version=None, successor=None,
             show_phones: bool = False) -> Change:
    """Take member ``member_ref`` out of grid ``grid_code`` (every role there). The lead needs a
    ``successor``, who becomes the lead."""
    _may_manage(user)
    code = check_grid_code(grid_code)
    member = resolve_member(s, member_ref)
    _lock(s, [code])
    _check_version(s, user, code, version, show_phones=show_phones)
    if not roles_in(s, member.id, code):
        raise NotFound(f"{member.name} (member {member.id}) holds no role in grid {code}")
    change = Change(member.id, {code: ""})
    heir = _needs_successor(s, code, member.id, successor, "unassign")
    _write_roles(s, member.id, code, [])
    if heir is not None:
        _write_roles(s, heir, code, sorted(set(roles_in(s, heir, code)) | {LEAD}))
        change.warnings.extend(_account_warnings(s, heir))
    return _finish(s, change)


def move(s: Session, user, member_ref, from_grid, to_grid, *, version=None, to_version=None, successor=None,
         replace_lead: bool = False, show_phones: bool = False) -> Change:
    """Move member ``member_ref`` from one grid to another with their roles (joined with any they hold there
    already), in one transaction. Leading the old grid needs a ``successor`` there; carrying the lead into a
    grid that has one needs ``replace_lead``. Both grids' versions as the client saw them are checked
    (``version`` of the grid left, ``to_version`` of the grid joined, whose lead ``replace_lead`` may
    demote): a stale or missing one is a :class:`StaleGrid` of that grid (None only from the command line)."""
    _may_manage(user)
    src, dst = check_grid_code(from_grid, "grid"), check_grid_code(to_grid, "to")
    if src == dst:
        raise InvalidData(RowError(None, "to", f"the member is in grid {src} already: choose another grid"))
    member = resolve_member(s, member_ref)
    _lock(s, [src, dst])
    _check_version(s, user, src, version, show_phones=show_phones)
    _check_version(s, user, dst, to_version, show_phones=show_phones)
    carried = roles_in(s, member.id, src)
    if not carried:
        raise NotFound(f"{member.name} (member {member.id}) holds no role in grid {src}")
    change = Change(member.id, {src: "", dst: ""})
    heir = _needs_successor(s, src, member.id, successor, "move")
    if LEAD in carried:
        _take_lead(s, dst, member.id, change, replace=replace_lead)
    _write_roles(s, member.id, src, [])
    _write_roles(s, member.id, dst, sorted(set(carried) | set(roles_in(s, member.id, dst))))
    if heir is not None:
        _write_roles(s, heir, src, sorted(set(roles_in(s, heir, src)) | {LEAD}))
        change.warnings.extend(_account_warnings(s, heir))
    return _finish(s, change)
