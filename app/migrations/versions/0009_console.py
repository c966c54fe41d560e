"""The management console: reference tables, camera lifecycle, the audit log.

- ``programmes``, ``incident_sources``, ``member_role_types``: the code lists of data/reference (their only
  seed), with names an administrator may edit; foreign keys replace the CHECK lists on ``cameras.programme``,
  ``incidents.source`` and ``member_roles.role``.
- ``cameras.lifecycle``: planned | active | retired (a retired camera keeps its record and history).
- ``audit_log`` and the ``gw_audit`` trigger on every table of ``app.audit.models.AUDITED``: who changed
  what, when, before → after, whichever path wrote it. The trigger's key (``TG_ARGV[1]``) is a column or
  several joined by ``@``, whose values it joins by ``@`` (a member's role: ``<member_id>@<grid_code>``).

Revision ID: 0009_console
Revises: 0008_field_loop
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from data import reference

revision = "0009_console"
down_revision = "0008_field_loop"
branch_labels = None
depends_on = None

# frozen copies of what this revision creates (a later change to the live definitions must not rewrite history)
REF_TABLES = (("programmes", "programmes.csv", 12, "cameras", "programme"),
              ("incident_sources", "sources.csv", 20, "incidents", "source"),
              ("member_role_types", "roles.csv", 12, "member_roles", "role"))
OLD_CHECKS = {"cameras": ("ck_cameras_programme", "programme IN ('skynet', 'xueliang', 'huiyan', 'compound', 'other')"),
              "incidents": ("ck_incidents_source",
                            "source IN ('patrol', 'video', 'public', 'hotline', 'wechat', 'higher_office')"),
              "member_roles": ("ck_member_roles_role", "role IN ('lead', 'publicity', 'security', 'mediator')")}
AUDITED = {
    "cameras": ("camera", "device_id", "updated_at,updated_by,version", ""),
    "incidents": ("incident", "id", "updated_at,version", ""),
    "streets": ("street", "code", "", ""),
    "communities": ("community", "code", "updated_at", ""),
    "grids": ("grid", "code", "updated_at", ""),
    "members": ("member", "id", "", ""),
    "member_roles": ("member_role", "member_id@grid_code", "", ""),
    "users": ("user", "username", "", "password_hash"),
    "api_keys": ("api_key", "name", "", "key_sha256"),
    "categories": ("category", "code", "", ""),
    "programmes": ("programme", "code", "updated_at", ""),
    "incident_sources": ("source", "code", "updated_at", ""),
    "member_role_types": ("member_role_type", "code", "updated_at", ""),
}

AUDIT_FUNCTION = r"""
CREATE OR REPLACE FUNCTION gw_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_j jsonb;
    new_j jsonb;
    ignored text[] := string_to_array(TG_ARGV[2], ',');
    hidden text[] := string_to_array(TG_ARGV[3], ',');
    changed text[];
    obj text;
    k text;
BEGIN
    IF TG_OP <> 'INSERT' THEN old_j := to_jsonb(OLD); END IF;
    IF TG_OP <> 'DELETE' THEN new_j := to_jsonb(NEW); END IF;
    -- the key: one column, or several joined by '@' ('member_id@grid_code' → '17@510304001001001')
    SELECT string_agg(coalesce(new_j, old_j) ->> u.col, '@' ORDER BY u.n) INTO obj
      FROM unnest(string_to_array(TG_ARGV[1], '@')) WITH ORDINALITY AS u(col, n);
    IF TG_OP = 'UPDATE' THEN
        SELECT coalesce(array_agg(n.key ORDER BY n.key), '{}') INTO changed
          FROM jsonb_each(new_j) AS n
         WHERE n.value IS DISTINCT FROM old_j -> n.key AND NOT n.key = ANY(coalesce(ignored, '{}'));
        IF cardinality(changed) = 0 THEN
            RETURN NULL;
        END IF;
        SELECT jsonb_object_agg(key, value) INTO old_j FROM jsonb_each(old_j) WHERE key = ANY(changed);
        SELECT jsonb_object_agg(key, value) INTO new_j FROM jsonb_each(new_j) WHERE key = ANY(changed);
    END IF;
    FOREACH k IN ARRAY coalesce(hidden, '{}') LOOP
        IF old_j ? k THEN old_j := jsonb_set(old_j, ARRAY[k], '"(hidden)"'); END IF;
        IF new_j ? k THEN new_j := jsonb_set(new_j, ARRAY[k], '"(hidden)"'); END IF;
    END LOOP;
    INSERT INTO audit_log (at, actor, object_type, object_id, action, changed, before, after)
    VALUES (clock_timestamp(),
            left(coalesce(nullif(current_setting('gridwatch.actor', true), ''), 'db:' || session_user), 120),
            TG_ARGV[0], left(obj, 60), lower(TG_OP), changed, old_j, new_j);
    RETURN NULL;
END
$$;
"""


def upgrade() -> None:
    for table, csv_name, size, user_table, column in REF_TABLES:
        op.create_table(
            table,
            sa.Column("code", sa.String(size), nullable=False),
            sa.Column("name_zh", sa.String(40), nullable=False),
            sa.Column("name_en", sa.String(60), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
            sa.PrimaryKeyConstraint("code", name=f"pk_{table}"),
        )
        rows = [{"code": r["code"], "name_zh": r["name_zh"], "name_en": r["name_en"]}
                for r in reference.rows(csv_name)]
        op.bulk_insert(sa.table(table, sa.column("code"), sa.column("name_zh"), sa.column("name_en")), rows)
        op.drop_constraint(OLD_CHECKS[user_table][0], user_table, type_="check")
        op.create_foreign_key(f"fk_{user_table}_{column}_{table}", user_table, table, [column], ["code"])
    op.add_column("cameras", sa.Column("lifecycle", sa.String(8), server_default="active", nullable=False))
    op.create_check_constraint("ck_cameras_lifecycle", "cameras", "lifecycle IN ('planned', 'active', 'retired')")
    op.create_index("ix_cameras_lifecycle", "cameras", ["lifecycle"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("clock_timestamp()"), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("object_type", sa.String(20), nullable=False),
        sa.Column("object_id", sa.String(60), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("changed", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("before", postgresql.JSONB(), nullable=True),
        sa.Column("after", postgresql.JSONB(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_object", "audit_log", ["object_type", "object_id", "at"])
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor", "at"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.execute(AUDIT_FUNCTION)
    for table, (kind, key, ignored, hidden) in AUDITED.items():
        op.execute(f"CREATE TRIGGER gw_audit AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW "
                   f"EXECUTE FUNCTION gw_audit('{kind}', '{key}', '{ignored}', '{hidden}')")


def downgrade() -> None:
    for table in AUDITED:
        op.execute(f"DROP TRIGGER IF EXISTS gw_audit ON {table}")
    op.execute("DROP FUNCTION IF EXISTS gw_audit()")
    op.drop_table("audit_log")
    op.drop_index("ix_cameras_lifecycle", table_name="cameras")
    op.drop_constraint("ck_cameras_lifecycle", "cameras", type_="check")
    op.drop_column("cameras", "lifecycle")
    for table, _csv, _size, user_table, column in REF_TABLES:
        op.drop_constraint(f"fk_{user_table}_{column}_{table}", user_table, type_="foreignkey")
        op.create_check_constraint(OLD_CHECKS[user_table][0], user_table, OLD_CHECKS[user_table][1])
        op.drop_table(table)
