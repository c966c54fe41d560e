"""The district this database serves (``gw_deployment``, migration 0012): one row, written by
``gridwatch db upgrade`` from the setting ``district_code``; the default of every ``district_code`` column."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, SmallInteger, String, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base
from gis.errors import Conflict


class Deployment(Base):
    __tablename__ = "gw_deployment"
    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default=text("1"))
    district_code: Mapped[str] = mapped_column(String(6))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),
                      CheckConstraint("district_code ~ '^[0-9]{6}$'", name="district_code_format"))


def record_district(session: Session, code: str) -> str:
    """Make ``code`` the district this database serves, or refuse (:class:`Conflict`) when it serves another:
    its rows carry that code, and a deployment never silently relabels them."""
    stored = session.scalar(select(Deployment.district_code).where(Deployment.id == 1))
    if stored is None:
        session.add(Deployment(id=1, district_code=code))
        session.flush()
        return code
    if stored != code:
        raise Conflict(f"district_code: this database serves district {stored}, the settings say {code}; "
                       f"set district_code = \"{stored}\" or point database_url at {code}'s database")
    return stored


def served_district(session: Session) -> str | None:
    return session.scalar(select(Deployment.district_code).where(Deployment.id == 1))
