"""Photos of incidents (migration 0008_field_loop).

Stored in PostgreSQL (``bytea``), not under ``var/media``: a photo is written in the same transaction as the
report or action it belongs to (all or nothing), one backup holds everything, every web worker and host
sees the same files, and the only way out is the route that checks who may see the incident.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from camera_registry.models import district_code_column

#: before: what the reporter saw; after: the result, sent with ``resolve``
PHOTO_KINDS = ("before", "after")


class IncidentPhoto(Base):
    __tablename__ = "incident_photos"
    district_code: Mapped[str] = district_code_column()  # 0012: the district of the row (docs/scaling.md)
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("incident_events.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(10))
    content_type: Mapped[str] = mapped_column(String(40))
    byte_size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    thumb: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (CheckConstraint(f"kind IN {PHOTO_KINDS!r}", name="kind"),)
