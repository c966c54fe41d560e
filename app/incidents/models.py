"""Grid incidents (网格事件), their categories and their workflow events."""
from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Column, Date, DateTime, Float, ForeignKey, Index,
                        Integer, PrimaryKeyConstraint, SmallInteger, String, Table, Text, func, text)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base
from camera_registry.models import district_code_column
from data import reference

STATES = ("reported", "accepted", "voided", "dispatched", "in_progress", "resolved", "closed")
OPEN_STATES = ("reported", "accepted", "dispatched", "in_progress", "resolved")
#: where an incident came from (事件来源), as data/reference/sources.csv lists them (table ``incident_sources``)
SOURCES = reference.codes("sources.csv")
PRIORITIES = ("urgent", "high", "normal", "low")
#: ``incidents.description`` is Text (no size in the schema); an incident's description is a short message,
#: and every path that stores one (import, Open311, the report form) refuses longer text, never cuts it
DESCRIPTION_MAX = 4000


class Category(Base):
    """An incident category (事件类别) with its deadline per priority, loaded from data/reference."""

    __tablename__ = "categories"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    weight: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    urgent_h: Mapped[float] = mapped_column(Float)
    high_h: Mapped[float] = mapped_column(Float)
    normal_h: Mapped[float] = mapped_column(Float)
    low_h: Mapped[float] = mapped_column(Float)
    # disputes, security hazards…: anonymous Open311 reads never show their text or exact spot (0007_security)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    def deadline_hours(self, priority: str) -> float:
        return float(getattr(self, f"{priority}_h"))


class IncidentSource(Base):
    """An incident source (事件来源), seeded from data/reference/sources.csv (0009_console). The codes are the
    release's (Open311 reports are ``public``, field reports ``patrol``); their names are the district's."""

    __tablename__ = "incident_sources"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Incident(Base):
    """A grid incident. Its state is the result of its events (``incident_events``)."""

    __tablename__ = "incidents"
    district_code: Mapped[str] = district_code_column()  # 0012: the district of the row (docs/scaling.md)
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(60), unique=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"), index=True)
    source: Mapped[str] = mapped_column(ForeignKey("incident_sources.code"))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    address: Mapped[str | None] = mapped_column(String(200))
    media_url: Mapped[str | None] = mapped_column(String(500))  # migration 0005_incidents
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    community_code: Mapped[str | None] = mapped_column(String(12), index=True)
    priority: Mapped[str] = mapped_column(String(10), default="normal", server_default="normal")
    reporter_name: Mapped[str | None] = mapped_column(String(60))
    reporter_phone: Mapped[str | None] = mapped_column(String(30))
    reporter_email: Mapped[str | None] = mapped_column(String(120))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    state: Mapped[str] = mapped_column(String(12), default="reported", server_default="reported", index=True)
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    # 0013_stats: on_time_rate and the on-time chart filter on the time of dispatch
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(),
                                                 onupdate=func.now(), index=True)  # index: 0016
    # 0016_live_cursor: the transaction that last wrote the row (a trigger sets it; the live map's cursor)
    changed_xid: Mapped[int | None] = mapped_column(BigInteger, index=True)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    duplicate_status: Mapped[str | None] = mapped_column(String(12))  # suspected | confirmed | rejected
    # 0008_field_loop: every change adds one (an action names the version it saw: a stale one is a 409)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # 0008_field_loop: the key a client generated for one report, so a retried send finds what it created
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    events: Mapped[list["IncidentEvent"]] = relationship(back_populates="incident", cascade="all, delete-orphan",
                                                         order_by="IncidentEvent.id")
    __table_args__ = (
        CheckConstraint(f"state IN {STATES!r}", name="state"),
        CheckConstraint(f"priority IN {PRIORITIES!r}", name="priority"),
        CheckConstraint("grid_code IS NULL OR grid_code ~ '^[0-9]{15}$'", name="grid_code_format"),
        CheckConstraint("community_code IS NULL OR community_code ~ '^[0-9]{12}$'", name="community_code_format"),
        CheckConstraint("duplicate_status IS NULL OR duplicate_status IN ('suspected', 'confirmed', 'rejected')",
                        name="duplicate_status"),
        Index("ix_incidents_open_deadline", "deadline", postgresql_where=f"state IN {OPEN_STATES!r}"),
    )


class IncidentEvent(Base):
    """One step of an incident's timeline: who did what, when, and why."""

    __tablename__ = "incident_events"
    district_code: Mapped[str] = district_code_column()  # 0012: the district of the row (docs/scaling.md)
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str | None] = mapped_column(String(12))
    to_state: Mapped[str | None] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(Text)
    # 0008_field_loop: a note the system writes is a message key of app.messages.loop and its values, so the
    # timeline shows it in the reader's language (``note`` keeps the Chinese text for exports and the CLI)
    note_key: Mapped[str | None] = mapped_column(String(40))
    note_args = mapped_column(JSONB)
    incident: Mapped[Incident] = relationship(back_populates="events")


# -- 0013_stats: the monthly roll-ups of the statistics, kept by triggers on ``incidents`` (docs/dashboards.md) --
#: classes of hours from report to close of the resolution-time chart (``width_bucket`` edges): the roll-up
#: keeps one column per class, ``b1`` … ``b7`` (app.dashboards.stats reads them)
RESOLUTION_BINS_H = (0, 2, 8, 24, 48, 72, 168)
RESOLUTION_COLUMNS = tuple(f"b{i}" for i in range(1, len(RESOLUTION_BINS_H) + 1))

stats_zone = Table(
    "stats_zone", Base.metadata,
    Column("id", SmallInteger, server_default=text("1"), nullable=False),
    Column("zone", Text, nullable=False),
    CheckConstraint("id = 1", name="one_row"),
    PrimaryKeyConstraint("id", name="pk_stats_zone"),
)

def XACT() -> Column:
    """The transaction whose changes a roll-up row counts (``txid_current()``; 0: folded totals, 0015): part of
    the key, so concurrent writers never upsert the same row; a reader sums the rows of a key."""
    return Column("xact", BigInteger, server_default="0", nullable=False)


stats_incidents_monthly = Table(
    "stats_incidents_monthly", Base.metadata,
    Column("month", Date, nullable=False),  # first day of the month of report, in the zone of stats_zone
    Column("grid_code", String(15)),
    Column("community_code", String(12)),
    Column("category_code", String(40), nullable=False),
    Column("n", Integer, server_default="0", nullable=False),
    *[Column(c, Integer, server_default="0", nullable=False) for c in RESOLUTION_COLUMNS],
    XACT(),
    Index("ux_stats_incidents_monthly_key", "month", "grid_code", "community_code", "category_code", "xact",
          unique=True,
          postgresql_nulls_not_distinct=True),
)

stats_dispatch_monthly = Table(
    "stats_dispatch_monthly", Base.metadata,
    Column("month", Date, nullable=False),  # first day of the month of dispatch
    Column("grid_code", String(15)),
    Column("community_code", String(12)),
    Column("closed", Integer, server_default="0", nullable=False),
    Column("on_time", Integer, server_default="0", nullable=False),
    XACT(),
    Index("ux_stats_dispatch_monthly_key", "month", "grid_code", "community_code", "xact", unique=True,
          postgresql_nulls_not_distinct=True),
)
