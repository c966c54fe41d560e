"""Bulk import of historical incidents (事件批量导入) from CSV, Excel or GeoJSON.

Columns: ``external_id`` (required, the idempotency key), ``category``, ``source``, ``description``,
``address``, ``lon``/``lat`` (or a point geometry), ``priority`` (default normal), ``reported_at``
(ISO 8601; without an offset it is district time), ``reporter_name``, ``reporter_phone``,
``reporter_email``, ``state`` (default reported), ``dispatched_at`` (optional) and ``closed_at``
(required when closed): :data:`COLUMNS`, which ``gridwatch export incidents`` writes too
(``category_code``, the column's name in the database and in older exports, is read as ``category``).
Every row is checked and every problem reported (line, field, reason): texts longer than their
column or carrying control or bidirectional-override characters, dates before the district's
``data_start_date`` or more than a day in the future. Nothing is written unless every row is good, or
``on_error="skip"`` writes the good ones. Rows whose ``external_id`` is already stored are left alone,
so a second run changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.incidents.models import DESCRIPTION_MAX, OPEN_STATES, PRIORITIES, SOURCES, STATES, Incident
from gis.crs import parse_coordinates, parse_crs
from gis.errors import InvalidData, RowError, check_on_error
from gis.io import read_table
from gis.text import BLANKS, column_length, text_problem

DISPATCHED_STATES = ("dispatched", "in_progress", "resolved", "closed")
CHUNK = 2000
#: the columns an import reads and an export writes, in the export's order (plus lon/lat or a geometry)
COLUMNS = ("external_id", "category", "source", "description", "address", "priority", "state", "reported_at",
           "dispatched_at", "closed_at", "reporter_name", "reporter_phone", "reporter_email")
#: other names a column is read under: the database's own name, which earlier exports wrote
ALIASES = {"category_code": "category"}
#: free-text columns checked with gis.text (their size read from the model); only a description is multi-line
TEXTS = ("external_id", "description", "address", "reporter_name", "reporter_phone", "reporter_email")
TIMES = ("reported_at", "dispatched_at", "closed_at")


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    rows: int = 0
    inserted: int = 0
    existing: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    unit: str = "rows"  # what a row is, in the summary

    def summary(self) -> str:
        verb = "would insert" if self.dry_run else "inserted"
        return (f"{self.rows} {self.unit}: {verb} {self.inserted}, already stored {self.existing}, "
                f"bad rows skipped {self.rejected}")


def _text(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].fillna("").astype(str).str.strip(BLANKS)
    return pd.Series([""] * len(frame), index=frame.index)


def _canonical(frame: pd.DataFrame, source: str | None) -> pd.DataFrame:
    """Columns under their :data:`COLUMNS` names; a column named twice (``category`` and ``category_code``) is refused."""
    renamed = {c: ALIASES.get(str(c).strip(), str(c).strip()) for c in frame.columns}
    named = list(renamed.values())
    twice = sorted({n for n in named if named.count(n) > 1})
    if twice:
        raise InvalidData([RowError(1, n, f"two columns name {n!r} ({', '.join(c for c, m in renamed.items() if m == n)}); "
                                    "keep one of them") for n in twice], source=source)
    return frame.rename(columns=renamed)


def time_window(district, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The instants (UTC) a historical record may carry: from the district's ``data_start`` (local midnight)
    to one day after ``now`` (clocks and zones differ; a record from the future is a typing error)."""
    start = datetime.combine(district.data_start, time(0), tzinfo=ZoneInfo(district.timezone))
    now = now or datetime.now(timezone.utc)
    return start.astimezone(timezone.utc), now + timedelta(days=1)


def time_problem(ts, window: tuple[datetime, datetime], district) -> str | None:
    """Why the instant ``ts`` lies outside ``window`` (:func:`time_window`), or None."""
    lo, hi = window
    if ts < lo:
        return (f"{ts.astimezone(ZoneInfo(district.timezone)).isoformat()} is before the district's first date "
                f"{district.data_start.isoformat()} (setting data_start_date)")
    if ts > hi:
        return (f"{ts.astimezone(ZoneInfo(district.timezone)).isoformat()} is more than a day in the future")
    return None


def _check_texts(out: pd.DataFrame, flag) -> None:
    """Length (from the column), control and bidi characters of every free-text field."""
    for name in TEXTS:
        limit = DESCRIPTION_MAX if name == "description" else column_length(Incident.__table__.c[name])
        problems = [text_problem(v, max_len=limit, multiline=name == "description") if v else None
                    for v in out[name]]
        flag(np.array([p is not None for p in problems], dtype=bool), name, lambda i, p=problems: p[i])


def _times(values: pd.Series, tz: str) -> pd.Series:
    """Parse ISO 8601 strings to UTC timestamps; naive ones are district time. NaT where unparseable."""
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    for i, v in values.items():
        if not v:
            continue
        try:
            ts = pd.Timestamp(v)
        except (ValueError, TypeError):
            continue
        if pd.isna(ts):
            continue
        out[i] = (ts.tz_localize(ZoneInfo(tz)) if ts.tzinfo is None else ts).tz_convert("UTC")
    return out


def _coordinates(table, crs: str | None, settings):
    if table.geometry is not None and "lon" not in table.frame.columns:
        geom = table.geometry
        is_point = geom.notna() & (geom.geom_type == "Point")
        xs = [str(g.x) if ok else "" for g, ok in zip(geom, is_point)]
        ys = [str(g.y) if ok else "" for g, ok in zip(geom, is_point)]
        crs = crs or table.crs or "wgs84"
        fields = ("geometry", "geometry")
    else:
        xs, ys, fields = list(_text(table.frame, "lon")), list(_text(table.frame, "lat")), ("lon", "lat")
    return parse_coordinates(xs, ys, table.lines, crs=parse_crs(crs or "wgs84"), bbox=settings.district.bbox,
                             margin_m=settings.district.margin_m, fields=fields)


def validate(session: Session, table, *, crs: str | None, settings) -> tuple[pd.DataFrame, list[RowError]]:
    """Check every row; return the normalised frame (with ``ok``) and every problem found."""
    from app.geocoding import locate_codes

    f = _canonical(table.frame, source=None)
    n = len(f)
    lines = np.asarray(table.lines)
    errors: list[RowError] = []
    bad = np.zeros(n, dtype=bool)

    def flag(mask, fld, reason_fn):
        for i in np.flatnonzero(np.asarray(mask)):
            errors.append(RowError(int(lines[i]), fld, reason_fn(i)))
        bad[np.asarray(mask)] = True

    out = pd.DataFrame({c: _text(f, c) for c in ("external_id", "category", "source", "description", "address",
                                                 "priority", "reporter_name", "reporter_phone", "reporter_email",
                                                 "state")})
    out["priority"] = out["priority"].where(out["priority"] != "", "normal")
    out["state"] = out["state"].where(out["state"] != "", "reported")
    cats = set(session.execute(text("SELECT code FROM categories")).scalars())
    ext = out["external_id"]
    flag(ext == "", "external_id", lambda i: "missing: every row needs an external_id (the re-import key)")
    _check_texts(out, flag)
    dup = ext.duplicated(keep="first") & (ext != "")
    first_line = dict(zip(ext[~ext.duplicated()], lines[~ext.duplicated().to_numpy()]))
    flag(dup, "external_id", lambda i: f"{ext.iloc[i]!r} already used on line {first_line[ext.iloc[i]]}")
    flag(~out["category"].isin(cats), "category",
         lambda i: f"unknown category {out['category'].iloc[i]!r}; known: {', '.join(sorted(cats))}")
    flag(~out["source"].isin(SOURCES), "source",
         lambda i: f"{out['source'].iloc[i]!r} is not one of {', '.join(SOURCES)}")
    flag(~out["priority"].isin(PRIORITIES), "priority",
         lambda i: f"{out['priority'].iloc[i]!r} is not one of {', '.join(PRIORITIES)}")
    flag(~out["state"].isin(STATES), "state", lambda i: f"{out['state'].iloc[i]!r} is not one of {', '.join(STATES)}")
    window = time_window(settings.district)
    for name in TIMES:
        raw = _text(f, name)
        out[name] = _times(raw, settings.district.timezone)
        flag((raw != "") & out[name].isna(), name,
             lambda i, raw=raw: f"{raw.iloc[i]!r} is not an ISO 8601 date-time (e.g. 2025-03-01T08:30:00+08:00)")
        problems = [None if pd.isna(t) else time_problem(t, window, settings.district) for t in out[name]]
        flag(np.array([p is not None for p in problems], dtype=bool), name, lambda i, p=problems: p[i])
    flag(_text(f, "reported_at") == "", "reported_at", lambda i: "missing")
    flag(~out["state"].isin(DISPATCHED_STATES) & out["dispatched_at"].notna(), "dispatched_at",
         lambda i: f"an incident in state {out['state'].iloc[i]!r} was not dispatched: leave dispatched_at empty")
    closed = out["state"] == "closed"
    flag(closed & out["closed_at"].isna() & (_text(f, "closed_at") == ""), "closed_at",
         lambda i: "a closed incident needs closed_at")
    flag(out["state"].isin(OPEN_STATES) & out["closed_at"].notna(), "closed_at",
         lambda i: f"an incident in state {out['state'].iloc[i]!r} cannot have closed_at")
    flag(out["closed_at"] < out["reported_at"], "closed_at", lambda i: "earlier than reported_at")
    flag(out["dispatched_at"] < out["reported_at"], "dispatched_at", lambda i: "earlier than reported_at")
    lon, lat, coord_errors, ok = _coordinates(table, crs, settings)
    errors.extend(coord_errors)
    bad |= ~np.asarray(ok)
    out["lon"], out["lat"] = lon, lat
    grids = np.full(n, None, dtype=object)
    comms = np.full(n, None, dtype=object)
    if np.asarray(ok).any():
        g, c = locate_codes(session, lon[ok], lat[ok])
        grids[ok], comms[ok] = list(g), list(c)
    outside = np.asarray(ok) & np.array([not (isinstance(g, str) and g) for g in grids])
    flag(outside, "lon/lat", lambda i: f"({lon[i]:.6f}, {lat[i]:.6f}) lies outside every grid of the district")
    out["grid_code"], out["community_code"] = grids, comms
    out["line"] = lines
    out["ok"] = ~bad
    errors.sort(key=lambda e: (e.line or 0, e.field or ""))
    return out, errors


def import_incidents(session: Session, path: str | Path, *, crs: str | None = None, dry_run: bool = False,
                     on_error: str = "reject", actor: str = "import", settings, progress=None) -> ImportReport:
    """Import historical incidents from ``path``; see the module docstring for the columns.

    Parameters
    ----------
    crs : str, optional
        CRS of lon/lat (``parse_crs`` value); default the file's own (GeoJSON) or WGS-84.
    on_error : {"reject", "skip"}
        ``reject`` writes nothing when any row is bad (raises ``InvalidData`` listing every problem);
        ``skip`` writes the good rows and lists the bad ones in the report.
    settings : app.config.Settings
        The deployment's settings (built once at the composition root): district extent and time zone.
    progress : callable(int), optional
        Called with the number of rows written after each chunk (the CLI's tqdm bar).
    """
    check_on_error(on_error)
    table = read_table(path)
    rows, errors = validate(session, table, crs=crs, settings=settings)
    report = ImportReport(rows=len(rows), errors=errors, dry_run=dry_run, rejected=int((~rows["ok"]).sum()))
    if errors and on_error == "reject":
        raise InvalidData(errors, source=str(path))
    good = rows[rows["ok"]]
    stored = set(session.execute(text("SELECT external_id FROM incidents WHERE external_id = ANY(:ids)"),
                                 {"ids": list(good["external_id"])}).scalars())
    new = good[~good["external_id"].isin(stored)]
    report.existing, report.inserted = len(good) - len(new), len(new)
    if dry_run or new.empty:
        return report
    _write(session, new, actor=actor, source_name=Path(path).name, progress=progress)
    return report


def _py(ts):
    return None if pd.isna(ts) else ts.to_pydatetime()


def _write(session: Session, new: pd.DataFrame, *, actor: str, source_name: str, progress) -> None:
    dispatched = new["state"].isin(DISPATCHED_STATES)
    # historical rows rarely carry a dispatch time: the clock starts at the report then
    disp = new["dispatched_at"].where(new["dispatched_at"].notna(), new["reported_at"]).where(dispatched)
    records = [{
        "external_id": r.external_id, "category": r.category, "source": r.source, "description": r.description,
        "address": r.address or None, "priority": r.priority, "reporter_name": r.reporter_name or None,
        "reporter_phone": r.reporter_phone or None, "reporter_email": r.reporter_email or None, "state": r.state,
        "reported_at": _py(r.reported_at), "dispatched_at": _py(d), "closed_at": _py(r.closed_at),
        "lon": float(r.lon), "lat": float(r.lat), "grid_code": r.grid_code, "community_code": r.community_code,
    } for r, d in zip(new.itertuples(index=False), disp)]
    insert = text(
        "INSERT INTO incidents (external_id, category_code, source, description, address, priority, reporter_name, "
        "reporter_phone, reporter_email, state, reported_at, dispatched_at, closed_at, updated_at, grid_code, "
        "community_code, geom) VALUES (:external_id, :category, :source, :description, :address, :priority, "
        ":reporter_name, :reporter_phone, :reporter_email, :state, :reported_at, :dispatched_at, :closed_at, "
        "coalesce(:closed_at, :dispatched_at, :reported_at), :grid_code, :community_code, "
        "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) ON CONFLICT (external_id) DO NOTHING")
    for k in range(0, len(records), CHUNK):
        session.execute(insert, records[k:k + CHUNK])
        if progress:
            progress(len(records[k:k + CHUNK]))
    ids = list(new["external_id"])
    # deadline from the category table, assignee = the grid's lead, as a live dispatch would set them
    session.execute(text(
        "UPDATE incidents i SET deadline = i.dispatched_at + make_interval(secs => 3600 * CASE i.priority "
        "WHEN 'urgent' THEN c.urgent_h WHEN 'high' THEN c.high_h WHEN 'low' THEN c.low_h ELSE c.normal_h END), "
        "assignee_id = (SELECT member_id FROM member_roles r WHERE r.grid_code = i.grid_code AND r.role = 'lead') "
        "FROM categories c WHERE c.code = i.category_code AND i.dispatched_at IS NOT NULL "
        "AND i.external_id = ANY(:ids)"), {"ids": ids})
    # a minimal timeline that replays to the stored state: the report, then one step to where it is now
    note = f"historical record imported from {source_name}; intermediate steps were not recorded"
    session.execute(text(
        "INSERT INTO incident_events (incident_id, at, actor, action, from_state, to_state, note) "
        "SELECT id, reported_at, :actor, 'report', NULL, 'reported', :note FROM incidents "
        "WHERE external_id = ANY(:ids)"), {"ids": ids, "actor": actor, "note": note})
    session.execute(text(
        "INSERT INTO incident_events (incident_id, at, actor, action, from_state, to_state, note) "
        "SELECT id, coalesce(closed_at, dispatched_at, reported_at), :actor, 'import', 'reported', state, :note "
        "FROM incidents WHERE external_id = ANY(:ids) AND state <> 'reported'"),
        {"ids": ids, "actor": actor, "note": note})
