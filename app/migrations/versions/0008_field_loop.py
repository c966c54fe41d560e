"""The closed loop in the field: member accounts, incident versions and idempotency keys, photos, webhooks.

- ``users.role`` gains ``member`` (网格员), tied to a member record like ``grid_lead``.
- ``incidents.version``: every change adds one; an action names the version it saw (stale → 409).
- ``incidents.idempotency_key``: the key a page generated for one report; a retried send finds the
  incident it already created instead of opening a second one.
- ``incident_photos``: verified images with thumbnails, in PostgreSQL (see ``app.photos.models``).
- ``webhook_deliveries`` / ``webhook_cursor``: the outgoing webhook's queue and delivery log.
- ``patrol_points.accuracy_m``: the accuracy a phone reported for a point it sent.
- ``incident_events.note_key``/``note_args``: a note the system writes, as a message key and its values,
  so the timeline shows it in the reader's language.

Revision ID: 0008_field_loop
Revises: 0007_security
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0008_field_loop"
down_revision = "0007_security"
branch_labels = None
depends_on = None

ROLES_BEFORE = "('admin', 'operator', 'planner', 'grid_lead')"
ROLES_AFTER = "('admin', 'operator', 'planner', 'grid_lead', 'member')"


def upgrade() -> None:
    op.drop_constraint("ck_users_role", "users", type_="check")
    op.drop_constraint("ck_users_grid_lead_has_member", "users", type_="check")
    op.create_check_constraint("ck_users_role", "users", f"role IN {ROLES_AFTER}")
    op.create_check_constraint("ck_users_field_role_has_member", "users",
                               "role NOT IN ('grid_lead', 'member') OR member_id IS NOT NULL")

    op.add_column("incidents", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.add_column("incidents", sa.Column("idempotency_key", sa.String(64), nullable=True))
    op.create_unique_constraint("uq_incidents_idempotency_key", "incidents", ["idempotency_key"])

    op.add_column("patrol_points", sa.Column("accuracy_m", sa.Float(), nullable=True))
    op.add_column("incident_events", sa.Column("note_key", sa.String(40), nullable=True))
    op.add_column("incident_events", sa.Column("note_args", postgresql.JSONB(), nullable=True))

    op.create_table(
        "incident_photos",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("byte_size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("thumb", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('before', 'after')", name="ck_incident_photos_kind"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE",
                                name="fk_incident_photos_incident_id_incidents"),
        sa.ForeignKeyConstraint(["event_id"], ["incident_events.id"], ondelete="SET NULL",
                                name="fk_incident_photos_event_id_incident_events"),
        sa.PrimaryKeyConstraint("id", name="pk_incident_photos"),
    )
    op.create_index("ix_incident_photos_incident_id", "incident_photos", ["incident_id"])

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("dedupe_key", sa.String(120), nullable=False),
        sa.Column("source_event_id", sa.BigInteger(), nullable=True),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("status", sa.String(10), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retried_by", sa.String(60), nullable=True),
        sa.Column("retried_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("event IN ('created', 'dispatched', 'due_soon', 'overdue', 'resolved', 'closed')",
                           name="ck_webhook_deliveries_event"),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="ck_webhook_deliveries_status"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="SET NULL",
                                name="fk_webhook_deliveries_incident_id_incidents"),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("dedupe_key", name="uq_webhook_deliveries_dedupe_key"),
    )
    op.create_index("ix_webhook_deliveries_incident_id", "webhook_deliveries", ["incident_id"])
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_table(
        "webhook_cursor",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("last_event_id", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("pending_id", sa.BigInteger(), nullable=True),
        sa.Column("pending_xmax", sa.BigInteger(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_cursor"),
    )


def downgrade() -> None:
    op.drop_table("webhook_cursor")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_incident_id", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_incident_photos_incident_id", table_name="incident_photos")
    op.drop_table("incident_photos")
    op.drop_column("incident_events", "note_args")
    op.drop_column("incident_events", "note_key")
    op.drop_column("patrol_points", "accuracy_m")
    op.drop_constraint("uq_incidents_idempotency_key", "incidents", type_="unique")
    op.drop_column("incidents", "idempotency_key")
    op.drop_column("incidents", "version")
    op.execute("DELETE FROM users WHERE role = 'member'")
    op.drop_constraint("ck_users_field_role_has_member", "users", type_="check")
    op.drop_constraint("ck_users_role", "users", type_="check")
    op.create_check_constraint("ck_users_role", "users", f"role IN {ROLES_BEFORE}")
    op.create_check_constraint("ck_users_grid_lead_has_member", "users",
                               "role <> 'grid_lead' OR member_id IS NOT NULL")
