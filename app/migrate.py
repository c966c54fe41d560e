"""Schema changes through Alembic only: ``gridwatch db upgrade``."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str, connection=None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine, revision: str = "heads") -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(str(engine.url.render_as_string(hide_password=False)), conn), revision)


def downgrade(engine, revision: str) -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(str(engine.url.render_as_string(hide_password=False)), conn), revision)


def current(engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def current_heads(engine) -> str:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return ", ".join(sorted(heads)) or "empty"
