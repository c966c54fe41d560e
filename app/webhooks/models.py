"""The webhook delivery log (migration 0008_field_loop): one row per event to send, with its attempts."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

WEBHOOK_EVENTS = ("created", "dispatched", "due_soon", "overdue", "resolved", "closed")
DELIVERY_STATES = ("pending", "delivered", "failed")


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event: Mapped[str] = mapped_column(String(20))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), index=True)
    # one event is queued once: e.g. "created:42", "due_soon:42:<deadline>"
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    source_event_id: Mapped[int | None] = mapped_column(BigInteger)
    payload = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # who sent a failed delivery back to the queue, and when (``gridwatch webhooks retry``, the admin page)
    retried_by: Mapped[str | None] = mapped_column(String(60))
    retried_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint(f"event IN {WEBHOOK_EVENTS!r}", name="event"),
        CheckConstraint(f"status IN {DELIVERY_STATES!r}", name="status"),
        Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where="status = 'pending'"),
    )


class WebhookCursor(Base):
    """How far the webhook worker has read ``incident_events`` (one row; ``app.webhooks.worker.scan``).

    ``last_event_id``: every event up to it is settled (committed and queued, or rolled back): a later scan
    reads only after it. ``pending_id``/``pending_xmax``: the highest event id a scan saw and its snapshot's
    ``xmax``; once no transaction older than that ``xmax`` is running, no event up to ``pending_id`` can
    still appear, and the cursor moves there. ``started_at``: when the webhook was first configured; due
    soon and overdue are sent for deadlines crossed after it (no flood of history).
    """

    __tablename__ = "webhook_cursor"
    id: Mapped[int] = mapped_column(primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    pending_id: Mapped[int | None] = mapped_column(BigInteger)
    pending_xmax: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
