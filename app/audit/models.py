"""``audit_log``: one row per inserted, changed or deleted record of an audited table (migration 0009_console).

The rows are written by a trigger (``gw_audit``) on each table of :data:`AUDITED`, so no path that writes
(pages, APIs, importers, the CLI, an administrator's psql) can change a record without its row. The actor
is the transaction's ``gridwatch.actor`` setting (``app.db`` sets it from the logged-in account, the API
key or the CLI's user); a change made outside gridwatch is recorded as ``db:<database role>``.

An UPDATE row keeps only the columns that changed (``before`` → ``after``); an INSERT keeps the new row,
a DELETE the old one. Geometry is kept as GeoJSON. Secrets are never copied: a changed password or key
shows as ``"(hidden)"`` on both sides.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from camera_registry.models import district_code_column

#: table → (object type shown and searched, key column, columns whose changes alone are not worth a row,
#: columns whose values are never copied). The key may be several columns joined by :data:`KEY_JOIN`: the
#: object id is then their values joined by it (a member's role in a grid: ``17@510304001001001``, found
#: by the member's id or the grid's code). The migration creates one trigger per entry; the audit page
#: names the object types by ``app.labels`` kind ``audit_object``.
AUDITED: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "cameras": ("camera", "device_id", ("updated_at", "updated_by", "version"), ()),
    "incidents": ("incident", "id", ("updated_at", "version", "changed_xid"), ()),
    "streets": ("street", "code", (), ()),
    "communities": ("community", "code", ("updated_at",), ()),
    "grids": ("grid", "code", ("updated_at",), ()),
    "members": ("member", "id", (), ()),
    "member_roles": ("member_role", "member_id@grid_code", (), ()),
    "users": ("user", "username", (), ("password_hash",)),
    "api_keys": ("api_key", "name", (), ("key_sha256",)),
    "categories": ("category", "code", (), ()),
    "programmes": ("programme", "code", ("updated_at",), ()),
    "catalog_nodes": ("catalog_node", "platform@node_id", ("updated_at",), ()),
    "incident_sources": ("source", "code", ("updated_at",), ()),
    "member_role_types": ("member_role_type", "code", ("updated_at",), ()),
}
#: what joins the columns of a composite key, and their values in the object id
KEY_JOIN = "@"
AUDIT_ACTIONS = ("insert", "update", "delete")
#: the object types, plus failed log-ins (read from ``login_attempts``, not from this table)
#: ``patrol_points``: not audited row by row (millions a day); a retention prune writes one row for what it removed
PRUNED_PATROLS = "patrol_points"
OBJECT_TYPES = tuple(v[0] for v in AUDITED.values()) + ("login", PRUNED_PATROLS)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    district_code: Mapped[str] = district_code_column()  # 0012: the district of the row (docs/scaling.md)
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.clock_timestamp())
    actor: Mapped[str] = mapped_column(String(120))
    object_type: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(8))
    changed = mapped_column(ARRAY(Text))
    before = mapped_column(JSONB)
    after = mapped_column(JSONB)
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id", "at"),
                      Index("ix_audit_log_actor_at", "actor", "at"),
                      Index("ix_audit_log_at", "at"))
