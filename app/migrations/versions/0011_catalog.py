"""GB/T 28181 catalogs: the catalog attributes of a camera, the catalog tree, the source of an event.

- ``cameras``: Manufacturer, Model, Owner, CivilCode, ParentID, BusinessGroupID, Parental, Secrecy and
  DirectionType as a platform's catalog gives them; ``azimuth_approx`` (the azimuth was derived from
  DirectionType); ``platform`` (the SIP ID of the video platform a camera is synced from); PTZType 0–7
  (0 unknown, 6 and 7 the channels of GB/T 28181-2022's multi-lens devices).
- ``catalog_nodes``: the items of a catalog that are not devices (administrative areas, SIP servers,
  business groups, virtual organisations), per platform, audited.
- ``camera_events.source``: the platform a catalog sync or a Notify came from.

Revision ID: 0011_catalog
Revises: 0010_gis
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_catalog"
down_revision = "0010_gis"
branch_labels = None
depends_on = None

# frozen copies
NEW_COLUMNS = (
    ("manufacturer", sa.String(100)), ("model", sa.String(100)), ("owner", sa.String(100)),
    ("civil_code", sa.String(12)), ("parent_id", sa.String(20)), ("business_group_id", sa.String(20)),
    ("parental", sa.SmallInteger()), ("secrecy", sa.SmallInteger()), ("direction_type", sa.SmallInteger()),
    ("platform", sa.String(20)),
)
INDEXED = ("parent_id", "business_group_id", "platform")
CHECKS = {"parental": "parental IS NULL OR parental IN (0, 1)",
          "secrecy": "secrecy IS NULL OR secrecy IN (0, 1)",
          "direction_type": "direction_type IS NULL OR direction_type BETWEEN 1 AND 8"}


def upgrade() -> None:
    for name, type_ in NEW_COLUMNS:
        op.add_column("cameras", sa.Column(name, type_, nullable=True))
    op.add_column("cameras", sa.Column("azimuth_approx", sa.Boolean(), server_default=sa.text("false"),
                                       nullable=False))
    for name in INDEXED:
        op.create_index(f"ix_cameras_{name}", "cameras", [name])
    for name, check in CHECKS.items():
        op.create_check_constraint(f"ck_cameras_{name}", "cameras", check)
    op.drop_constraint("ck_cameras_ptz_type", "cameras", type_="check")
    op.create_check_constraint("ck_cameras_ptz_type", "cameras", "ptz_type IS NULL OR ptz_type BETWEEN 0 AND 7")
    op.add_column("camera_events", sa.Column("source", sa.String(20), nullable=True))

    op.create_table(
        "catalog_nodes",
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("node_id", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("parent_id", sa.String(20), nullable=True),
        sa.Column("business_group_id", sa.String(20), nullable=True),
        sa.Column("civil_code", sa.String(12), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('area', 'sip', 'group', 'virtual')", name="ck_catalog_nodes_kind"),
        sa.CheckConstraint("node_id ~ '^[0-9]{2,20}$'", name="ck_catalog_nodes_node_id_format"),
        sa.PrimaryKeyConstraint("platform", "node_id", name="pk_catalog_nodes"),
    )
    op.execute("CREATE TRIGGER gw_audit AFTER INSERT OR UPDATE OR DELETE ON catalog_nodes FOR EACH ROW "
               "EXECUTE FUNCTION gw_audit('catalog_node', 'platform@node_id', 'updated_at', '')")


def downgrade() -> None:
    op.drop_table("catalog_nodes")
    op.drop_column("camera_events", "source")
    op.drop_constraint("ck_cameras_ptz_type", "cameras", type_="check")
    op.create_check_constraint("ck_cameras_ptz_type", "cameras", "ptz_type IS NULL OR ptz_type BETWEEN 1 AND 5")
    for name in CHECKS:
        op.drop_constraint(f"ck_cameras_{name}", "cameras", type_="check")
    for name in INDEXED:
        op.drop_index(f"ix_cameras_{name}", "cameras")
    op.drop_column("cameras", "azimuth_approx")
    for name, _ in NEW_COLUMNS:
        op.drop_column("cameras", name)
