"""Read-only database accounts (读者) for analysts: PostgreSQL roles that can only SELECT from schema ``gis``.

A reader is a LOGIN role, member of the NOLOGIN group :data:`READER_GROUP`, which holds the only grants:
USAGE on schema ``gis`` and SELECT on its views (now and later: default privileges of the schema's owner).
The views (migration 0010_gis) carry no phone numbers, reporter details or accounts, and run with their
owner's rights, so a reader reads them without any right on ``public``'s tables.

Membership marks a reader: :func:`list_readers` shows only members and :func:`remove_reader` refuses any
other role. Readers inherit from that one group only (a role created here is a member of nothing else), so
the role is ``INHERIT`` (with ``NOINHERIT`` the group's grants would not reach it) and ``NOSUPERUSER
NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`` with a connection limit. Each session starts
read-only with ``search_path = gis, public`` (QGIS lists the views; PostGIS's types resolve). The database's
TEMPORARY right is taken from PUBLIC, so a reader cannot create even a temporary function.

Passwords are stored as SCRAM-SHA-256 verifiers (``password_encryption`` set for the statement) and passed
as a quoted literal (``psycopg.sql.Literal``), never pasted into SQL text. Works on the embedded cluster
and on an external ``DATABASE_URL`` (there the role running this needs CREATEROLE, and ``pg_hba.conf`` is
the DBA's: see docs/database.md).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from app.db import driver_cursor
from gis.errors import Conflict, InvalidData, NotFound, RowError

#: the group role whose members are the readers (and which holds their grants)
READER_GROUP = "gridwatch_readers"
#: the schema readers see
READER_SCHEMA = "gis"
#: connections one reader may hold at once (QGIS opens a few per project)
READER_CONNECTION_LIMIT = 10
COMMENT = "gridwatch reader: SELECT on schema gis only (gridwatch db reader)"
GROUP_COMMENT = "gridwatch readers' group: its members are the read-only accounts (gridwatch db reader)"

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: names PostgreSQL or gridwatch keeps for itself
_RESERVED = {READER_GROUP, "public", "postgres", "none", "current_user", "session_user", "current_role", "all"}


@dataclass(frozen=True)
class Reader:
    name: str
    connection_limit: int
    connections: int  # open now


def _sql():
    from psycopg import sql

    return sql


def _cursor(session):
    """A psycopg cursor inside the session's transaction (one transaction for the whole change)."""
    return driver_cursor(session.connection())


def name_problem(name: str | None) -> str | None:
    """Why ``name`` cannot be a reader's role name, or None (lower-case identifier rules: letters, digits,
    ``_``; at most 63 bytes; not ``pg_…`` nor a reserved word)."""
    if not name or not _NAME.fullmatch(name):
        return "a lower-case letter or _ first, then letters, digits or _ (at most 63)"
    if name.startswith("pg_") or name in _RESERVED:
        return f"{name!r} is reserved"
    return None


def _is_reader(cur, name: str) -> bool | None:
    """True for a reader, False for another existing role, None when no role has that name."""
    cur.execute("SELECT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                "WHERE g.rolname = %s AND m.member = r.oid) FROM pg_roles r WHERE r.rolname = %s",
                (READER_GROUP, name))
    row = cur.fetchone()
    return None if row is None else bool(row[0])


def ensure_group(session) -> None:
    """Create :data:`READER_GROUP` with its grants (idempotent; run by every ``reader add``)."""
    sql = _sql()
    group, schema = sql.Identifier(READER_GROUP), sql.Identifier(READER_SCHEMA)
    cur = _cursor(session)
    cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (READER_SCHEMA,))
    if cur.fetchone() is None:
        raise Conflict(f"schema {READER_SCHEMA} is missing: run `gridwatch db upgrade` first")
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER_GROUP,))
    if cur.fetchone() is None:
        cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN NOINHERIT NOCREATEDB NOCREATEROLE").format(group))
    cur.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(group, sql.Literal(GROUP_COMMENT)))
    cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, group))
    cur.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, group))
    cur.execute("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s", (READER_SCHEMA,))
    owner = cur.fetchone()[0]
    cur.execute(sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT ON TABLES TO {}")
                .format(sql.Identifier(owner), schema, group))
    cur.execute("SELECT current_database()")
    database = sql.Identifier(cur.fetchone()[0])
    cur.execute(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(database))
    # PostgreSQL ≤ 14 lets PUBLIC create in schema public; 15 no longer does. Revoking is a no-op there, and
    # where the owner is not public's owner PostgreSQL only warns (then revoke it as that owner)
    cur.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    cur.execute(sql.SQL("GRANT TEMPORARY ON DATABASE {} TO CURRENT_USER").format(database))


def add_reader(session, name: str, password: str) -> bool:
    """Create reader ``name`` (or set a reader's new password). Returns True when the role was created.

    Raises InvalidData naming ``name`` or ``password``; Conflict when ``name`` is an existing role that is
    not a reader (the owner, an application role, …)."""
    from app.accounts.service import password_problem

    errors = []
    if (why := name_problem(name)) is not None:
        errors.append(RowError(None, "name", why))
    if (why := password_problem(password)) is not None:
        errors.append(RowError(None, "password", why))
    if errors:
        raise InvalidData(errors)
    sql = _sql()
    cur = _cursor(session)
    existing = _is_reader(cur, name)
    if existing is False:
        raise Conflict(f"role {name!r} exists and is not a gridwatch reader: choose another name")
    ensure_group(session)
    role = sql.Identifier(name)
    if existing is None:
        cur.execute(sql.SQL("CREATE ROLE {} LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                            "NOBYPASSRLS CONNECTION LIMIT {} IN ROLE {}")
                    .format(role, sql.Literal(READER_CONNECTION_LIMIT), sql.Identifier(READER_GROUP)))
        cur.execute(sql.SQL("COMMENT ON ROLE {} IS {}").format(role, sql.Literal(COMMENT)))
        cur.execute(sql.SQL("ALTER ROLE {} SET search_path = gis, public").format(role))
        cur.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(role))
    # the SCRAM verifier is computed here (libpq's PQencryptPasswordConn): the statement the server receives,
    # its log and pg_stat_activity never hold the password itself
    verifier = cur.connection.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256")
    cur.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(verifier.decode())))
    return existing is None


def list_readers(session) -> list[Reader]:
    """The readers (members of :data:`READER_GROUP`), by name, with their open connections."""
    cur = _cursor(session)
    cur.execute("SELECT r.rolname, r.rolconnlimit, (SELECT count(*) FROM pg_stat_activity a WHERE a.usename = r.rolname) "
                "FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid "
                "JOIN pg_roles g ON g.oid = m.roleid AND g.rolname = %s ORDER BY r.rolname", (READER_GROUP,))
    return [Reader(name, limit, int(n)) for name, limit, n in cur.fetchall()]


def remove_reader(session, name: str) -> int:
    """Drop reader ``name`` and end its open connections (how many it had). NotFound for a name that is no
    role; Conflict for a role that is not a reader (nothing else is ever dropped)."""
    if (why := name_problem(name)) is not None:
        raise InvalidData(RowError(None, "name", why))
    sql = _sql()
    cur = _cursor(session)
    existing = _is_reader(cur, name)
    if existing is None:
        raise NotFound(f"no reader {name!r}")
    if existing is False:
        raise Conflict(f"role {name!r} is not a gridwatch reader: refusing to remove it")
    cur.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(name)))
    cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = %s", (name,))
    ended = int(cur.fetchone()[0])
    cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
    cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
    return ended
