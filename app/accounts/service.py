"""Accounts (账号): create, list, change, disable and remove users; check log-ins; change and reset passwords.

A password change, a reset and disabling an account end the account's log-in sessions
(``app.accounts.sessions``). The administration page (``app.people``) and ``gridwatch users …`` call these
same functions, so a rule (the last active administrator stays, nobody removes themselves, a field
account is tied to a member who works in a grid) holds whichever way an account is changed. The audit
log records every change (trigger ``gw_audit`` on ``users`` and ``api_keys``; passwords as "(hidden)").
"""
from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import and_, exists, func, not_, or_, select, text
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts import sessions
from app.accounts.models import ACCOUNT_ROLES, FIELD_ROLES, ApiKey, LoginAttempt, User, UserSession
from gis.codes import GRID
from gis.errors import Conflict, InvalidData, NotFound, RowError
from gis.text import column_length, text_problem

MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # hashing cost grows with the length; nobody types more
USERNAME_MAX = column_length(User.__table__.c.username)
#: generated passwords: no 0/o, 1/l/i, so one read aloud or copied from a screen arrives intact;
#: 4 groups of 4 of 31 characters is about 79 bits
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
PASSWORD_GROUPS, PASSWORD_GROUP_LEN = 4, 4
#: what an account form read, compared before a change is written (``users`` has no version column)
STATE_FIELDS = ("role", "member_id", "active")


def username_problem(username) -> str | None:
    """Why ``username`` may not name an account, or None."""
    if (not isinstance(username, str) or not username or len(username) > USERNAME_MAX
            or not username.replace("_", "").replace("-", "").replace(".", "").isalnum()):
        return f"use 1–{USERNAME_MAX} letters, digits, '.', '-' or '_'"
    return None


def role_problem(role) -> str | None:
    if role not in ACCOUNT_ROLES:
        return f"{str(role)[:40]!r} is not one of {', '.join(ACCOUNT_ROLES)}"
    return None


def generate_password() -> str:
    """A new random password (shown once to the administrator, who hands it over; the user changes it)."""
    return "-".join("".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_GROUP_LEN))
                    for _ in range(PASSWORD_GROUPS))


def password_problem(password: str | None) -> str | None:
    """Why ``password`` may not become an account's password, or None."""
    if len(password or "") < MIN_PASSWORD:
        return f"at least {MIN_PASSWORD} characters"
    return text_problem(password, max_len=MAX_PASSWORD)


def add_user(session: Session, username: str, password: str, *, role: str, grid_code: str | None = None,
             member_id: int | None = None, member_ref: str | None = None) -> User:
    """Create or update ``username``. A field account (``grid_lead``, ``member``) is tied to a member record:
    ``member_id``, or ``member_ref`` (the member's external id or number), or for a grid lead the lead
    member of ``grid_code``."""
    errors = []
    if (why := username_problem(username)) is not None:
        errors.append(RowError(None, "username", why))
    if (why := role_problem(role)) is not None:
        errors.append(RowError(None, "role", why))
    if (why := password_problem(password)) is not None:
        errors.append(RowError(None, "password", why))
    errors += _scope_errors(role, member_id, member_ref, grid_code)
    if errors:
        raise InvalidData(errors)
    member_id = _field_member(session, role, member_id, member_ref, grid_code)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = User(username=username)
        session.add(user)
        user.password_hash = generate_password_hash(password)
    else:
        if role != "admin":
            _keep_an_admin(session, user, "change the role of")
        if not check_password_hash(user.password_hash, password):
            set_password(session, user, password)
    user.role = role
    user.member_id = member_id if role in FIELD_ROLES else None
    session.flush()
    return user


def set_password(session: Session, user: User, password: str, *, keep_token: str | None = None) -> None:
    """Give ``user`` a new password and end their sessions (all but ``keep_token``'s): a stolen cookie
    must not outlive the password it was obtained with."""
    if (why := password_problem(password)) is not None:
        raise InvalidData(RowError(None, "password", why))
    user.password_hash = generate_password_hash(password)
    sessions.end_user_sessions(session, user.id, "password", keep_token=keep_token)
    session.flush()


def _scope_errors(role: str, member_id, member_ref, grid_code) -> list[RowError]:
    """What a field role's form lacks: the member record (or, for a grid lead, the grid it leads)."""
    if role not in FIELD_ROLES or member_id is not None or member_ref:
        return []
    if role == "member":
        return [RowError(None, "member", "a member account needs the member record it belongs to "
                                         "(--member: the member's external id or number)")]
    if not grid_code:
        return [RowError(None, "grid", "a grid_lead account needs the member record (--member) or "
                                       "the grid it leads (--grid CODE)")]
    try:
        GRID.validate(grid_code)
    except ValueError as exc:
        return [RowError(None, "grid", str(exc))]
    return []


def field_member_problem(session: Session, role: str, member_id: int) -> str | None:
    """Why an account of field ``role`` may not be tied to member ``member_id``, or None: the member
    must exist, be active and give the account a grid to work in (a grid lead leads one; a member holds
    a role in one: ``app.incidents.permissions.field_grids``, the rule that scopes the account)."""
    from app.incidents.permissions import field_grids

    member = session.execute(text("SELECT name, active FROM members WHERE id = :m"), {"m": member_id}).first()
    if member is None:
        return f"member {member_id} not found"
    if not member.active:
        return f"{member.name} ({member_id}) is no longer an active member"
    if not field_grids(session, SimpleNamespace(role=role, member_id=member_id)):
        what = "leads no grid" if role == "grid_lead" else "holds no role in any grid"
        return f"{member.name} ({member_id}) {what}, so the account would see nothing: assign them on /grids first"
    return None


def _field_member(session: Session, role: str, member_id, member_ref, grid_code) -> int | None:
    """The member record a ``role`` account is tied to (None for a district role), checked by
    :func:`field_member_problem`: given as ``member_id``, ``member_ref`` (number or external id) or, for a
    grid lead, the lead of ``grid_code``."""
    from app.grids.members import resolve_member
    from app.grids.models import LEAD

    if role not in FIELD_ROLES:
        return None
    if member_id is None and member_ref:
        try:
            member_id = resolve_member(session, member_ref).id
        except NotFound as exc:
            raise InvalidData(RowError(None, "member", str(exc))) from None
    if member_id is None:
        member_id = session.execute(text("SELECT member_id FROM member_roles WHERE grid_code = :g AND role = :lead"),
                                    {"g": grid_code, "lead": LEAD}).scalar()
        if member_id is None:
            raise InvalidData(RowError(None, "grid", f"grid {grid_code} has no lead member; add the grid's "
                                                     "members first (load-demo, import or /grids)"))
    if (why := field_member_problem(session, role, member_id)) is not None:
        raise InvalidData(RowError(None, "member", why))
    return member_id


def accounts_of_members(session: Session, member_ids: list[int]) -> dict[int, list[str]]:
    """member id → the accounts tied to it (a member search shows who already has one)."""
    out: dict[int, list[str]] = {}
    for member_id, username in session.execute(select(User.member_id, User.username)
                                               .where(User.member_id.in_(member_ids)).order_by(User.username)):
        out.setdefault(member_id, []).append(username)
    return out


class StaleAccount(Conflict):
    """The account changed since the form was read: ``seen`` (what the form showed) and ``current``."""

    def __init__(self, username: str, seen: dict, current: dict):
        changed = ", ".join(k for k in STATE_FIELDS if k in seen and seen[k] != current[k])
        super().__init__(f"account {username!r} was changed by someone else since you loaded it ({changed}); "
                         "nothing was written: look at both versions and try again")
        self.username, self.seen, self.current = username, seen, current


def account_state(user: User) -> dict:
    """What a form shows of ``user`` and sends back as ``seen_*`` (the stale-write check)."""
    return {k: getattr(user, k) for k in STATE_FIELDS}


def get_user(session: Session, username, *, lock: bool = False) -> User:
    """The account ``username`` (locked for update when ``lock``); ``NotFound`` otherwise."""
    user = None
    if username_problem(username) is None:
        stmt = select(User).where(User.username == username)
        user = session.scalar(stmt.with_for_update() if lock else stmt)
    if user is None:
        raise NotFound(f"no account named {str(username)[:60]!r}")
    return user


def _check_seen(user: User, seen: dict | None) -> None:
    if seen is None:
        return
    current = account_state(user)
    if any(k in seen and seen[k] != current[k] for k in STATE_FIELDS):
        raise StaleAccount(user.username, seen, current)


def _not_yourself(user: User, by: str | None, what: str, instead: str) -> None:
    if by is not None and user.username == by:
        raise Conflict(f"you cannot {what} your own account ({by}); {instead}")


def _keep_an_admin(session: Session, user: User, what: str) -> None:
    """Refuse ``what`` when it would leave no active administrator (nobody could manage accounts then).
    The active administrators are locked first, so two of them cannot disable each other at once."""
    if user.role != "admin" or not user.active:
        return
    others = session.execute(select(User.id).where(User.role == "admin", User.active, User.id != user.id)
                             .with_for_update()).scalars().all()
    if not others:
        raise Conflict(f"{user.username} is the last active administrator: add or enable another "
                       f"administrator before you {what} this one")


def set_active(session: Session, username: str, active: bool, *, by: str | None = None,
               seen: dict | None = None) -> User:
    """Enable or disable an account; disabling ends all its sessions (enabling does not revive them).
    ``by`` (the acting account) may not disable itself; the last active administrator stays enabled."""
    user = get_user(session, username, lock=True)
    _check_seen(user, seen)
    if not active:
        _not_yourself(user, by, "disable", "another administrator must")
        _keep_an_admin(session, user, "disable")
    user.active = active
    if not active:
        sessions.end_user_sessions(session, user.id, "disabled")
    session.flush()
    return user


def create_user(session: Session, username: str, *, role: str, member_ref=None, grid_code: str | None = None
                ) -> tuple[User, str]:
    """A new account with a generated password: (user, password), the password to be shown once.
    ``Conflict`` when the name is taken (``add_user`` updates; this one never does)."""
    if username_problem(username) is None and session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(f"an account named {username!r} exists; pick another name or edit that one")
    password = generate_password()
    return add_user(session, username, password, role=role, member_ref=member_ref, grid_code=grid_code), password


def set_role(session: Session, username: str, role: str, *, member_ref=None, grid_code: str | None = None,
             by: str | None = None, seen: dict | None = None) -> User:
    """Change an account's role and scope (the member record of a field role). Its sessions stay: every
    request reads the account (role and member) anew (``auth.current_user``), so an open session has the new
    role's powers, and only those, from its next request on. The acting account may not change its own role;
    the last active administrator stays one."""
    user = get_user(session, username, lock=True)
    _check_seen(user, seen)
    errors = [RowError(None, "role", why)] if (why := role_problem(role)) is not None else []
    errors += _scope_errors(role, None, member_ref, grid_code) if not errors else []
    if errors:
        raise InvalidData(errors)
    member_id = _field_member(session, role, None, member_ref, grid_code)
    if role != user.role:  # takes effect on the account's next request: every route reads the role anew
        _not_yourself(user, by, "change the role of", "another administrator must")
        if role != "admin":
            _keep_an_admin(session, user, "change the role of")
    user.role, user.member_id = role, member_id
    session.flush()
    return user


def reset_password(session: Session, username: str, *, by: str | None = None) -> str:
    """Give the account a generated password and end all its sessions; returns the password (shown once).
    One's own password is changed at /account/password (it asks for the current one)."""
    user = get_user(session, username, lock=True)
    _not_yourself(user, by, "reset the password of", "change it at /account/password")
    password = generate_password()
    set_password(session, user, password)
    return password


def remove_user(session: Session, username: str, *, by: str | None = None) -> dict:
    """Delete an account with its sessions and API keys. History stays: incident events and photos name
    their actor in text, and the audit log keeps the account's last state (its ``delete`` row). Refused
    for oneself and for the last active administrator. Returns what went: ``{"keys": n, "sessions": n}``."""
    user = get_user(session, username, lock=True)
    _not_yourself(user, by, "remove", "another administrator must")
    _keep_an_admin(session, user, "remove")
    gone = {"keys": session.scalar(select(func.count()).where(ApiKey.user_id == user.id)),
            "sessions": session.scalar(select(func.count()).where(UserSession.user_id == user.id))}
    session.delete(user)
    session.flush()
    return gone


def demo_accounts_present(session: Session) -> list[str]:
    """The demo's accounts (``app.demo.DEMO_ACCOUNTS``: published passwords) that still exist."""
    from app.demo import DEMO_ACCOUNTS

    return list(session.execute(select(User.username).where(User.username.in_(list(DEMO_ACCOUNTS)))
                                .order_by(User.username)).scalars())


def remove_demo_accounts(session: Session, *, by: str | None = None) -> list[str]:
    """Remove every demo account (their passwords are in the README). Refused while the acting account
    is one of them, or when no other active administrator would be left. Returns the names removed."""
    names = demo_accounts_present(session)
    if by is not None and by in names:
        raise Conflict(f"you are logged in as the demo account {by!r}: add an administrator account of your "
                       "own, log in with it, then remove the demo accounts")
    admins = session.execute(select(User.username).where(User.role == "admin", User.active)
                             .with_for_update()).scalars().all()
    if admins and not set(admins) - set(names):
        raise Conflict("the demo accounts hold the only active administrator: add an administrator account "
                       "of your own first")
    for name in names:
        session.delete(get_user(session, name))
    session.flush()
    return names


@functools.cache
def _dummy_hash() -> str:
    # made with the same method and cost as real hashes, so an unknown name costs the same time
    return generate_password_hash(secrets.token_urlsafe(16))


def check_login(session: Session, username: str, password: str) -> tuple[User | None, str]:
    """(user, "ok") for a right password of an active account, else (None, why): ``unknown_user``,
    ``wrong_password`` or ``inactive``. Exactly one password hash is checked whatever the case, so the
    answer time does not tell which names exist."""
    user = session.scalar(select(User).where(User.username == username))
    right = check_password_hash(user.password_hash if user is not None else _dummy_hash(), password)
    if user is None:
        return None, "unknown_user"
    if not right:
        return None, "wrong_password"
    if not user.active:
        return None, "inactive"
    return user, "ok"


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active account ``username`` if ``password`` is right, else None."""
    return check_login(session, username, password)[0]


# -- the account list ---------------------------------------------------------------------------
@dataclass(frozen=True)
class AccountRow:
    """One account as the list shows it. ``grids``: for a field role, the member's grids, each
    ``{"code", "name", "roles", "in_scope"}`` (``in_scope``: the account sees it, ``field_grids``)."""

    username: str
    role: str
    active: bool
    created_at: datetime
    member_id: int | None
    member_name: str | None
    member_external_id: str | None
    member_active: bool | None
    last_login: datetime | None
    live_sessions: int
    keys: int
    grids: list[dict] = field(default_factory=list)


def _alive(idle_minutes: int, max_hours: int):
    # the liveness rule of app.accounts.sessions.lookup, as a condition over user_sessions
    return and_(UserSession.ended_at.is_(None),
                not_(sessions._older_than(UserSession.created_at, hours=int(max_hours))),
                not_(sessions._older_than(UserSession.last_seen_at, mins=int(idle_minutes))))


def list_users(session: Session, *, idle_minutes: int, max_hours: int, role: str | None = None,
               active: bool | None = None, q: str | None = None, grid: str | None = None,
               username: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[AccountRow], int]:
    """Accounts by name, with their member record and grids, last successful log-in, live sessions
    (``idle_minutes``/``max_hours``: the settings that end them) and active API keys; filtered by
    ``role``, ``active``, ``q`` (in the name, the member's name or external id) and ``grid`` (the
    member works in it), or ``username`` (that one account). Returns (one page of rows, how many match)."""
    from app.grids.models import Grid, Member, MemberRole
    from app.incidents.permissions import field_grids

    where = [] if username is None else [User.username == username]
    if role is not None:
        where.append(User.role == role)
    if active is not None:
        where.append(User.active.is_(active))
    if q:
        where.append(or_(User.username.icontains(q, autoescape=True), Member.name.icontains(q, autoescape=True),
                         Member.external_id.icontains(q, autoescape=True)))
    if grid is not None:
        where.append(exists().where(MemberRole.member_id == User.member_id, MemberRole.grid_code == grid))
    base = select(User, Member).outerjoin(Member, Member.id == User.member_id).where(*where)
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    last_login = (select(func.max(LoginAttempt.at)).where(LoginAttempt.username == User.username, LoginAttempt.success)
                  .scalar_subquery())
    live = (select(func.count()).where(UserSession.user_id == User.id, _alive(idle_minutes, max_hours))
            .scalar_subquery())
    keys = select(func.count()).where(ApiKey.user_id == User.id, ApiKey.active).scalar_subquery()
    rows = session.execute(base.add_columns(last_login, live, keys).order_by(User.username)
                           .limit(limit).offset(offset)).all()
    member_ids = [u.member_id for u, *_ in rows if u.member_id is not None]
    roles: dict[int, dict[str, dict]] = {}
    for member_id, code, name, member_role in session.execute(
            select(MemberRole.member_id, MemberRole.grid_code, Grid.name, MemberRole.role)
            .join(Grid, Grid.code == MemberRole.grid_code).where(MemberRole.member_id.in_(member_ids))
            .order_by(MemberRole.grid_code, MemberRole.role)):
        roles.setdefault(member_id, {}).setdefault(code, {"code": code, "name": name, "roles": []})["roles"].append(
            member_role)
    out = []
    for user, member, login_at, n_live, n_keys in rows:
        scope = field_grids(session, user) or frozenset() if user.role in FIELD_ROLES else frozenset()
        grids = [{**g, "in_scope": g["code"] in scope} for g in roles.get(user.member_id, {}).values()]
        out.append(AccountRow(user.username, user.role, user.active, user.created_at, user.member_id,
                              member.name if member else None, member.external_id if member else None,
                              member.active if member else None, login_at, n_live, n_keys, grids))
    return out, total


def live_sessions(session: Session, username: str, *, idle_minutes: int, max_hours: int) -> list[UserSession]:
    """The account's live log-in sessions, newest first (when and from where; never the token)."""
    user = get_user(session, username)
    return list(session.scalars(select(UserSession).where(UserSession.user_id == user.id,
                                                          _alive(idle_minutes, max_hours))
                                .order_by(UserSession.created_at.desc())))
