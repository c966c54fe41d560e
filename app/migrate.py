"""Schema changes through Alembic only: ``gridwatch db upgrade``."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str, connection=None, district_code: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    if district_code is not None:
        cfg.attributes["district_code"] = district_code  # 0012_district_code: the deployment's district
    return cfg


def upgrade(engine, revision: str = "heads", *, district_code: str | None = None) -> None:
    """Migrate to ``revision``; ``district_code`` (the setting) is the district the database serves: recorded
    on first use, refused when the database already serves another (``app.deployment.record_district``)."""
    from sqlalchemy.orm import Session

    with engine.begin() as conn:
        command.upgrade(alembic_config(str(engine.url.render_as_string(hide_password=False)), conn, district_code),
                        revision)
        if district_code is not None and conn.execute(text("SELECT to_regclass('gw_deployment')")).scalar():
            from app.deployment import record_district

            with Session(bind=conn) as s:
                record_district(s, district_code)


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
