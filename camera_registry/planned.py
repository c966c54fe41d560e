"""Planned cameras (规划摄像头): a site the planner proposed, adopted into the registry before it is built.

A planned camera is a row of ``cameras`` with ``lifecycle = 'planned'``: it has a record, an ADD event,
revisions and audit rows like any camera, is shown on the planner map as its own layer, and never counts
as coverage (every coverage reader takes ``lifecycle = 'active'``). Its lifecycle is changed only by
``camera_registry.history``: status ON commissions it (→ active), :func:`drop_planned` retires it.

Provisional device IDs
----------------------
A planned camera has no device yet, so no ID from the video platform. It gets a provisional 20-digit
GB/T 28181 ID that is well formed (the registry's validator accepts it) and cannot be one of the
platform's:

    <centre code of the district, 8> 00 132 0 <serial 990000–999999>
    e.g. 51030400 00 132 0 990001

the district's own centre code (setting ``camera_centre_code``), industry 00 (public-security street:
Skynet), type 132 (IPC), network 0, and a serial from the top block ``PROVISIONAL_SERIALS``, which the
district keeps out of the platform's allocation (the platform numbers its devices upwards from 000001;
the demo's highest serial is 000471). Serials are handed out upwards and never reused (retired planned
cameras keep theirs), under a transaction lock so two planners adopting at once get two IDs.

When the device is installed, :func:`replace_provisional_id` gives the record the device's real ID (the
camera, its events and its revisions move together: one camera, one history), and setting it ON
commissions it. ``docs/coverage.md`` describes the steps.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from camera_registry import history
from camera_registry.gb28181 import InvalidDeviceId, parse_device_id
from camera_registry.models import Camera, CameraEvent, CameraRevision
from gis.district import District
from gis.errors import Conflict, IllegalTransition, InvalidData, NotFound, RowError

#: the provisional ID's segments after the centre code: industry, type, network (see the module's text)
PROVISIONAL_INDUSTRY, PROVISIONAL_TYPE, PROVISIONAL_NETWORK = "00", "132", "0"
#: the serial block (6 digits, inclusive) kept for provisional IDs
PROVISIONAL_SERIALS = (990000, 999999)
#: a planned camera is a dome (PTZType 1) seeing the disc the planner's model gave the site
PLANNED_PTZ_TYPE, PLANNED_FOV_DEG = 1, 360.0
#: a site within this distance (m) of a planned camera is that camera: adopting it again is a conflict
SAME_SITE_M = 1.0
_LOCK = "gridwatch.camera_registry.provisional_ids"

Locate = Callable[[object, object], tuple]


def provisional_prefix(centre: str) -> str:
    """The 14 digits every provisional ID of the centre ``centre`` (8 digits) begins with."""
    if not (isinstance(centre, str) and len(centre) == 8 and centre.isascii() and centre.isdigit()):
        raise ValueError(f"centre code {centre!r}: 8 digits expected (setting camera_centre_code)")
    return centre + PROVISIONAL_INDUSTRY + PROVISIONAL_TYPE + PROVISIONAL_NETWORK


def is_provisional(device_id: str, centre: str) -> bool:
    """True for an ID of the provisional range of ``centre`` (whether or not a camera has it)."""
    prefix = provisional_prefix(centre)
    tail = device_id[len(prefix):] if isinstance(device_id, str) and device_id.startswith(prefix) else ""
    return len(tail) == 6 and tail.isdigit() and PROVISIONAL_SERIALS[0] <= int(tail) <= PROVISIONAL_SERIALS[1]


def next_provisional_id(session: Session, centre: str) -> str:
    """The next free provisional ID (above every one ever given, retired cameras included); takes the
    transaction's lock on the range first, so it stays free until the transaction ends."""
    prefix = provisional_prefix(centre)
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": _LOCK})
    lo, hi = (f"{prefix}{n:06d}" for n in PROVISIONAL_SERIALS)
    top = session.execute(select(func.max(Camera.device_id)).where(Camera.device_id.between(lo, hi))).scalar()
    serial = PROVISIONAL_SERIALS[0] if top is None else int(top[-6:]) + 1
    if serial > PROVISIONAL_SERIALS[1]:
        raise Conflict(f"every provisional camera ID {lo}–{hi} is taken; replace installed ones by their real IDs")
    return f"{prefix}{serial:06d}"


#: a planned camera within :r metres (geodesic) of the point (x, y): the one "same site" rule
_PLANNED_WITHIN = ("lifecycle = 'planned' AND ST_DWithin(geom::geography, "
                   "ST_SetSRID(ST_MakePoint({x}, {y}), 4326)::geography, :r)")


def planned_near(session: Session, lon: float, lat: float, within_m: float = SAME_SITE_M) -> str | None:
    """The device ID of a planned camera within ``within_m`` metres of (lon, lat), if any."""
    return session.execute(text(
        f"SELECT device_id FROM cameras WHERE {_PLANNED_WITHIN.format(x=':x', y=':y')} ORDER BY device_id LIMIT 1"),
        {"x": float(lon), "y": float(lat), "r": float(within_m)}).scalar()


def adopted(session: Session, lon, lat, within_m: float = SAME_SITE_M) -> list[bool]:
    """For each WGS-84 point (``lon``, ``lat``: sequences), whether a planned camera stands within
    ``within_m`` metres of it, as :func:`planned_near` judges one point (adopting it again is a conflict)."""
    xs, ys = [float(v) for v in lon], [float(v) for v in lat]
    if not xs:
        return []
    hit = set(session.execute(text(
        "SELECT p.i FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY AS p(x, y, i) "
        f"WHERE EXISTS (SELECT 1 FROM cameras WHERE {_PLANNED_WITHIN.format(x='p.x', y='p.y')})"),
        {"xs": xs, "ys": ys, "r": float(within_m)}).scalars())
    return [i + 1 in hit for i in range(len(xs))]


def adopt_site(session: Session, lon: float, lat: float, *, range_m: float, actor: str, district: District,
               locate: Locate | None = None, name: str | None = None, programme: str | None = None,
               note: str | None = None, min_spacing_m: float = 0.0) -> Camera:
    """Add a proposed site (WGS-84 ``lon``/``lat``) as a planned camera with a provisional ID.

    The camera is a dome (``PLANNED_PTZ_TYPE``, ``PLANNED_FOV_DEG``) of ``range_m``, as the plan modelled
    it; validated by ``history.add_camera`` (the importer's validator: position inside the district and,
    with ``locate``, inside a community; with ``min_spacing_m``, the setting ``camera_min_spacing_m``, no
    closer than that to a stored camera). An ADD event and its first revision are written, and the audit
    trigger its row.

    Raises
    ------
    InvalidData (a bad position, name, range or programme, a stored camera closer than ``min_spacing_m``),
    Conflict (a planned camera already stands there; no provisional ID left)
    """
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        raise InvalidData(RowError(None, "lon/lat", "not a number")) from None
    if not (-180 <= x <= 180 and -90 <= y <= 90):
        raise InvalidData(RowError(None, "lon/lat", f"({lon}, {lat}) is not a WGS-84 position"))
    device_id = next_provisional_id(session, district.camera_centre_code)
    there = planned_near(session, x, y)
    if there is not None:
        raise Conflict(f"planned camera {there} already stands at this site ({x:.6f}, {y:.6f}); "
                       "it was adopted before")
    values = {"device_id": device_id, "name": name or f"规划点位 {device_id[-6:]}", "lon": x, "lat": y,
              "ptz_type": PLANNED_PTZ_TYPE, "fov": PLANNED_FOV_DEG, "azimuth": 0, "range_m": range_m}
    if programme is not None:
        values["programme"] = programme
    return history.add_camera(session, values, actor=actor, district=district, locate=locate, lifecycle="planned",
                              note=note or "adopted from the planner's proposed sites",
                              min_spacing_m=min_spacing_m)


def _planned(session: Session, device_id: str) -> Camera:
    camera = session.get(Camera, device_id, populate_existing=True)
    if camera is None:
        raise NotFound(f"no camera {device_id!r} in the registry")
    if camera.lifecycle != "planned":
        raise IllegalTransition(f"camera {device_id} is {camera.lifecycle}, not planned: it is changed on its "
                                "own page, not the planner's")
    return camera


def drop_planned(session: Session, device_id: str, *, actor: str, reason: str,
                 expected_version: int | None = None) -> Camera:
    """Give up a planned camera: retired (``history.retire_camera``: a DEL event with the reason), so its
    record, history and provisional ID stay. Only a planned camera: a built one is retired on its page."""
    _planned(session, device_id)
    return history.retire_camera(session, device_id, actor, reason, expected_version=expected_version)


def replace_provisional_id(session: Session, provisional_id: str, real_id: str, *, actor: str,
                           district: District) -> Camera:
    """The device is installed: the planned camera takes the device's real GB/T 28181 ID.

    The camera row, its events and its revisions move to ``real_id`` together (one camera, one history); an
    UPDATE event says which ID it had. It stays planned until its status is set ON (``history.set_status``
    commissions it).

    Raises
    ------
    InvalidData (``real_id`` malformed, of another centre, or itself provisional), NotFound, Conflict (taken),
    IllegalTransition (the camera is not planned)
    """
    camera = _planned(session, provisional_id)
    try:
        parse_device_id(real_id, district.camera_prefixes)
    except InvalidDeviceId as exc:
        raise InvalidData(RowError(None, "device_id", str(exc))) from None
    real_id = real_id.strip()
    if is_provisional(real_id, district.camera_centre_code):
        raise InvalidData(RowError(None, "device_id", f"{real_id} is itself a provisional ID; give the installed "
                                   "device's ID from the video platform"))
    if session.get(Camera, real_id) is not None:
        raise Conflict(f"camera {real_id} is already in the registry")
    session.flush()
    session.execute(update(Camera).where(Camera.device_id == provisional_id)
                    .values(device_id=real_id, version=Camera.version + 1, updated_at=func.now(), updated_by=actor)
                    .execution_options(synchronize_session=False))
    for table in (CameraEvent, CameraRevision):
        session.execute(update(table).where(table.device_id == provisional_id).values(device_id=real_id)
                        .execution_options(synchronize_session=False))
    session.expunge(camera)
    moved = session.get(Camera, real_id, populate_existing=True)
    history.record_change(session, moved, actor, "UPDATE", f"provisional ID {provisional_id} replaced by the "
                          f"installed device's ID {real_id}")
    return moved

