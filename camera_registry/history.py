"""Every change to a camera (摄像机) is kept: catalog events, full revisions, optimistic edits.

A revision (``camera_revisions``) holds the whole record after a change, so :func:`camera_as_of`
reads any past state back; an event (``camera_events``) says what happened (ON, OFF, VLOST,
DEFECT, ADD, DEL, UPDATE), when and by whom. Edits carry the version the editor saw
(``expected_version``): if another session changed the camera meanwhile, :class:`gis.errors.Conflict`
is raised and nothing is overwritten.

A camera's lifecycle (``planned`` → ``active`` → ``retired``, ``camera_registry.models.LIFECYCLES``) is
changed only here: :func:`set_status` ON commissions a planned camera, :func:`retire_camera` retires one
(a DEL event; the record and its history stay, read-only). Every function validates with
``camera_registry.schema.validate_rows``, the importer's own validator.
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
from camera_registry.schema import BY_NAME, FIELDS, parse_value, validate_rows
from camera_registry.spacing import check_spacing
from gis.district import District
from gis.errors import Conflict, IllegalTransition, InvalidData, NotFound, RowError

RECORD_FIELDS = tuple(f.name for f in FIELDS if f.name != "device_id")
SNAPSHOT_FIELDS = ("device_id", *RECORD_FIELDS, "lifecycle", "grid_code", "community_code", "street_code")
#: the lifecycle a camera may be added in (``retired`` is reached only by :func:`retire_camera`)
ADD_LIFECYCLES = ("planned", "active")

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
                  *, deleted: bool = False, source: str | None = None) -> CameraRevision:
    """Flush ``camera`` and store its revision and one event row; returns the revision. ``source`` is the video
    platform (its SIP ID) the change came from, for catalog syncs and Notify (``camera_events.source``)."""
    session.flush()
    at = _now(session)
    session.add(CameraEvent(device_id=camera.device_id, event=event, at=at, actor=actor, note=note, source=source))
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


def check_writable(camera: Camera) -> None:
    """Raise IllegalTransition (409) for a retired camera: its record is kept as it was."""
    if camera.lifecycle == "retired":
        raise IllegalTransition(f"camera {camera.device_id} is retired: its record and history are kept as they "
                                "were and cannot be changed")


def _check_version(camera: Camera, expected_version: int | None) -> None:
    if expected_version is not None and camera.version != expected_version:
        raise Conflict(f"camera {camera.device_id} is at version {camera.version}, not {expected_version}: someone "
                       "changed it meanwhile; reload it and apply your change again")


def set_status(session: Session, device_id: str, status: str, actor: str, note: str | None = None, *,
               expected_version: int | None = None, centre: str | None = None,
               source: str | None = None) -> Camera:
    """Record a catalog status (ON, OFF, VLOST, DEFECT; 在线/离线 accepted) and its event.

    ON on a *planned* camera commissions it (lifecycle → ``active``: from then on it counts as coverage),
    but only once it has its installed device's ID: under a provisional one
    (``camera_registry.planned.is_provisional`` of ``centre``, the setting ``camera_centre_code``; without
    it the ID's own centre code, digits 1–8) commissioning raises :class:`~gis.errors.IllegalTransition`
    naming ``gridwatch coverage replace-id``. Who may commission is the caller's check (the API asks
    ``camera.plan``). A retired camera's status cannot change (:class:`~gis.errors.IllegalTransition`); with
    ``expected_version`` a camera changed meanwhile raises :class:`~gis.errors.Conflict`.
    """
    try:
        status = parse_value("status", str(status).strip(), centre=None)
    except ValueError as exc:
        raise InvalidData(RowError(None, "status", str(exc))) from None
    camera = _load(session, device_id)
    check_writable(camera)
    _check_version(camera, expected_version)
    commission = camera.lifecycle == "planned" and status == "ON"
    if commission:
        from camera_registry.planned import is_provisional  # planned builds on this module

        if is_provisional(camera.device_id, centre or camera.device_id[:8]):
            raise IllegalTransition(
                f"camera {device_id} is planned and still has its provisional ID: it cannot be put into service "
                "(ON) under it; once the device is installed give it the device's ID "
                f"(`gridwatch coverage replace-id {device_id} <installed ID>`), then set it ON")
    if camera.status == status and note is None and not commission:
        return camera
    camera.status = status
    if commission:
        camera.lifecycle = "active"
        note = f"{note}; commissioned (planned → active)" if note else "commissioned (planned → active)"
    camera.updated_at = func.now()
    camera.updated_by = actor
    _flush_or_conflict(session, device_id)
    record_change(session, camera, actor, status, note, source=source)
    return camera


def _position_error(lon: float, lat: float, district: District | None, locate: Locate | None,
                    field: str = "lon/lat") -> tuple[RowError | None, tuple]:
    """(problem, (grid_code, community_code)) of a WGS-84 position: outside the district's extent (with its
    margin, ``gis.crs.parse_coordinates``, as the importer checks) or outside every community.

    (The spacing to the other cameras is :func:`camera_registry.spacing.check_spacing`'s, checked after.)"""
    if district is not None:
        from gis.crs import parse_coordinates

        _x, _y, errors, _ok = parse_coordinates([lon], [lat], [None], crs="wgs84", bbox=tuple(district.bbox),
                                                margin_m=district.margin_m, fields=(field, field))
        if errors:
            return RowError(None, field, errors[0].reason), (None, None)
    if locate is None:
        return None, (None, None)
    g, c = locate([lon], [lat])
    if c[0] is None:
        return RowError(None, field, f"({lon:.6f}, {lat:.6f}) lies outside every community of the district"), \
            (None, None)
    return None, (g[0], c[0])


def _text(value) -> str:
    return "" if value is None else (value.isoformat() if isinstance(value, date) else str(value))


def update_camera(session: Session, device_id: str, changes: dict, *, expected_version: int, actor: str,
                  locate: Locate | None = None, note: str | None = None, district: District | None = None,
                  min_spacing_m: float = 0.0) -> Camera:
    """Change fields of one camera if it is still at ``expected_version`` (optimistic concurrency).

    Parameters
    ----------
    changes : dict
        Field name → new value (text or typed); ``lon``/``lat`` (WGS-84) move the camera. ``None`` clears.
    expected_version : int
        The version the editor read. If the stored one differs, :class:`~gis.errors.Conflict` is raised.
    locate : callable, optional
        ``(lon_array, lat_array) -> (grid_codes, community_codes)`` to re-derive the codes after a move
        (``app.geocoding.locate_codes``); a move outside every community is then refused. Without it a moved
        camera's derived codes are cleared (``gridwatch regeocode`` refills them).
    district : gis.district.District, optional
        The served district: its GB/T 28181 centre code checks ``declared_community_code`` as the importer
        does, and a move must stay inside its extent (with its margin).
    min_spacing_m : float
        A move closer than this (m) to another stored camera is refused as a probable duplicate, as the
        importer refuses a row (setting ``camera_min_spacing_m``; 0, the default, checks nothing).

    Raises
    ------
    Conflict, NotFound, InvalidData, IllegalTransition (a retired camera)
    """
    unknown = sorted(set(changes) - set(RECORD_FIELDS) - {"lon", "lat"})
    if unknown:
        raise InvalidData([RowError(None, k, "not an editable camera field") for k in unknown])
    camera = _load(session, device_id)
    check_writable(camera)
    _check_version(camera, expected_version)
    fields = {k: _text(v) for k, v in changes.items() if k in RECORD_FIELDS}
    if "point_class" in fields or any(k in fields for k in ("install_date", "management_unit", "contact",
                                                              "record_days")):
        for k in ("point_class", "install_date", "management_unit", "contact", "record_days"):
            fields.setdefault(k, _text(getattr(camera, k)))
    fields.setdefault("device_id", device_id)
    fields.setdefault("name", camera.name)
    centre = district.camera_prefixes if district is not None else None
    rows, errors = validate_rows(pd.DataFrame([fields]), [1], centre=centre)
    errors = [RowError(None, e.field, e.reason) for e in errors]
    new_pos = _new_position(camera, changes, errors)
    codes = (None, None)
    if new_pos is not None and not errors:
        problem, codes = _position_error(*new_pos, district, locate)
        errors += [problem] if problem is not None else \
            check_spacing(session, device_id, *new_pos, min_spacing_m)
    if errors:
        raise InvalidData(errors, source=device_id)
    diff = {k: v for k, v in rows[0].items() if k in changes and getattr(camera, k) != v}
    for k in [k for k, v in diff.items() if v is None and k in NOT_NULL]:
        raise InvalidData(RowError(None, k, f"cannot be cleared: every camera has a {k} ({BY_NAME[k].zh})"),
                          source=device_id)
    if not diff and new_pos is None:
        return camera
    for k, v in diff.items():
        setattr(camera, k, v)
    if new_pos is not None:
        camera.geom = point(*new_pos)
        camera.grid_code, camera.community_code = codes
        camera.street_code = codes[1][:9] if codes[1] else None
    camera.updated_at = func.now()
    camera.updated_by = actor
    _flush_or_conflict(session, device_id)
    changed = sorted(diff) + (["position"] if new_pos is not None else [])
    record_change(session, camera, actor, "UPDATE", note or "changed " + ", ".join(changed))
    return camera


#: columns that are NOT NULL in ``cameras`` besides the required fields (an edit may not clear them)
NOT_NULL = ("programme", "status", "source_crs")


def add_camera(session: Session, values: dict, *, actor: str, district: District | None = None,
               locate: Locate | None = None, lifecycle: str = "active", note: str | None = None,
               min_spacing_m: float = 0.0) -> Camera:
    """Add one camera (an ADD event and its first revision), validated as the importer validates a row.

    Parameters
    ----------
    values : dict
        ``device_id``, ``name``, ``lon``/``lat`` (WGS-84, required) and any other field of
        ``camera_registry.schema.FIELDS`` (text or typed; ``None`` or empty = not given).
    district : gis.district.District, optional
        Checks the ID's centre code and that the position lies in the district (as the importer).
    locate : callable, optional
        ``(lon_array, lat_array) -> (grid_codes, community_codes)``; a position outside every community is
        then refused.
    lifecycle : {"active", "planned"}
        A planned camera (adopted from the planner) never counts as coverage until it is set ON.
    min_spacing_m : float
        A position closer than this (m) to a stored camera is refused as a probable duplicate, as the
        importer refuses a row (setting ``camera_min_spacing_m``; 0, the default, checks nothing).

    Raises
    ------
    InvalidData (every bad field), Conflict (the ID is taken)
    """
    if lifecycle not in ADD_LIFECYCLES:
        raise InvalidData(RowError(None, "lifecycle", f"{lifecycle!r}: a camera is added as "
                                   f"{' or '.join(ADD_LIFECYCLES)}"))
    known = set(RECORD_FIELDS) | {"device_id", "lon", "lat"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidData([RowError(None, k, "not a camera field") for k in unknown])
    fields = {k: _text(v) for k, v in values.items() if k in known - {"lon", "lat"}}
    centre = district.camera_prefixes if district is not None else None
    rows, errors = validate_rows(pd.DataFrame([fields]), [1], centre=centre)
    errors = [RowError(None, e.field, e.reason) for e in errors]
    pos = _required_position(values, errors)
    codes = (None, None)
    if pos is not None and not errors:
        problem, codes = _position_error(*pos, district, locate)
        errors += [problem] if problem is not None else \
            check_spacing(session, rows[0]["device_id"], *pos, min_spacing_m)
    if errors:
        raise InvalidData(errors)
    row = {k: v for k, v in rows[0].items() if v is not None}
    if session.get(Camera, row["device_id"]) is not None:
        raise Conflict(f"camera {row['device_id']} is already in the registry; open it to edit it")
    camera = Camera(**row, geom=point(*pos), lifecycle=lifecycle, grid_code=codes[0], community_code=codes[1],
                    street_code=codes[1][:9] if codes[1] else None, updated_by=actor)
    if "source_crs" not in row:
        camera.source_crs = "wgs84"
    session.add(camera)
    record_change(session, camera, actor, "ADD", note or ("added as planned" if lifecycle == "planned" else "added"))
    return camera


def _required_position(values: dict, errors: list) -> tuple[float, float] | None:
    missing = [k for k in ("lon", "lat") if values.get(k) in (None, "")]
    if missing:
        errors.extend(RowError(None, k, "missing: every camera needs a position (经度/纬度)") for k in missing)
        return None
    return _lonlat(values["lon"], values["lat"], errors)


def _lonlat(lon, lat, errors: list) -> tuple[float, float] | None:
    try:
        if isinstance(lon, bool) or isinstance(lat, bool):
            raise TypeError
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        errors.append(RowError(None, "lon/lat", "not a number"))
        return None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):  # also refuses NaN
        errors.append(RowError(None, "lon/lat", f"({lon}, {lat}) is not a WGS-84 position"))
        return None
    return lon, lat


def retire_camera(session: Session, device_id: str, actor: str, reason: str, *,
                  expected_version: int | None = None, source: str | None = None) -> Camera:
    """Take a camera out of service (lifecycle → ``retired``) instead of deleting it: a DEL event with the
    reason, a revision; the record and its history stay, and the maps and coverage leave it out (they read
    ``lifecycle = 'active'``).

    Raises
    ------
    InvalidData (no reason), NotFound, Conflict (stale ``expected_version``), IllegalTransition (already retired)
    """
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidData(RowError(None, "reason", "is required: say why the camera is retired"))
    camera = _load(session, device_id)
    check_writable(camera)
    _check_version(camera, expected_version)
    camera.lifecycle = "retired"
    camera.updated_at = func.now()
    camera.updated_by = actor
    _flush_or_conflict(session, device_id)
    record_change(session, camera, actor, "DEL", reason.strip(), source=source)
    return camera


def _new_position(camera: Camera, changes: dict, errors: list) -> tuple[float, float] | None:
    if "lon" not in changes and "lat" not in changes:
        return None
    old = position(camera)
    new = _lonlat(changes.get("lon", old[0]), changes.get("lat", old[1]), errors)
    return None if new is None or new == old else new


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

