"""Every change to a camera (摄像机) is kept: catalog events, full revisions, optimistic edits.

A revision (``camera_revisions``) holds the whole record after a change, so :func:`camera_as_of`
reads any past state back; an event (``camera_events``) says what happened (ON, OFF, VLOST,
DEFECT, ADD, DEL, UPDATE), when and by whom. Edits carry the version the editor saw
(``expected_version``): if another session changed the camera meanwhile, :class:`gis.errors.Conflict`
is raised and nothing is overwritten.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Callable

import pandas as pd
import shapely
from geoalchemy2 import WKBElement, WKTElement
from geoalchemy2.shape import to_shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from camera_registry.models import Camera, CameraEvent, CameraRevision
from camera_registry.schema import FIELDS, parse_value, validate_rows
from gis.errors import Conflict, InvalidData, NotFound, RowError

RECORD_FIELDS = tuple(f.name for f in FIELDS if f.name != "device_id")
SNAPSHOT_FIELDS = ("device_id", *RECORD_FIELDS, "grid_code", "community_code", "street_code")

Locate = Callable[[object, object], tuple]


def point(lon: float, lat: float) -> WKTElement:
    """A WGS-84 (EPSG:4326) point for the ``geom`` column."""
    return WKTElement(f"POINT({float(lon)!r} {float(lat)!r})", srid=4326)


def position(camera: Camera) -> tuple[float, float] | None:
    """(lon, lat) of a camera whether its geom came from the database or was just set."""
    g = camera.geom
    if g is None:
        return None
    if isinstance(g, WKBElement):
        p = to_shape(g)
    elif isinstance(g, WKTElement):
        p = shapely.from_wkt(g.data)
    else:
        p = shapely.from_wkt(str(g))
    return float(p.x), float(p.y)


def snapshot(camera: Camera) -> dict:
    """The record as JSON-ready values (dates as ISO text), with lon/lat and the version."""
    data = {}
    for name in SNAPSHOT_FIELDS:
        value = getattr(camera, name)
        data[name] = value.isoformat() if isinstance(value, date) else value
    lonlat = position(camera)
    data["lon"], data["lat"] = lonlat if lonlat else (None, None)
    data["version"] = camera.version
    return data


def _now(session: Session) -> datetime:
    # clock_timestamp, not now(): several changes inside one transaction must still be ordered in time
    return session.execute(select(func.clock_timestamp())).scalar_one()


def record_change(session: Session, camera: Camera, actor: str, event: str, note: str | None = None,
                  *, deleted: bool = False) -> CameraRevision:
    """Flush ``camera`` and store its revision and one event row; returns the revision."""
    session.flush()
    at = _now(session)
    session.add(CameraEvent(device_id=camera.device_id, event=event, at=at, actor=actor, note=note))
    rev = CameraRevision(device_id=camera.device_id, version=camera.version, at=at, actor=actor,
                         data=snapshot(camera), deleted=deleted)
    session.add(rev)
    session.flush()
    return rev


def _load(session: Session, device_id: str, *, lock: bool = True) -> Camera:
    stmt = select(Camera).where(Camera.device_id == device_id).execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update()
    camera = session.execute(stmt).scalar_one_or_none()
    if camera is None:
        raise NotFound(f"no camera {device_id!r} in the registry; check the ID (`gridwatch cameras list`)")
    return camera


def _flush_or_conflict(session: Session, device_id: str) -> None:
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise Conflict(f"camera {device_id} was changed by someone else meanwhile; reload it and retry") from None


def set_status(session: Session, device_id: str, status: str, actor: str, note: str | None = None) -> Camera:
    """Record a catalog status (ON, OFF, VLOST, DEFECT; 在线/离线 accepted) and its event."""
    try:
        status = parse_value("status", str(status).strip(), centre=None)
    except ValueError as exc:
        raise InvalidData(RowError(None, "status", str(exc))) from None
    camera = _load(session, device_id)
    if camera.status == status and note is None:
        return camera
    camera.status = status
    camera.updated_at = func.now()
    camera.updated_by = actor
    _flush_or_conflict(session, device_id)
    record_change(session, camera, actor, status, note)
    return camera


def update_camera(session: Session, device_id: str, changes: dict, *, expected_version: int, actor: str,
                  locate: Locate | None = None, note: str | None = None) -> Camera:
    """Change fields of one camera if it is still at ``expected_version`` (optimistic concurrency).

    Parameters
    ----------
    changes : dict
        Field name → new value (text or typed); ``lon``/``lat`` (WGS-84) move the camera. ``None`` clears.
    expected_version : int
        The version the editor read. If the stored one differs, :class:`~gis.errors.Conflict` is raised.
    locate : callable, optional
        ``(lon_array, lat_array) -> (grid_codes, community_codes)`` to re-derive the codes after a move;
        without it a moved camera's derived codes are cleared (``gridwatch regeocode`` refills them).

    Raises
    ------
    Conflict, NotFound, InvalidData
    """
    unknown = sorted(set(changes) - set(RECORD_FIELDS) - {"lon", "lat"})
    if unknown:
        raise InvalidData([RowError(None, k, "not an editable camera field") for k in unknown])
    camera = _load(session, device_id)
    if camera.version != expected_version:
        raise Conflict(f"camera {device_id} is at version {camera.version}, not {expected_version}: someone "
                       "changed it meanwhile; reload it and apply your change again")
    fields = {k: ("" if v is None else (v.isoformat() if isinstance(v, date) else str(v)))
              for k, v in changes.items() if k in RECORD_FIELDS}
    if "point_class" in fields or any(k in fields for k in ("install_date", "management_unit", "contact",
                                                              "record_days")):
        current = {n: getattr(camera, n) for n in ("point_class", "install_date", "management_unit", "contact",
                                                    "record_days")}
        for k, v in current.items():
            fields.setdefault(k, "" if v is None else (v.isoformat() if isinstance(v, date) else str(v)))
    fields.setdefault("device_id", device_id)
    fields.setdefault("name", camera.name)
    rows, errors = validate_rows(pd.DataFrame([fields]), [1], centre=None)
    errors = [RowError(None, e.field, e.reason) for e in errors]
    new_pos = _new_position(camera, changes, errors)
    if errors:
        raise InvalidData(errors, source=device_id)
    diff = {k: v for k, v in rows[0].items() if k in changes and getattr(camera, k) != v}
    if not diff and new_pos is None:
        return camera
    for k, v in diff.items():
        setattr(camera, k, v)
    if new_pos is not None:
        camera.geom = point(*new_pos)
        codes = (None, None)
        if locate is not None:
            g, c = locate([new_pos[0]], [new_pos[1]])
            codes = (g[0], c[0])
        camera.grid_code, camera.community_code = codes
        camera.street_code = codes[1][:9] if codes[1] else None
    camera.updated_at = func.now()
    camera.updated_by = actor
    _flush_or_conflict(session, device_id)
    changed = sorted(diff) + (["position"] if new_pos is not None else [])
    record_change(session, camera, actor, "UPDATE", note or "changed " + ", ".join(changed))
    return camera


def _new_position(camera: Camera, changes: dict, errors: list) -> tuple[float, float] | None:
    if "lon" not in changes and "lat" not in changes:
        return None
    old = position(camera)
    try:
        lon = float(changes.get("lon", old[0]))
        lat = float(changes.get("lat", old[1]))
    except (TypeError, ValueError):
        errors.append(RowError(None, "lon/lat", "not a number"))
        return None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        errors.append(RowError(None, "lon/lat", f"({lon}, {lat}) is not a WGS-84 position"))
        return None
    return None if (lon, lat) == old else (lon, lat)


def delete_camera(session: Session, device_id: str, actor: str, note: str | None = None) -> None:
    """Remove a camera; its DEL event and a revision marked deleted keep its last state."""
    camera = _load(session, device_id)
    record_change(session, camera, actor, "DEL", note, deleted=True)
    session.delete(camera)
    _flush_or_conflict(session, device_id)


def camera_as_of(session: Session, device_id: str, at: datetime) -> dict | None:
    """The camera's record as it stood at ``at`` (timezone-aware), or None if it did not exist then.

    Values as stored in the revision (``install_date`` back as a ``date``), plus ``lon``, ``lat``
    and ``version``.
    """
    rev = session.execute(
        select(CameraRevision).where(CameraRevision.device_id == device_id, CameraRevision.at <= at)
        .order_by(CameraRevision.at.desc(), CameraRevision.id.desc()).limit(1)).scalar_one_or_none()
    if rev is None or rev.deleted:
        return None
    data = dict(rev.data)
    if data.get("install_date"):
        data["install_date"] = date.fromisoformat(data["install_date"])
    return data


def events(session: Session, device_id: str) -> list[CameraEvent]:
    """The camera's events, oldest first."""
    return list(session.execute(select(CameraEvent).where(CameraEvent.device_id == device_id)
                                .order_by(CameraEvent.at, CameraEvent.id)).scalars())


def revisions(session: Session, device_id: str) -> list[CameraRevision]:
    """The camera's revisions, oldest first."""
    return list(session.execute(select(CameraRevision).where(CameraRevision.device_id == device_id)
                                .order_by(CameraRevision.at, CameraRevision.id)).scalars())

