"""Engine, sessions and the declarative base of the application's tables."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import MetaData, create_engine, event
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


def make_engine(url: str, **kw) -> Engine:
    engine = create_engine(url, pool_pre_ping=True, **kw)

    @event.listens_for(engine, "connect")
    def _utc(dbapi_conn, _record):  # timestamps leave the database in UTC; we render them in the district zone
        with dbapi_conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
        dbapi_conn.commit()

    return engine


class Database:
    """An engine (or one connection, in tests) and the session factory bound to it."""

    def __init__(self, bind: Engine | Connection):
        import app.models  # noqa: F401  every mapper registered, so foreign keys across features resolve

        self.bind = bind
        opts = {"join_transaction_mode": "create_savepoint"} if isinstance(bind, Connection) else {}
        self.Session = sessionmaker(bind=bind, expire_on_commit=False, **opts)

    @classmethod
    def from_settings(cls, settings) -> "Database":
        return cls(make_engine(database_url(settings)))

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
