"""Camera files in the browser (摄像机文件): an upload kept server-side for its dry run, then committed or
cancelled; the export of a list's selection; the map editor's local frame.

An upload is kept by the shared store (:mod:`app.uploads`, sub-folder ``cameras``): the file, its record
(the account, the options ``crs`` and ``on_error``, later the commit's ``result``) and the dry run's report
as the sidecar ``dry_run``; it belongs to its account and lives an hour. No Flask here: the views hand in
the session, the settings and the account.

The commit is the importer's (``camera_registry.importer.import_cameras``), in one transaction: before it
writes, the stored cameras the file names must still have the versions the dry run read (else
:class:`Conflict` naming them, nothing written), and with ``skip`` it may not find bad rows the dry run did
not show (else nothing written and the new rows are listed). Each written row gets its ``audit_log`` row
from the database's trigger, with the account as actor.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.loaders import registry_options
from app.uploads import Upload, UploadStore
from camera_registry.importer import import_cameras
from camera_registry.schema import BY_NAME, DERIVED, POSITION, canonical_header
from gis.crs import CRS_CHOICES, METRIC_CRS, metric_transformer, parse_crs
from gis.errors import Conflict, InvalidData, RowError
from gis.io import READERS, read_table
from gis.text import check_text

#: a Shapefile needs its .dbf/.shx/.prj beside it: it travels zipped (.zip), never as a lone .shp
UPLOAD_SUFFIXES = tuple(s for s in READERS if s != ".shp")
#: the coordinate systems the upload form offers ("" = the file's own, or WGS-84); parse_crs checks any other
UPLOAD_CRS = ("",) + CRS_CHOICES + (METRIC_CRS,)
#: export formats of the list page: URL suffix → (file suffix, media type)
EXPORT_FORMATS = {
    "csv": (".csv", "text/csv; charset=utf-8"),
    "xlsx": (".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "geojson": (".geojson", "application/geo+json"),
    "gpkg": (".gpkg", "application/geopackage+sqlite3"),
}


def upload_store(settings) -> UploadStore:
    """The camera files' uploads (``<var>/uploads/cameras/``)."""
    return UploadStore(settings.var_path, "cameras", UPLOAD_SUFFIXES, what="a camera table")


def upload_crs(raw) -> str:
    """The form's ``crs``: "" (the file's own, or WGS-84) or a :func:`gis.crs.parse_crs` value."""
    if raw is None or not str(raw).strip():
        return ""
    problem = check_text(str(raw), "crs", max_len=40)
    if problem is not None:
        raise InvalidData(problem)
    try:
        return parse_crs(raw)
    except InvalidData as exc:
        raise InvalidData(RowError(None, "crs", exc.errors[0].reason)) from None


# -- dry run and commit ---------------------------------------------------------------------------
def file_device_ids(path: Path) -> list[str]:
    """The device IDs a camera file names (its ``device_id`` column under any accepted header)."""
    table = read_table(path)
    for col in table.frame.columns:
        if canonical_header(col) == "device_id":
            return sorted({str(v).strip() for v in table.frame[col] if str(v).strip()})
    return []


def stored_versions(session: Session, ids: list[str], *, lock: bool = False) -> dict[str, int]:
    """``{device_id: version}`` of the stored cameras among ``ids`` (locked for the commit with ``lock``)."""
    if not ids:
        return {}
    rows = session.execute(text("SELECT device_id, version FROM cameras WHERE device_id = ANY(:ids)"
                                + (" FOR UPDATE" if lock else "")), {"ids": ids}).all()
    return {r[0]: r[1] for r in rows}


def _errors(errors: list[RowError]) -> list[dict]:
    return [{"line": e.line, "field": e.field, "reason": e.reason} for e in errors]


def _report(report) -> dict:
    return {"rows": report.rows, "added": report.added, "updated": report.updated, "unchanged": report.unchanged,
            "rejected": report.rejected}


def dry_run(session: Session, up: Upload, settings, *, actor: str) -> dict:
    """Check every row of the upload and count what a commit would do; writes nothing.

    The counts are those of a commit that skips the bad rows (``rejected`` of them); ``fatal`` says that the
    file could not be read as a camera table at all (unreadable, a required column missing), so nothing
    was counted. ``versions`` are the stored cameras the file names, as the commit must find them."""
    out = {"fatal": False, "summary": None, "errors": [], "ignored": [], "versions": {}}
    try:
        try:
            report = import_cameras(session, up.path, crs=up["crs"] or None, on_error="skip", dry_run=True, actor=actor,
                                    **registry_options(session, settings))
        except InvalidData as exc:
            out.update(fatal=True, errors=_errors(exc.errors))
            return out
        out.update(summary=_report(report), errors=_errors(report.errors), ignored=report.ignored_columns,
                   versions=stored_versions(session, file_device_ids(up.path)))
        return out
    finally:
        session.rollback()


class NewBadRows(InvalidData):
    """Rows the commit found bad that the dry run did not (the registry changed meanwhile)."""


def _changed_meanwhile(session: Session, before: dict[str, int], now: dict[str, int]) -> Conflict:
    ids = sorted(set(before) | set(now))
    changed = [d for d in ids if before.get(d) != now.get(d)]
    who = {r[0]: (r[1], r[2]) for r in session.execute(text(
        "SELECT device_id, updated_by, updated_at FROM cameras WHERE device_id = ANY(:ids)"), {"ids": changed})}
    exc = Conflict(f"{len(changed)} camera(s) of the file changed since the dry run: {', '.join(changed[:5])}"
                   f"{' …' if len(changed) > 5 else ''}; upload the file again to see the new dry run")
    exc.cameras = [{"device_id": d, "dry_run_version": before.get(d), "version": now.get(d),
                    "updated_by": who.get(d, (None, None))[0],
                    "updated_at": who[d][1].isoformat() if d in who and who[d][1] else None} for d in changed]
    return exc


def commit(session: Session, up: Upload, settings, *, dry_run: dict, actor: str,
           on_error: str | None = None) -> dict:
    """Import the upload for real, all or nothing (``reject``) or its good rows (``skip``); commits.

    ``dry_run`` is :func:`dry_run`'s report of the upload (what the commit must still find).

    Raises Conflict (cameras changed since the dry run, or during the import), InvalidData (bad rows with
    ``reject``) or :class:`NewBadRows` (with ``skip``: bad rows the dry run did not show); each time the
    transaction is rolled back and nothing is written."""
    on_error = on_error or up["on_error"]
    try:
        ids = file_device_ids(up.path)
        now = stored_versions(session, ids, lock=True)
        if now != dry_run.get("versions", {}):
            raise _changed_meanwhile(session, dry_run.get("versions", {}), now)
        report = import_cameras(session, up.path, crs=up["crs"] or None, on_error=on_error, actor=actor,
                                **registry_options(session, settings))
        seen = {(e["line"], e["field"], e["reason"]) for e in dry_run.get("errors", [])}
        new = [e for e in report.errors if (e.line, e.field, e.reason) not in seen]
        if new:
            raise NewBadRows(new, source=up.filename)
        session.commit()
    except IntegrityError:  # a camera of the file added by someone else between the check and the write
        session.rollback()
        raise Conflict("a camera of the file was added by someone else during the import; upload the file again") \
            from None
    except Exception:
        session.rollback()
        raise
    return {**_report(report), "errors": _errors(report.errors), "on_error": on_error}


def field_title(name: str | None, messages) -> str:
    """A row error's field by its Chinese name (``lon/lat`` → 经度/纬度); ``messages(key)`` names the rest."""
    if not name:
        return ""
    parts = []
    for part in name.split("/"):
        if part in BY_NAME:
            parts.append(BY_NAME[part].zh)
        elif part in POSITION:
            parts.append(POSITION[part])
        elif part in DERIVED:
            parts.append(DERIVED[part][0])
        elif part in ("geometry", "wkt"):
            parts.append(messages(f"cfile_field_{part}"))
        else:
            return name  # a column header of the file itself
    return "/".join(parts)


# -- export ------------------------------------------------------------------------------------------
def export_file(session: Session, fmt: str, device_ids: list[str], directory: Path, *,
                chinese_headers: bool = False) -> Path:
    """Write the cameras ``device_ids`` to ``directory/cameras<suffix>`` (``camera_registry.exporter``)."""
    from camera_registry.exporter import export_cameras

    path = Path(directory) / f"cameras{EXPORT_FORMATS[fmt][0]}"
    from app.layers_db import layer_style  # a GeoPackage opens in QGIS coloured like the dashboards

    style = layer_style("cameras") if path.suffix == ".gpkg" else None
    export_cameras(session, path, chinese_headers=chinese_headers, device_ids=device_ids, style=style)
    return path


# -- the map editor's frame -----------------------------------------------------------------------------
#: the finite-difference steps (m) of the frame's first and second derivatives: small enough that the
#: truncation error is nil, large enough that float rounding of degrees stays far below a millimetre
FRAME_STEP_M = (1.0, 200.0)


def map_frame(lon_wgs84: float, lat_wgs84: float, basemap: str) -> dict:
    """The local frame of EPSG:4544 at a point: display lon/lat as a quadratic in metres east and north.

    The server draws a camera's view sector in EPSG:4544 (``gis.viewshed.sectors_metric``: azimuth from
    grid north, range in metres) and projects it to lon/lat (then GCJ-02 on an Amap basemap). The browser
    draws the same polygon with ``display = origin + J·d + ½·dᵀ·H·d`` (``d`` = metres east and north of the
    grid), the projection's second-order expansion at the camera: at 2 km its error is about 0.2 mm, at
    300 m far less (the affine part alone is off by 4 mm at 300 m and 4 cm at 2 km).

    Returns ``lon``, ``lat`` (display), ``east``, ``north`` (display degrees per metre, ``[dlon, dlat]``) and
    ``ee``, ``en``, ``nn`` (second derivatives, degrees per m²)."""
    from layers.base import shift_lonlat

    fwd, inv = metric_transformer(), metric_transformer(inverse=True)
    x, y = fwd.transform(lon_wgs84, lat_wgs84)

    def display(dx, dy) -> np.ndarray:
        lon, lat = inv.transform(x + np.asarray(dx, dtype=float), y + np.asarray(dy, dtype=float))
        a, b = shift_lonlat(np.atleast_1d(lon), np.atleast_1d(lat), basemap)
        return np.column_stack([np.asarray(a, dtype=float), np.asarray(b, dtype=float)])

    h, k = FRAME_STEP_M
    o = display([0.0], [0.0])[0]
    d1 = display([h, -h, 0, 0], [0, 0, h, -h])
    d2 = display([k, -k, 0, 0, k, k, -k, -k], [0, 0, k, -k, k, -k, k, -k])
    return {"lon": float(o[0]), "lat": float(o[1]),
            "east": ((d1[0] - d1[1]) / (2 * h)).tolist(), "north": ((d1[2] - d1[3]) / (2 * h)).tolist(),
            "ee": ((d2[0] - 2 * o + d2[1]) / k**2).tolist(), "nn": ((d2[2] - 2 * o + d2[3]) / k**2).tolist(),
            "en": ((d2[4] - d2[5] - d2[6] + d2[7]) / (4 * k * k)).tolist()}
