"""Catalog sync (目录同步): apply a GB/T 28181 catalog or Notify (``camera_registry.catalog``) to the registry.

What a video platform says of its items becomes the registry's record, through the importer's own core
(``camera_registry.importer.plan_table`` / ``write_plan``: the same validation, diff and writes as a file):

* **catalog tree** — items whose ID is an administrative area (2–8 digits), a SIP server (200), a business
  group (215) or a virtual organisation (216) (``gb28181.node_kind``) are ``catalog_nodes`` rows of the
  platform: upserted; a *complete* catalog removes the platform's nodes it no longer lists.
* **cameras** — items of type 121/131/132: element names → fields by ``schema.canonical_header``
  (``Longitude``/``Latitude`` → lon/lat), ``platform`` set to the platform, ``schema.apply_direction`` for
  DirectionType. An element the item does not carry leaves the stored value alone; an element the
  registry has no column for is reported once as ignored. A ``ParentID`` written as a path (``a/b/c``, as
  some platforms send it) keeps its last part, the item's direct parent.
* **other devices** (an NVR, 118; an alarm input, 134 …) are listed by ID and type, not refused.
* **absent cameras** — a *complete* catalog (its messages add up to SumNum) retires the platform's active
  cameras it does not list (``history.retire_camera``: a DEL event). An incomplete one retires nothing.
* **Notify** — ON/OFF/VLOST/DEFECT are status events (``history.set_status``), ADD/UPDATE upsert the item as a
  catalog does, DEL retires the camera (or removes the node). Items apply in their order.

Every event carries the platform's SIP ID as its ``source``. Re-reading the same catalog writes nothing.
Status changes of planned and retired cameras obey the file import's rules (``importer._refused_change``).
``on_error="reject"`` writes nothing when any item is refused; ``"skip"`` writes the good ones. Every refused
item is an :class:`ItemError` naming its DeviceID, where it is, the element and why.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from camera_registry.catalog import Catalog, CatalogItem
from camera_registry.gb28181 import InvalidDeviceId, node_kind, parse_device_id
from camera_registry.history import retire_camera, set_status
from camera_registry.importer import TablePlan, _refused_change, plan_table, write_plan
from camera_registry.models import STATUSES, Camera, CatalogNode
from camera_registry.schema import canonical_header, parse_value
from gis.crs import parse_crs
from gis.district import District
from gis.errors import InvalidData, RowError, check_on_error
from gis.io import Table
from gis.text import column_length, text_problem

#: the fields of a catalog_nodes row an item carries (besides its ID and kind), by GB/T 28181 element
NODE_ELEMENTS = {"Name": "name", "ParentID": "parent_id", "BusinessGroupID": "business_group_id",
                 "CivilCode": "civil_code"}
STATUS_EVENTS = STATUSES  # a Notify's ON, OFF, VLOST, DEFECT
UPSERT_EVENTS = ("ADD", "UPDATE")
#: elements that are not attributes of the device for the registry (never "ignored"): a Notify item's event, and
#: the ParentID path as sent (``ParentID`` carries its last part, the direct parent: docs/catalog_formats.md)
NOT_ATTRIBUTES = ("Event", "ParentPath")
#: ``Catalog.errors`` fields that say the catalog is incomplete, not that an item is bad: a note (nothing is
#: retired, no node removed), not a refusal
COMPLETENESS_FIELDS = ("SumNum", "Num")


@dataclass(frozen=True)
class ItemError(RowError):
    """A refused catalog item: ``DeviceID <id> (<where>): <element>: <reason>``."""

    device_id: str | None = None
    where: str | None = None

    def __str__(self) -> str:
        head = f"DeviceID {self.device_id or '(none)'}" + (f" ({self.where})" if self.where else "")
        return f"{head}: {self.field + ': ' if self.field else ''}{self.reason}"


@dataclass
class SyncReport:
    """What a sync did (or, with ``dry_run``, would do). Every camera item counts in one of added, changed,
    status_events (an item whose only change is its status, or a Notify status event), retired, unchanged or
    the refused ``errors``."""

    platform: str
    kind: str
    complete: bool
    crs: str
    items: int = 0
    added: int = 0
    changed: int = 0
    retired: int = 0
    unchanged: int = 0
    status_events: int = 0
    nodes_added: int = 0
    nodes_changed: int = 0
    nodes_removed: int = 0
    nodes_unchanged: int = 0
    not_cameras: list[tuple[str, str, str]] = field(default_factory=list)  # (DeviceID, type code, type name)
    ignored_elements: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False

    def summary(self) -> str:
        would = "would be " if self.dry_run else ""
        return (f"{self.kind} of platform {self.platform} ({self.items} items, coordinates {self.crs}): "
                f"cameras {would}added {self.added}, {would}changed {self.changed}, {would}retired {self.retired}, "
                f"unchanged {self.unchanged}, status events {self.status_events}; catalog nodes {would}added "
                f"{self.nodes_added}, {would}changed {self.nodes_changed}, {would}removed {self.nodes_removed}, "
                f"unchanged {self.nodes_unchanged}; not cameras {len(self.not_cameras)}; refused {self.refused}")

    @property
    def refused(self) -> int:
        return len({(getattr(e, "device_id", None), e.line) for e in self.errors})

    def lines(self) -> list[str]:
        """The report as a person reads it: the summary, then the notes, the non-camera items, the ignored
        elements (the refused items are listed by the caller, on stderr)."""
        out = [("dry run: " if self.dry_run else "") + self.summary()]
        out += [f"  note: {n}" for n in self.notes]
        out += [f"  not a camera: DeviceID {d} (type {t}: {name})" for d, t, name in self.not_cameras]
        if self.ignored_elements:
            out.append(f"  ignored elements (no registry field): {', '.join(self.ignored_elements)}")
        return out


def platform_crs(platform: str, crs: str | None, platform_settings: dict | None) -> str:
    """The CRS a platform's coordinates are in: ``crs`` (``--crs``) if given, else the setting
    ``video_platforms[platform].crs``, else WGS-84; a :func:`gis.crs.parse_crs` value.

    An unknown CRS in the setting raises :class:`~gis.errors.InvalidData` naming the setting."""
    if crs:
        return parse_crs(crs)
    settings = platform_settings or {}
    if not isinstance(settings, dict):
        raise InvalidData(RowError(None, "video_platforms", "the setting must map platform SIP IDs to "
                                   "{name, crs} tables"))
    entry = settings.get(platform)
    if entry is None:
        return parse_crs("wgs84")
    if not isinstance(entry, dict):
        raise InvalidData(RowError(None, f"video_platforms.{platform}", "must be a table {name, crs}"))
    value = entry.get("crs")
    if value in (None, ""):
        return parse_crs("wgs84")
    try:
        return parse_crs(value)
    except InvalidData as exc:
        raise InvalidData(RowError(None, f"video_platforms.{platform}.crs",
                                   f"setting: {exc.errors[0].reason}")) from None


def _platform(catalog: Catalog, platform: str | None) -> str:
    given = platform.strip() if isinstance(platform, str) and platform.strip() else None
    if given is not None:
        try:
            given = parse_value("platform", given, centre=None)
        except ValueError as exc:
            raise InvalidData(RowError(None, "platform", str(exc))) from None
    own = catalog.platform
    if given and own and given != own:
        raise InvalidData(RowError(None, "platform", f"--platform {given} but the catalog is platform {own}'s "
                                   f"(its <DeviceID>); give its own ID or leave --platform out"))
    chosen = given or own
    if not chosen:
        raise InvalidData(RowError(None, "platform", "the input names no platform (a wvp export carries none): "
                                   "give the platform's SIP ID with --platform"))
    if not given:
        try:
            parse_value("platform", chosen, centre=None)
        except ValueError as exc:
            raise InvalidData(RowError(None, "platform", str(exc))) from None
    return chosen


def _elements(item: CatalogItem) -> dict[str, str]:
    out = {}
    for k, v in item.elements.items():
        if k in NOT_ATTRIBUTES:
            continue
        v = "" if v is None else str(v)
        out[k] = v  # a ParentID path is already its last part (the reader keeps the path as ParentPath)
    return out


def _classify(item: CatalogItem) -> tuple[str, object]:
    """("node", kind) | ("device", (type, type name)) for a non-camera device | ("camera", None)."""
    kind = node_kind(item.device_id)
    if kind is not None:
        return "node", kind
    try:
        did = parse_device_id(item.device_id)
    except InvalidDeviceId:
        return "camera", None  # the core names what is wrong with the ID
    if not did.is_camera:
        return "device", (did.type, did.type_name)
    return "camera", None


# -- catalog nodes ------------------------------------------------------------------------------------------
def _node_values(item: CatalogItem, kind: str, errors: list) -> dict | None:
    elements = _elements(item)
    values = {"kind": kind}
    bad = False
    for element, name in NODE_ELEMENTS.items():
        raw = (elements.get(element) or "").strip()
        if name == "name":
            if not raw:
                errors.append(_item_error(item, "Name", "missing: every catalog node needs a name"))
                bad = True
                continue
            problem = text_problem(raw, max_len=column_length(CatalogNode.__table__.c.name))
            if problem is not None:
                errors.append(_item_error(item, "Name", problem))
                bad = True
                continue
            values[name] = raw
            continue
        if not raw:
            values[name] = None
            continue
        try:
            values[name] = parse_value(name, raw, centre=None)
        except ValueError as exc:
            errors.append(_item_error(item, element, str(exc)))
            bad = True
    return None if bad else values


def _node_diff(node: CatalogNode, values: dict) -> dict:
    return {k: v for k, v in values.items() if getattr(node, k) != v}


def _add_node(session: Session, platform: str, node_id: str, values: dict) -> None:
    session.add(CatalogNode(platform=platform, node_id=node_id, **values))


def _change_node(node: CatalogNode, diff: dict) -> None:
    for k, v in diff.items():
        setattr(node, k, v)
    node.updated_at = func.now()


def _stored_nodes(session: Session, platform: str) -> dict[str, CatalogNode]:
    return {n.node_id: n for n in session.execute(
        select(CatalogNode).where(CatalogNode.platform == platform).with_for_update()).scalars()}


# -- cameras through the importer's core --------------------------------------------------------------------
def _item_error(item: CatalogItem, element: str | None, reason: str) -> ItemError:
    return ItemError(item.line, element, reason, device_id=item.device_id or None, where=item.where)


def _element_of(item: CatalogItem, fld: str | None) -> str | None:
    """The element name an item used for a registry field (``ptz_type`` → ``PTZType``), for the messages."""
    if not fld:
        return fld
    if fld == "lon/lat":
        return "Longitude/Latitude"
    names = []
    for part in fld.split(","):
        names.append(next((k for k in item.elements if canonical_header(k) == part), part))
    return ",".join(names)


def _is_zero(text_value: str) -> bool:
    try:
        return float(text_value) == 0.0
    except ValueError:
        return False


def _camera_table(items: list[CatalogItem]) -> tuple[Table, dict[int, set[str]]]:
    """The camera items as the importer's table (element names as headers) and each line's absent fields.

    Longitude and Latitude both missing, empty or 0 (what a device that does not know its position sends)
    are absent: a stored camera keeps its position, a new one is refused."""
    cells = [_elements(it) for it in items]
    columns = ["DeviceID", "Name"]
    for c in cells:
        columns += [k for k in c if k not in columns and k != "DeviceID"]
    names = {k: canonical_header(k) for k in columns}
    lon_el = next((k for k in columns if names[k] == "lon"), "Longitude")
    lat_el = next((k for k in columns if names[k] == "lat"), "Latitude")
    for k in (lon_el, lat_el):
        if k not in columns:
            columns.append(k)
            names[k] = canonical_header(k)
    records, absent = [], {}
    for it, c in zip(items, cells):
        c = {**c, "DeviceID": it.device_id}
        missing = {names[k] for k in columns if k not in c and names[k]}
        x, y = (c.get(lon_el) or "").strip(), (c.get(lat_el) or "").strip()
        if (not x or _is_zero(x)) and (not y or _is_zero(y)):
            missing |= {"lon", "lat"}
            c[lon_el] = c[lat_el] = ""
        absent[it.line] = missing
        records.append([c.get(k) for k in columns])
    frame = pd.DataFrame(records, columns=columns, dtype=object)
    return Table(frame=frame, geometry=None, lines=[it.line for it in items]), absent


def _plan_cameras(session: Session, items: list[CatalogItem], *, platform: str, crs: str, opts: dict,
                  source: str) -> tuple[TablePlan | None, list[RowError]]:
    if not items:
        return None, []
    table, absent = _camera_table(items)
    plan = plan_table(session, table, source=source, crs=crs, platform=platform, absent=absent, by="catalog",
                      **opts)
    by_line = {it.line: it for it in items}
    errors = []
    for e in plan.errors:
        item = by_line.get(e.line)
        errors.append(e if item is None else _item_error(item, _element_of(item, e.field), e.reason))
    return plan, errors


def _count_plan(report: SyncReport, plan: TablePlan | None) -> None:
    if plan is None:
        return
    report.unchanged += plan.unchanged
    for kind, _camera, _values, _pos, changed in plan.plan:
        if kind == "ADD":
            report.added += 1
        elif set(changed) == {"status"}:
            report.status_events += 1
        else:
            report.changed += 1
    for name in plan.ignored:
        if name not in report.ignored_elements and name not in NOT_ATTRIBUTES:
            report.ignored_elements.append(name)


def _retire(session: Session, device_id: str, *, actor: str, reason: str, platform: str) -> None:
    retire_camera(session, device_id, actor, reason, source=platform)


# -- the sync ---------------------------------------------------------------------------------------------
def sync_catalog(session: Session, catalog: Catalog, *, platform: str | None = None, crs: str | None = None,
                 on_error: str = "reject", dry_run: bool = False, actor: str = "catalog",
                 locate: Callable | None = None, district: District, min_spacing_m: float = 2.0,
                 platform_settings: dict | None = None,
                 progress: Callable[[int], None] | None = None) -> SyncReport:
    """Apply ``catalog`` (``camera_registry.catalog.read_catalog``) to the registry; see the module's text.

    Parameters
    ----------
    platform : str, optional
        The platform's SIP ID (``--platform``): needed for a wvp export, which names none; checked against the
        catalog's own when both are given.
    crs : str, optional
        The CRS of the coordinates (``--crs``); default the setting ``video_platforms[platform].crs``, else WGS-84.
    on_error : {"reject", "skip"}
        ``reject``: any refused item → nothing written, :class:`~gis.errors.InvalidData` lists each
        (:class:`ItemError`); ``skip``: the good items are written, the refused ones listed in the report.
    dry_run : bool
        Check and count, write nothing.
    actor : str
        Who the events and revisions name.
    locate, district, min_spacing_m
        As for ``camera_registry.importer.import_cameras`` (``app.loaders.registry_options``).
    platform_settings : dict, optional
        The setting ``video_platforms`` ({SIP ID: {name, crs}}).
    progress : callable(int), optional
        Called with the number of items written as the writes go.
    """
    check_on_error(on_error)
    pid = _platform(catalog, platform)
    crs_name = platform_crs(pid, crs, platform_settings)
    source = ", ".join(catalog.sources) or f"platform {pid}"
    report = SyncReport(platform=pid, kind=catalog.kind, complete=bool(catalog.kind == "catalog" and catalog.complete),
                        crs=crs_name, items=len(catalog.items), dry_run=dry_run)
    for e in catalog.errors:
        if e.field in COMPLETENESS_FIELDS:
            report.notes.append(e.reason)
        else:
            report.errors.append(e)
    opts = {"locate": locate, "district": district, "min_spacing_m": min_spacing_m}
    if catalog.kind == "notify":
        _sync_notify(session, catalog, report, pid=pid, crs=crs_name, opts=opts, actor=actor, source=source,
                     on_error=on_error, dry_run=dry_run, progress=progress)
    else:
        _sync_full(session, catalog, report, pid=pid, crs=crs_name, opts=opts, actor=actor, source=source,
                   on_error=on_error, dry_run=dry_run, progress=progress)
    return report


def _refuse_or_note(report: SyncReport, on_error: str, source: str) -> None:
    if report.errors and on_error == "reject":
        raise InvalidData(report.errors, source=source)


def _sync_full(session, catalog, report, *, pid, crs, opts, actor, source, on_error, dry_run, progress) -> None:
    nodes, cameras, seen = [], [], {}
    for item in catalog.items:
        first = seen.get(item.device_id)
        if first is not None:
            report.errors.append(_item_error(item, "DeviceID", f"already listed ({first.where})"))
            continue
        seen[item.device_id] = item
        what, info = _classify(item)
        if what == "node":
            nodes.append((item, info))
        elif what == "device":
            report.not_cameras.append((item.device_id, *info))
        else:
            cameras.append(item)
    # catalog nodes
    stored = _stored_nodes(session, pid)
    node_adds, node_changes = [], []
    for item, kind in nodes:
        values = _node_values(item, kind, report.errors)
        if values is None:
            continue
        node = stored.get(item.device_id)
        if node is None:
            node_adds.append((item.device_id, values))
            continue
        diff = _node_diff(node, values)
        if diff:
            node_changes.append((node, diff))
        else:
            report.nodes_unchanged += 1
    listed = {item.device_id for item in catalog.items}
    removals = [n for nid, n in sorted(stored.items()) if nid not in listed] if report.complete else []
    # cameras
    plan, errors = _plan_cameras(session, cameras, platform=pid, crs=crs, opts=opts, source=source)
    report.errors.extend(errors)
    _count_plan(report, plan)
    retire = []
    if report.complete:
        absent = select(Camera.device_id).where(Camera.platform == pid, Camera.lifecycle == "active")
        if listed:
            absent = absent.where(Camera.device_id.not_in(listed))
        retire = list(session.execute(absent.order_by(Camera.device_id)).scalars())
    else:
        note = "catalog incomplete"
        if catalog.sum_num is not None:
            note += f" ({len(catalog.items)} of the {catalog.sum_num} items its messages announce)"
        report.notes.append(note + ": no camera retired, no catalog node removed")
    report.retired = len(retire)
    report.nodes_added, report.nodes_changed, report.nodes_removed = len(node_adds), len(node_changes), len(removals)
    report.errors.sort(key=lambda e: (e.line or 0, e.field or ""))
    _refuse_or_note(report, on_error, source)
    if dry_run:
        return
    for node_id, values in node_adds:
        _add_node(session, pid, node_id, values)
    for node, diff in node_changes:
        _change_node(node, diff)
    for node in removals:
        session.delete(node)
    session.flush()
    if plan is not None:
        write_plan(session, plan.plan, actor=actor, source=source, event_source=pid, progress=progress)
    for device_id in retire:
        _retire(session, device_id, actor=actor, platform=pid,
                reason=f"absent from the full catalog of platform {pid} ({source})")
        if progress:
            progress(1)


def _sync_notify(session, catalog, report, *, pid, crs, opts, actor, source, on_error, dry_run, progress) -> None:
    """Apply a Notify's items in their order inside a savepoint: rolled back for a dry run, or when an item
    is refused and ``on_error`` is reject (each item sees what the ones before it did)."""
    savepoint = session.begin_nested()
    try:
        for item in catalog.items:
            _notify_item(session, item, report, pid=pid, crs=crs, opts=opts, actor=actor, source=source)
            if progress:
                progress(1)
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run or (report.errors and on_error == "reject"):
        savepoint.rollback()
    else:
        savepoint.commit()
    report.errors.sort(key=lambda e: (e.line or 0, e.field or ""))
    _refuse_or_note(report, on_error, source)


def _notify_item(session, item, report, *, pid, crs, opts, actor, source) -> None:
    event = (item.event or "").strip().upper()
    if event not in ("ON", "OFF", "VLOST", "DEFECT", "ADD", "DEL", "UPDATE"):
        report.errors.append(_item_error(item, "Event", f"{item.event!r} is not a catalog event (ON, OFF, VLOST, "
                                         "DEFECT, ADD, DEL, UPDATE)"))
        return
    what, info = _classify(item)
    if what == "device":
        report.not_cameras.append((item.device_id, *info))
        return
    if what == "node":
        _notify_node(session, item, info, event, report, pid=pid)
        return
    if event in UPSERT_EVENTS:
        plan, errors = _plan_cameras(session, [item], platform=pid, crs=crs, opts=opts, source=source)
        report.errors.extend(errors)
        _count_plan(report, plan)
        if plan is not None and not errors:
            write_plan(session, plan.plan, actor=actor, source=source, event_source=pid)
        return
    camera = session.get(Camera, item.device_id, populate_existing=True, with_for_update=True)
    if camera is None:
        report.errors.append(_item_error(item, "DeviceID", f"no camera {item.device_id} in the registry: a Notify "
                                         f"{event} needs a camera the catalog has added (sync the platform's full "
                                         "catalog first)"))
        return
    if event == "DEL":
        if camera.lifecycle == "retired":
            report.unchanged += 1
            return
        _retire(session, camera.device_id, actor=actor, platform=pid,
                reason=f"DEL notified by platform {pid} ({source})")
        report.retired += 1
        return
    if camera.status == event:
        report.unchanged += 1
        return
    refused = _refused_change(camera, {"status": event}, item.line, by="catalog")
    if refused is not None:
        report.errors.append(_item_error(item, "Event", refused.reason))
        return
    set_status(session, camera.device_id, event, actor, note=f"notified by platform {pid} ({source})",
               centre=opts["district"].camera_centre_code, source=pid)
    report.status_events += 1


def _notify_node(session, item, kind, event, report, *, pid) -> None:
    node = session.get(CatalogNode, (pid, item.device_id), with_for_update=True)
    if event == "DEL":
        if node is None:
            report.nodes_unchanged += 1
            return
        session.delete(node)
        session.flush()
        report.nodes_removed += 1
        return
    if event not in UPSERT_EVENTS:  # a status of a tree node: nothing to record
        report.notes.append(f"{item.device_id} ({item.where}) is a catalog node ({kind}): its {event} is not recorded")
        return
    values = _node_values(item, kind, report.errors)
    if values is None:
        return
    if node is None:
        _add_node(session, pid, item.device_id, values)
        report.nodes_added += 1
    else:
        diff = _node_diff(node, values)
        if not diff:
            report.nodes_unchanged += 1
            return
        _change_node(node, diff)
        report.nodes_changed += 1
    session.flush()
