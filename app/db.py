"""Engine, sessions and the declarative base of the application's tables."""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

from sqlalchemy import MetaData, create_engine, event, func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def database_url(settings) -> str:
    """The configured URL, or the embedded cluster's under ``var/pg``."""
    if settings.database_url:
        url = settings.database_url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return url
    from app.pgcluster import Cluster

    return Cluster(settings.var_path / "pg").url()


def read_url(settings) -> str | None:
    """The URL of the read-only queries (a streaming replica, ``database_read_url``), or None: the primary's."""
    url = settings.database_read_url
    if not url:
        return None
    return "postgresql+psycopg://" + url[len("postgresql://"):] if url.startswith("postgresql://") else url


def make_engine(url: str, *, read_only: bool = False, **kw) -> Engine:
    """An engine whose sessions see UTC; ``read_only``: every transaction is READ ONLY (a replica's, or the
    read URL pointed at the primary: a write through it fails rather than lands on the wrong server)."""
    engine = create_engine(url, pool_pre_ping=True, **kw)

    @event.listens_for(engine, "connect")
    def _utc(dbapi_conn, _record):  # timestamps leave the database in UTC; we render them in the district zone
        with dbapi_conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            if read_only:
                cur.execute("SET default_transaction_read_only = on")
        dbapi_conn.commit()

    return engine


def driver_cursor(conn: Connection, *, binary: bool = False):
    """A psycopg cursor on the driver connection under SQLAlchemy connection ``conn``, inside its transaction
    (``binary``: results in PostgreSQL's binary format, which psycopg parses faster than text)."""
    return conn.connection.dbapi_connection.cursor(binary=binary)


# -- who is changing things: the audit log's actor (app.audit.models) -------------------------------------
#: the actor of code outside a request (the CLI sets ``cli:<os user>``; tests may set their own)
_ACTOR: ContextVar[str | None] = ContextVar("gridwatch_audit_actor", default=None)
#: functions that name the actor of the current context first (the web adds the request's account)
ACTOR_SOURCES: list[Callable[[], str | None]] = []
ACTOR_MAX = 120


def audit_actor() -> str | None:
    """Who the audit log names for changes made now: the request's account or key, else the context's."""
    for source in ACTOR_SOURCES:
        actor = source()
        if actor:
            return actor
    return _ACTOR.get()


def use_actor(actor: str | None):
    """Name ``actor`` for the changes this context makes from now on (returns the ContextVar token)."""
    return _ACTOR.set(actor)


def reset_actor(token) -> None:
    """Undo :func:`use_actor` (the CLI does when its command ends, so an in-process caller keeps its own)."""
    _ACTOR.reset(token)


def actor_setting(actor):
    """The SQL expression that makes ``actor`` (text, or an SQL expression of text) the audit log's actor for
    the rest of the transaction (the trigger ``gw_audit`` reads ``gridwatch.actor``), cut to ``ACTOR_MAX``."""
    if isinstance(actor, str):
        return func.set_config("gridwatch.actor", actor[:ACTOR_MAX], True)
    return func.set_config("gridwatch.actor", func.left(actor, ACTOR_MAX), True)


def stamp_actor(session: Session, actor: str | None = None) -> None:
    """Tell the database, for the rest of ``session``'s transaction, who its changes are by (the trigger
    ``gw_audit`` reads ``gridwatch.actor``). Called at every transaction's start with :func:`audit_actor`,
    and by the web once a request's account is known (its first transaction began before that)."""
    actor = actor or audit_actor()
    if actor:
        session.execute(select(actor_setting(actor)))


def _on_begin(session: Session, _transaction, connection) -> None:
    actor = audit_actor()
    if actor:
        connection.execute(select(actor_setting(actor)))


class Database:
    """An engine (or one connection, in tests) and the session factory bound to it."""

    def __init__(self, bind: Engine | Connection, read_bind: Engine | Connection | None = None):
        import app.models  # noqa: F401  every mapper registered, so foreign keys across features resolve

        self.bind = bind
        opts = {"join_transaction_mode": "create_savepoint"} if isinstance(bind, Connection) else {}
        self.Session = sessionmaker(bind=bind, expire_on_commit=False, **opts)
        event.listen(self.Session, "after_begin", _on_begin)
        #: sessions of the read-only queries (dashboards' statistics, OGC API reads): bound to the read URL
        #: when there is one (``database_read_url``), else the same as ``Session``
        self.read_bind = read_bind
        if read_bind is None:
            self.ReadSession = self.Session
        else:
            ropts = {"join_transaction_mode": "create_savepoint"} if isinstance(read_bind, Connection) else {}
            self.ReadSession = sessionmaker(bind=read_bind, expire_on_commit=False, **ropts)

    @classmethod
    def from_settings(cls, settings) -> "Database":
        url = read_url(settings)
        return cls(make_engine(database_url(settings)), make_engine(url, read_only=True) if url else None)

    @property
    def engine(self) -> Engine:
        return self.bind if isinstance(self.bind, Engine) else self.bind.engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        s = self.Session()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()
