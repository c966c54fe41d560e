"""Patrol track points (巡查轨迹) of grid members."""
from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import DateTime, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from camera_registry.models import district_code_column


class PatrolPoint(Base):
    __tablename__ = "patrol_points"
    district_code: Mapped[str] = district_code_column()  # 0012: the district of the row (docs/scaling.md)
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    track_id: Mapped[str | None] = mapped_column(String(60))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    # 0008_field_loop: the phone's reported accuracy (metres) for points sent from the browser
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    __table_args__ = (Index("ix_patrol_points_member_at", "member_id", "at", unique=True),
                      # 0014_patrol_retention: the retention's delete by time (points arrive in time order)
                      Index("ix_patrol_points_at_brin", "at", postgresql_using="brin"))
