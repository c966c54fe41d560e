"""Merge the camera and incident branches; stamp every grid and community change.

A trigger sets ``updated_at = clock_timestamp()`` on every insert or real update of a grid or community,
so ``(count(*), max(updated_at))`` changes whenever the boundaries do (any writer, any transaction):
the in-memory geocoding index keys on that instead of summing over every geometry per lookup.

Revision ID: 0006_boundary_stamps
Revises: 0002_cameras, 0005_incidents
"""
from alembic import op
import sqlalchemy as sa

revision = "0006_boundary_stamps"
down_revision = ("0002_cameras", "0005_incidents")
branch_labels = None
depends_on = None

TABLES = ("grids", "communities")


def upgrade() -> None:
    op.add_column("communities", sa.Column("updated_at", sa.DateTime(timezone=True),
                                           server_default=sa.text("now()"), nullable=False))
    # an upsert that changes nothing (a re-run of load-demo) keeps the stamp, and so the cached index
    op.execute("CREATE FUNCTION gridwatch_stamp_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$ "
               "BEGIN IF TG_OP = 'INSERT' OR NEW IS DISTINCT FROM OLD THEN "
               "NEW.updated_at := clock_timestamp(); END IF; RETURN NEW; END $$")
    for table in TABLES:
        op.execute(f"CREATE TRIGGER {table}_stamp BEFORE INSERT OR UPDATE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION gridwatch_stamp_updated_at()")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_stamp ON {table}")
    op.execute("DROP FUNCTION gridwatch_stamp_updated_at()")
    op.drop_column("communities", "updated_at")
