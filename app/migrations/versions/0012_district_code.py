"""The district each row belongs to, on every big table (the path past one machine, docs/scaling.md).

- ``gw_deployment``: one row, the GB/T 2260 code of the district this database serves (set by
  ``gridwatch db upgrade`` from the setting ``district_code``; refused when it would change).
- ``gw_district_code()``: that code; the default of every ``district_code`` column, so no writer has to
  know the column (imports, Open311, the phone, QGIS editing through the views) and a row can never lack it.
  Without a deployment row it raises, naming the command to run.
- ``district_code`` (``varchar(6)``, NOT NULL) on incidents, incident_events, incident_photos, patrol_points,
  audit_log, cameras, camera_events, camera_revisions: the distribution column a Citus cluster would shard
  these tables by, one shard group per district of the city.

Revision ID: 0012_district_code
Revises: 0011_catalog
"""
import sqlalchemy as sa
from alembic import context, op

revision = "0012_district_code"
down_revision = "0011_catalog"
branch_labels = None
depends_on = None

# frozen copies
TABLES = ("incidents", "incident_events", "incident_photos", "patrol_points", "audit_log", "cameras",
          "camera_events", "camera_revisions")
CODE_RE = "^[0-9]{6}$"


def _known_code(bind) -> str | None:
    """The code ``gridwatch db upgrade`` passes (setting ``district_code``), else the one the stored streets carry."""
    code = context.config.attributes.get("district_code")
    if code:
        return code
    return bind.execute(sa.text("SELECT left(code, 6) FROM streets ORDER BY code LIMIT 1")).scalar()


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "gw_deployment",
        sa.Column("id", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("district_code", sa.String(6), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_gw_deployment_one_row"),
        sa.CheckConstraint(f"district_code ~ '{CODE_RE}'", name="ck_gw_deployment_district_code_format"),
        sa.PrimaryKeyConstraint("id", name="pk_gw_deployment"),
    )
    op.execute("""
        CREATE FUNCTION gw_district_code() RETURNS varchar LANGUAGE plpgsql STABLE AS $$
        DECLARE code varchar;
        BEGIN
            SELECT d.district_code INTO code FROM gw_deployment d WHERE d.id = 1;
            IF code IS NULL THEN
                RAISE EXCEPTION 'gridwatch: this database serves no district yet'
                    USING HINT = 'run `gridwatch db upgrade` (it records the setting district_code)';
            END IF;
            RETURN code;
        END $$""")
    code = _known_code(bind)
    if code:
        bind.execute(sa.text("INSERT INTO gw_deployment (id, district_code) VALUES (1, :c)"), {"c": code})
    for table in TABLES:
        op.add_column(table, sa.Column("district_code", sa.String(6), server_default=sa.text("gw_district_code()"),
                                       nullable=False))


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "district_code")
    op.execute("DROP FUNCTION gw_district_code()")
    op.drop_table("gw_deployment")
