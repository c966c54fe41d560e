"""Camera import (摄像机导入) from CSV, Excel, GeoJSON, GeoPackage or Shapefile.

Every row is checked before anything is written: the GB/T 28181 ID, required and class-1 fields,
value ranges, the position (``gis.crs``: any supported CRS, converted to WGS-84, inside the
district), IDs repeated in the file, and cameras closer than ``min_spacing_m`` to another row or
to a stored camera (IDs already stored are updates, not duplicates). ``reject`` writes nothing
when any row is bad; ``skip`` writes the good rows. Rows are upserted by ``device_id``: an unchanged
row writes nothing, a changed one writes one revision and one event, a new one an ADD event.

Columns absent from the file leave stored values alone; an empty cell clears a value (``programme``
and ``status`` fall back to their defaults, skynet and ON, on new cameras and stay as they are on
stored ones). ``source_crs`` is the provenance of the position and changes only when the position does.

A file does not change a camera's lifecycle (an export's 生命周期 column is not read): a row that would
change a retired camera is refused (its record is read-only), as is a status change of a planned camera
(it is put into service on its page) and a new row under a provisional ID (``camera_registry.planned``).

One core serves every way in: :func:`plan_table` validates a ``gis.io.Table`` and diffs it against the stored
cameras, :func:`write_plan` writes what it found; :func:`import_table` is the two (with ``reject``/``skip`` and the
dry run), :func:`import_cameras` is ``read_table`` + :func:`import_table`, and the catalog sync
(``camera_registry.sync``, docs/catalog.md) plans a platform's items as rows with them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from camera_registry.history import point, snapshot
from camera_registry.models import Camera, CameraEvent, CameraRevision
from camera_registry.planned import is_provisional
from camera_registry.schema import BY_NAME, REQUIRED, apply_direction, canonical_header, validate_rows
from camera_registry.spacing import spacing_errors
from gis.district import District
from gis.crs import parse_coordinates, parse_crs
from gis.errors import Conflict, InvalidData, RowError, check_on_error
from gis.io import Table, read_table

SAME_POSITION_DEG = 1e-8  # ≈ 1 mm: exports round lon/lat to 8 decimals, which must not count as a move
CHUNK = 500
NOT_NULL_DEFAULTS = {"programme": "skynet", "status": "ON", "azimuth_approx": False}


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    ignored_columns: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would add" if self.dry_run else "added"
        return (f"{self.rows} rows: {verb} {self.added}, {'would update' if self.dry_run else 'updated'} "
                f"{self.updated}, unchanged {self.unchanged}, bad rows {self.rejected}")


def _canonical(table) -> tuple[pd.DataFrame, list[str], list[RowError]]:
    """Rename the columns to field names; unknown columns are reported as ignored."""
    renamed, ignored, errors, seen = {}, [], [], {}
    for col in table.frame.columns:
        name = canonical_header(col)
        if name is None:
            ignored.append(str(col))
        elif name in seen:
            errors.append(RowError(1, str(col), f"names the same field ({name}) as column {seen[name]!r}; "
                                   "keep one of them"))
        else:
            seen[name] = str(col)
            renamed[col] = name
    frame = table.frame[list(renamed)].rename(columns=renamed)
    for name in REQUIRED:
        if name not in frame.columns:
            errors.append(RowError(1, name, f"missing column {name!r} ({BY_NAME[name].zh}); "
                                   "see docs/cameras.md for the accepted headers"))
    return frame, ignored, errors


def _positions(table, frame: pd.DataFrame, crs: str | None, bbox, margin_m: float):
    """(lon, lat, crs_name, errors, ok) in WGS-84 from lon/lat columns or the point geometry."""
    errors: list[RowError] = []
    if "lon" in frame.columns or "lat" in frame.columns:
        missing = [c for c in ("lon", "lat") if c not in frame.columns]
        if missing:
            raise InvalidData([RowError(1, c, f"missing column {c!r} (经度/纬度)") for c in missing])
        xs, ys, fields = list(frame["lon"]), list(frame["lat"]), ("lon", "lat")
        name = parse_crs(crs or "wgs84")
    elif table.geometry is not None:
        geoms = np.asarray(table.geometry.to_numpy(), dtype=object)
        is_point = np.array([g is not None and not g.is_empty and g.geom_type == "Point" for g in geoms])
        for i in np.flatnonzero(~is_point):
            errors.append(RowError(table.lines[i], "geometry", "not a point: a camera needs a point position"))
        xs = [str(shapely.get_x(g)) if ok else "" for g, ok in zip(geoms, is_point)]
        ys = [str(shapely.get_y(g)) if ok else "" for g, ok in zip(geoms, is_point)]
        fields = ("geometry", "geometry")
        own = None if table.crs in (None, "EPSG:4326", "OGC:CRS84") else table.crs
        name = parse_crs(crs or own or "wgs84")
    else:
        raise InvalidData(RowError(1, "lon/lat", "no position: give lon/lat (经度/纬度) columns or point geometries"))
    lon, lat, coord_errors, ok = parse_coordinates(xs, ys, table.lines, crs=name, bbox=tuple(bbox),
                                                   margin_m=margin_m, fields=fields)
    known = {e.line for e in errors}
    ok = np.asarray(ok) & np.array([line not in known for line in table.lines], dtype=bool)
    errors.extend(e for e in coord_errors if e.line not in known)
    return lon, lat, name, errors, ok


def _duplicate_ids(ids: list, lines: list) -> list[RowError]:
    first: dict[str, int] = {}
    out = []
    for did, line in zip(ids, lines):
        if not isinstance(did, str):
            continue
        if did in first:
            out.append(RowError(line, "device_id", f"{did} already on line {first[did]} of this file"))
        else:
            first[did] = line
    return out


def import_cameras(session: Session, path: str | Path, *, crs: str | None = None, on_error: str = "reject",
                   dry_run: bool = False, actor: str = "import",
                   locate: Callable[[np.ndarray, np.ndarray], tuple] | None = None,
                   district: District, min_spacing_m: float = 2.0, progress: Callable[[int], None] | None = None) -> ImportReport:
    """Validate every row of ``path``, then upsert the cameras by ``device_id``.

    Parameters
    ----------
    crs : str, optional
        CRS of the coordinates (``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09`` or ``EPSG:nnnn``); default the
        file's own (vector formats) or WGS-84. Positions are stored in WGS-84 (EPSG:4326).
    on_error : {"reject", "skip"}
        ``reject``: any bad row → nothing written, :class:`~gis.errors.InvalidData` lists every problem.
        ``skip``: the good rows are written, the bad ones listed in the report.
    dry_run : bool
        Validate and count, write nothing.
    locate : callable, optional
        ``(lon, lat) -> (grid_codes, community_codes)`` (the app's ``locate_codes``); derives the codes
        and makes a position outside every community an error. Without it the codes stay empty.
    district : gis.district.District
        The served district: its GB/T 28181 centre code, WGS-84 extent (W, S, E, N) and how far outside
        it (m) a position may lie.
    min_spacing_m : float
        The spacing (m) under which two cameras are a probable duplicate (setting ``camera_min_spacing_m``).
    progress : callable(int), optional
        Called with the number of rows written after each chunk.
    """
    check_on_error(on_error)
    return import_table(session, read_table(path), source=str(path), crs=crs, on_error=on_error, dry_run=dry_run,
                        actor=actor, locate=locate, district=district, min_spacing_m=min_spacing_m,
                        progress=progress)


def import_table(session: Session, table: Table, *, source: str, crs: str | None = None, on_error: str = "reject",
                 dry_run: bool = False, actor: str = "import",
                 locate: Callable[[np.ndarray, np.ndarray], tuple] | None = None, district: District,
                 min_spacing_m: float = 2.0, progress: Callable[[int], None] | None = None,
                 platform: str | None = None, event_source: str | None = None) -> ImportReport:
    """:func:`import_cameras` of a table already read (``gis.io.Table``): the one validate/diff/write path.

    ``source`` names the input (the errors' source; its last path part goes into the events' notes).
    ``platform`` (a video platform's SIP ID) is set on every row as if the table had a ``platform`` column;
    ``event_source`` is stored as the events' ``source`` (``camera_events.source``). The catalog sync
    (``camera_registry.sync``) plans with :func:`plan_table` and writes with :func:`write_plan` itself.
    """
    check_on_error(on_error)
    planned = plan_table(session, table, source=source, crs=crs, locate=locate, district=district,
                         min_spacing_m=min_spacing_m, platform=platform)
    report = planned.report(dry_run=dry_run)
    if planned.errors and on_error == "reject":
        raise InvalidData(planned.errors, source=source)
    if not dry_run:
        write_plan(session, planned.plan, actor=actor, source=Path(source).name, event_source=event_source,
                   progress=progress)
    return report


@dataclass
class TablePlan:
    """What :func:`plan_table` found: the writes to make (``plan``), the problems and the unchanged rows.

    ``plan`` holds ``(kind, camera, values, position, changed)`` tuples: ``("ADD", None, values, (lon, lat), [])``
    or ``("UPDATE", camera, diff, (lon, lat) or None, changed fields)``."""

    rows: int
    lines: list
    plan: list
    errors: list[RowError]
    unchanged: int
    ignored: list[str]
    crs: str
    unchanged_ids: list[str] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(1 for p in self.plan if p[0] == "ADD")

    def report(self, *, dry_run: bool) -> ImportReport:
        bad_lines = {e.line for e in self.errors}
        return ImportReport(rows=self.rows, errors=self.errors, dry_run=dry_run, ignored_columns=self.ignored,
                            rejected=sum(1 for l in self.lines if l in bad_lines), unchanged=self.unchanged,
                            added=self.added, updated=len(self.plan) - self.added)


def plan_table(session: Session, table: Table, *, source: str, crs: str | None = None,
               locate: Callable[[np.ndarray, np.ndarray], tuple] | None = None, district: District,
               min_spacing_m: float = 2.0, platform: str | None = None,
               absent: dict[int, set[str]] | None = None, by: str = "file") -> TablePlan:
    """Validate every row of ``table`` and diff it against the stored cameras; write nothing.

    ``absent`` maps a row's line to the fields that row does not carry (a catalog item without an element):
    those are left as stored (a new camera takes their defaults) instead of being cleared. A row whose
    ``lon`` and ``lat`` are both absent keeps a stored camera's position; a new camera without one is refused.
    ``by`` names the input in the lifecycle refusals (``"file"``, or ``"catalog"`` for the sync).
    Header problems raise :class:`~gis.errors.InvalidData`; row problems are in ``TablePlan.errors``.
    """
    frame, ignored, header_errors = _canonical(table)
    if header_errors:
        raise InvalidData(header_errors, source=source)
    absent = absent or {}
    if platform is not None:
        frame = frame.assign(platform=platform)
    lines = list(table.lines)
    rows, errors = validate_rows(frame, lines, centre=district.camera_prefixes)
    lon, lat, crs_name, coord_errors, ok = _positions(table, frame, crs, district.bbox, district.margin_m)
    no_position = {line for line in lines if {"lon", "lat"} <= absent.get(line, set())}
    errors += [e for e in coord_errors if e.line not in no_position]
    ok = ok & np.array([line not in no_position for line in lines], dtype=bool)
    ids = [r.get("device_id") for r in rows]
    errors += _duplicate_ids(ids, lines)
    codes = [(None, None)] * len(rows)
    if locate is not None and ok.any():
        g, c = locate(lon[ok], lat[ok])
        for k, i in enumerate(np.flatnonzero(ok)):
            codes[i] = (g[k], c[k])
            if c[k] is None:
                errors.append(RowError(lines[i], "lon/lat", f"({lon[i]:.6f}, {lat[i]:.6f}) lies outside every "
                                       "community of the district; check the coordinates and --crs"))
    errors += spacing_errors(session, ids, lon, lat, ok, lines, min_spacing_m)
    bad_lines = {e.line for e in errors}
    good = [i for i, l in enumerate(lines) if l not in bad_lines]
    stored = {c.device_id: c for c in session.execute(
        select(Camera).where(Camera.device_id.in_([ids[i] for i in good])).with_for_update()).scalars()}
    where = {r[0]: (r[1], r[2]) for r in session.execute(text(
        "SELECT device_id, ST_X(geom), ST_Y(geom) FROM cameras WHERE device_id = ANY(:ids)"), {"ids": list(stored)})}
    plan, unchanged, unchanged_ids = [], 0, []
    columns = set(frame.columns)
    for i in good:
        camera = stored.get(ids[i])
        missing = absent.get(lines[i], set())
        given = columns - missing
        row = apply_direction({k: v for k, v in rows[i].items() if k not in missing}, camera, given)
        prov = row.pop("source_crs", None) or crs_name
        grid, comm = codes[i]
        derived = {"grid_code": grid, "community_code": comm, "street_code": comm[:9] if comm else None}
        if camera is None:
            if lines[i] in no_position:
                errors.append(RowError(lines[i], "lon/lat", f"{ids[i]} is not in the registry and has no position: "
                                       "a new camera needs its longitude and latitude (经度/纬度)"))
                continue
            if is_provisional(ids[i], district.camera_centre_code):
                errors.append(RowError(lines[i], "device_id", f"{ids[i]} is a provisional ID, kept for planned "
                                       "cameras (adopted on the planner page): a file adds a camera under its "
                                       "device's own ID from the video platform"))
                continue
            row = {k: (NOT_NULL_DEFAULTS[k] if v is None and k in NOT_NULL_DEFAULTS else v) for k, v in row.items()}
            plan.append(("ADD", None, {**row, **derived, "source_crs": prov}, (lon[i], lat[i]), []))
            continue
        diff = {k: v for k, v in row.items()
                if not (v is None and k in NOT_NULL_DEFAULTS) and getattr(camera, k) != v}
        old = where[ids[i]]
        moved = lines[i] not in no_position and (abs(old[0] - lon[i]) > SAME_POSITION_DEG
                                                 or abs(old[1] - lat[i]) > SAME_POSITION_DEG)
        if moved:  # the codes and provenance follow the position; the note lists only what differs
            diff.update({k: v for k, v in {**derived, "source_crs": prov}.items() if getattr(camera, k) != v})
        if not diff and not moved:
            unchanged += 1
            unchanged_ids.append(ids[i])
            continue
        refused = _refused_change(camera, diff, lines[i], by=by)
        if refused is not None:
            errors.append(refused)
            continue
        plan.append(("UPDATE", camera, diff, (lon[i], lat[i]) if moved else None, sorted(diff)))
    errors.sort(key=lambda e: (e.line or 0, e.field or ""))
    return TablePlan(rows=len(rows), lines=lines, plan=plan, errors=errors, unchanged=unchanged, ignored=ignored,
                     crs=crs_name, unchanged_ids=unchanged_ids)


def write_plan(session: Session, plan: list, *, actor: str, source: str, event_source: str | None = None,
               progress: Callable[[int], None] | None = None) -> None:
    """Write a :func:`plan_table` plan in chunks (one revision and one event per camera; ``event_source`` in
    ``camera_events.source``). A camera changed by someone else meanwhile raises :class:`~gis.errors.Conflict`."""
    for k in range(0, len(plan), CHUNK):
        try:
            _write(session, plan[k:k + CHUNK], actor=actor, source=source, event_source=event_source)
        except StaleDataError:
            raise Conflict("a camera in the file was changed by someone else during the import; "
                           "run the import again") from None
        if progress:
            progress(len(plan[k:k + CHUNK]))


def _refused_change(camera: Camera, diff: dict, line, *, by: str = "file") -> RowError | None:
    """Why a file (``by="catalog"``: a platform's catalog) may not make this change to a stored camera, if it may
    not: a retired camera is read-only (as ``history.check_writable`` keeps it), and a planned camera's status is
    not a file's to change (ON would put it into service: that is ``history.set_status``'s, with ``camera.plan``
    and the device's ID)."""
    row = "item" if by == "catalog" else "row"
    if camera.lifecycle == "retired":
        return RowError(line, "device_id", f"camera {camera.device_id} is retired: its record is read-only, kept "
                        f"as it was with its history; take the {row} out of the {by} (a replacement device is added "
                        "under its own ID)")
    if camera.lifecycle == "planned" and "status" in diff:
        return RowError(line, "status", f"camera {camera.device_id} is planned (not built): a {by} does not change "
                        f"its status; keep the stored status in the {by}. Once the device is installed, give it the "
                        "device's ID (`gridwatch coverage replace-id`) and set it ON on its page (camera.plan)")
    return None


def _write(session: Session, plan: list, *, actor: str, source: str, event_source: str | None = None) -> None:
    """Apply one chunk of the plan, then one revision and one event per camera, all at one time."""
    touched = []
    for kind, camera, values, pos, changed in plan:
        if kind == "ADD":
            camera = Camera(**values, geom=point(*pos), updated_by=actor)
            session.add(camera)
            touched.append((camera, "ADD", f"imported from {source}"))
            continue
        for k, v in values.items():
            setattr(camera, k, v)
        if pos is not None:
            camera.geom = point(*pos)
            changed = changed + ["position"]
        camera.updated_at = func.now()
        camera.updated_by = actor
        only_status = set(changed) == {"status"}
        touched.append((camera, camera.status if only_status else "UPDATE",
                        f"{source}: changed {', '.join(changed)}"))
    session.flush()
    at = session.execute(select(func.clock_timestamp())).scalar_one()
    for camera, event, note in touched:
        session.add(CameraEvent(device_id=camera.device_id, event=event, at=at, actor=actor, note=note,
                                source=event_source))
        session.add(CameraRevision(device_id=camera.device_id, version=camera.version, at=at, actor=actor,
                                   data=snapshot(camera)))
    session.flush()

