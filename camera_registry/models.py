"""Camera tables: the current record, status events and the edit history.

Grid, community and street codes on a camera are derived values computed by ``gis.geocode``, not
foreign keys: the registry does not depend on the grid tables.
"""
from __future__ import annotations

from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (CheckConstraint, Date, DateTime, Float, ForeignKey, Integer, MetaData, SmallInteger,
                        String, Text, func, text)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from data import reference

#: programmes (建设工程) as data/reference/programmes.csv lists them (table ``programmes``)
PROGRAMMES = reference.codes("programmes.csv")
STATUSES = ("ON", "OFF", "VLOST", "DEFECT")
EVENTS = ("ON", "OFF", "VLOST", "DEFECT", "ADD", "DEL", "UPDATE")
PTZ_TYPES = (0, 1, 2, 3, 4, 5, 6, 7)
POINT_CLASSES = (1, 2, 3, 9)
# The names of those codes (中文, English), defined once: imports accept the Chinese ones
# (``camera_registry.schema`` aliases) and the interface shows them (``app.labels``).
# the shipped names of the programmes (an administrator may rename them in the database: app.reference)
PROGRAMME_NAMES = reference.names("programmes.csv")
STATUS_NAMES = {"ON": ("在线", "Online"), "OFF": ("离线", "Offline"), "VLOST": ("视频丢失", "Video lost"),
                "DEFECT": ("故障", "Defect")}
EVENT_NAMES = {**STATUS_NAMES, "ADD": ("新增", "Added"), "DEL": ("删除", "Deleted"), "UPDATE": ("修改", "Updated")}
PTZ_NAMES = {0: ("未知", "Unknown"),  # GB/T 28181 PTZType; 0 is what platforms send when they do not know
             1: ("球机", "Dome"), 2: ("半球", "Hemisphere"), 3: ("固定枪机", "Fixed bullet"),
             4: ("遥控枪机", "Remote bullet"), 5: ("遥控半球", "Remote hemisphere"),
             # GB/T 28181-2022: the channels of a multi-lens device
             6: ("多目设备全景拼接通道", "Multi-lens panorama channel"),
             7: ("多目设备分割通道", "Multi-lens split channel")}
#: GB/T 28181 Parental / Secrecy (0/1) as the interface names them
PARENTAL_NAMES = {0: ("无子设备", "No children"), 1: ("有子设备", "Has children")}
SECRECY_NAMES = {0: ("不涉密", "Not classified"), 1: ("涉密", "Classified")}
#: a camera's place in the registry (0009_console), apart from its catalog status: ``planned`` (adopted from
#: the planner, not built: never counts as coverage), ``active`` (built; its status says whether it works),
#: ``retired`` (taken out of service; kept with its history instead of being deleted)
LIFECYCLES = ("planned", "active", "retired")
LIFECYCLE_NAMES = {"planned": ("规划中", "Planned"), "active": ("在用", "In service"), "retired": ("已退役", "Retired")}
POINT_CLASS_NAMES = {1: ("一类", "Class 1"), 2: ("二类", "Class 2"), 3: ("三类", "Class 3"), 9: ("其他", "Other")}


def district_code_column():
    """``district_code`` of a big table (migration 0012): the district a row belongs to, filled by the database
    (``gw_district_code()``, the deployment's code), never by a writer. The one definition every model uses."""
    return mapped_column(String(6), server_default=text("gw_district_code()"), nullable=False)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


class Programme(Base):
    """A programme (建设工程) a camera was built under; seeded from data/reference/programmes.csv (0009_console).
    The codes are the release's; their names are the district's to edit."""

    __tablename__ = "programmes"
    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(60))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Camera(Base):
    """A video point (GB/T 28181 catalog item) with what coverage analysis needs."""

    __tablename__ = "cameras"
    district_code: Mapped[str] = district_code_column()  # 0012: the district of the row (docs/scaling.md)
    device_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    point_name: Mapped[str | None] = mapped_column(String(100))
    programme: Mapped[str] = mapped_column(ForeignKey("programmes.code"), default="skynet", server_default="skynet",
                                           index=True)
    point_class: Mapped[int | None] = mapped_column(SmallInteger)
    ptz_type: Mapped[int | None] = mapped_column(SmallInteger)
    function_types: Mapped[str | None] = mapped_column(String(40))
    height_m: Mapped[float | None] = mapped_column(Float)
    azimuth: Mapped[float | None] = mapped_column(Float)
    fov: Mapped[float | None] = mapped_column(Float)
    vfov: Mapped[float | None] = mapped_column(Float)
    range_m: Mapped[float | None] = mapped_column(Float)
    install_date: Mapped[date | None] = mapped_column(Date)
    management_unit: Mapped[str | None] = mapped_column(String(100))
    contact: Mapped[str | None] = mapped_column(String(60))
    record_days: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(String(200))
    # GB/T 28181 catalog attributes (0011_catalog), kept as the platform sent them
    manufacturer: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    owner: Mapped[str | None] = mapped_column(String(100))
    civil_code: Mapped[str | None] = mapped_column(String(12))
    parent_id: Mapped[str | None] = mapped_column(String(20), index=True)
    business_group_id: Mapped[str | None] = mapped_column(String(20), index=True)
    parental: Mapped[int | None] = mapped_column(SmallInteger)
    secrecy: Mapped[int | None] = mapped_column(SmallInteger)
    direction_type: Mapped[int | None] = mapped_column(SmallInteger)
    # the azimuth was derived from direction_type (±22.5°), not surveyed
    azimuth_approx: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # the video platform the camera comes from (its SIP ID, ``catalog_nodes.platform``); None = from files only
    platform: Mapped[str | None] = mapped_column(String(20), index=True)
    source_crs: Mapped[str] = mapped_column(String(20), default="wgs84", server_default="wgs84")
    status: Mapped[str] = mapped_column(String(8), default="ON", server_default="ON", index=True)
    lifecycle: Mapped[str] = mapped_column(String(8), default="active", server_default="active", index=True)
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    community_code: Mapped[str | None] = mapped_column(String(12), index=True)
    # what the record says (import column or management unit), as opposed to the geocoded community_code
    declared_community_code: Mapped[str | None] = mapped_column(String(12))
    street_code: Mapped[str | None] = mapped_column(String(9), index=True)
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1", nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by: Mapped[str | None] = mapped_column(String(60))

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("device_id ~ '^[0-9]{20}$'", name="device_id_format"),
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        CheckConstraint(f"lifecycle IN {LIFECYCLES!r}", name="lifecycle"),
        CheckConstraint("ptz_type IS NULL OR ptz_type BETWEEN 0 AND 7", name="ptz_type"),
        CheckConstraint("parental IS NULL OR parental IN (0, 1)", name="parental"),
        CheckConstraint("secrecy IS NULL OR secrecy IN (0, 1)", name="secrecy"),
        CheckConstraint("direction_type IS NULL OR direction_type BETWEEN 1 AND 8", name="direction_type"),
        CheckConstraint("point_class IS NULL OR point_class IN (1, 2, 3, 9)", name="point_class"),
        CheckConstraint("azimuth IS NULL OR (azimuth >= 0 AND azimuth <= 360)", name="azimuth"),
        CheckConstraint("fov IS NULL OR (fov > 0 AND fov <= 360)", name="fov"),
        CheckConstraint("range_m IS NULL OR range_m > 0", name="range"),
        CheckConstraint("grid_code IS NULL OR grid_code ~ '^[0-9]{15}$'", name="grid_code_format"),
        CheckConstraint("community_code IS NULL OR community_code ~ '^[0-9]{12}$'", name="community_code_format"),
        CheckConstraint("street_code IS NULL OR street_code ~ '^[0-9]{9}$'", name="street_code_format"),
        CheckConstraint("declared_community_code IS NULL OR declared_community_code ~ '^[0-9]{12}$'",
                        name="declared_community_code_format"),
    )


class CameraEvent(Base):
    """A catalog event (ON, OFF, VLOST, DEFECT, ADD, DEL, UPDATE) with time and actor."""

    __tablename__ = "camera_events"
    district_code: Mapped[str] = district_code_column()  # 0012: the district of the row (docs/scaling.md)
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(String(20), index=True)
    event: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(60))
    note: Mapped[str | None] = mapped_column(Text)
    # where the event came from: a video platform's SIP ID for catalog syncs and Notify (0011_catalog)
    source: Mapped[str | None] = mapped_column(String(20))
    __table_args__ = (CheckConstraint(f"event IN {EVENTS!r}", name="event"),)


class CameraRevision(Base):
    """The full record of a camera after each change: any past state can be read back."""

    __tablename__ = "camera_revisions"
    district_code: Mapped[str] = district_code_column()  # 0012: the district of the row (docs/scaling.md)
    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(String(20), index=True)
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(String(60))
    data: Mapped[dict] = mapped_column(JSONB)
    deleted: Mapped[bool] = mapped_column(default=False, server_default=text("false"))


class CatalogNode(Base):
    """A node of a video platform's catalog tree that is not a device (0011_catalog): an administrative area
    (an ID of 2–8 digits), a SIP server (type 200), a business group (215) or a virtual organisation (216).
    Cameras point into the tree by ``parent_id`` / ``business_group_id``."""

    __tablename__ = "catalog_nodes"
    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[str | None] = mapped_column(String(20))
    business_group_id: Mapped[str | None] = mapped_column(String(20))
    civil_code: Mapped[str | None] = mapped_column(String(12))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        CheckConstraint("kind IN ('area', 'sip', 'group', 'virtual')", name="kind"),
        CheckConstraint("node_id ~ '^[0-9]{2,20}$'", name="node_id_format"),
    )
