"""Streets (街道/镇), communities (社区), grids (网格), grid members (网格员) and point layers."""
from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (Boolean, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, String,
                        UniqueConstraint, func, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base
from data import reference
from gis.codes import COMMUNITY, GRID, STREET

STREET_KINDS = ("street", "town", "township")
#: a grid member's roles (网格员的职务), as data/reference/roles.csv lists them (table ``member_role_types``);
#: ``lead`` (网格长) is the one each grid has exactly one of
ROLES = reference.codes("roles.csv")
LEAD = "lead"


class Street(Base):
    """A street or town (街道/镇/乡), 9-digit code."""

    __tablename__ = "streets"
    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(10))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
    __table_args__ = (
        CheckConstraint(f"code {STREET.sql_check}", name="code_format"),
        CheckConstraint(f"kind IN {STREET_KINDS!r}", name="kind"),
    )


class Community(Base):
    """A community (社区), 12-digit code under its street."""

    __tablename__ = "communities"
    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    street_code: Mapped[str] = mapped_column(ForeignKey("streets.code"), index=True)
    urban: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    households: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    population: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
    # set by a trigger on every change (migration 0006): the geocoding index keys on it
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        CheckConstraint(f"code {COMMUNITY.sql_check}", name="code_format"),
        CheckConstraint("left(code, 9) = street_code", name="code_under_street"),
    )


class Grid(Base):
    """A grid (网格), 15-digit code = community code + serial."""

    __tablename__ = "grids"
    code: Mapped[str] = mapped_column(String(15), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    community_code: Mapped[str] = mapped_column(ForeignKey("communities.code"), index=True)
    households: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    population: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        CheckConstraint(f"code {GRID.sql_check}", name="code_format"),
        CheckConstraint("left(code, 12) = community_code", name="code_under_community"),
    )


class Member(Base):
    """A grid member (网格员), managed under their real name."""

    __tablename__ = "members"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    roles: Mapped[list["MemberRole"]] = relationship(back_populates="member", cascade="all, delete-orphan")


class MemberRoleType(Base):
    """A member role (职务), seeded from data/reference/roles.csv (0009_console); names editable, codes fixed."""

    __tablename__ = "member_role_types"
    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MemberRole(Base):
    """One role of one member in one grid (one grid, many members; one member, many roles)."""

    __tablename__ = "member_roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    grid_code: Mapped[str] = mapped_column(ForeignKey("grids.code", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(ForeignKey("member_role_types.code"))
    member: Mapped[Member] = relationship(back_populates="roles")
    __table_args__ = (
        UniqueConstraint("member_id", "grid_code", "role", name="uq_member_roles_member_grid_role"),
        Index("uq_member_roles_one_lead", "grid_code", unique=True, postgresql_where=text(f"role = '{LEAD}'")),
    )


class Road(Base):
    __tablename__ = "roads"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(60))
    road_class: Mapped[str] = mapped_column(String(20))
    geom = mapped_column(Geometry("LINESTRING", srid=4326, spatial_index=True), nullable=False)


class Building(Base):
    __tablename__ = "buildings"
    id: Mapped[int] = mapped_column(primary_key=True)
    height_m: Mapped[float | None] = mapped_column(Float)
    geom = mapped_column(Geometry("POLYGON", srid=4326, spatial_index=True), nullable=False)


class ServiceCentre(Base):
    """A community service centre (党群服务中心)."""

    __tablename__ = "service_centres"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    community_code: Mapped[str | None] = mapped_column(String(12), index=True)
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)


class RenovationSite(Base):
    """An old-compound renovation site (老旧小区改造)."""

    __tablename__ = "renovation_sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    community_code: Mapped[str | None] = mapped_column(String(12), index=True)
    households: Mapped[int | None] = mapped_column(Integer)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
