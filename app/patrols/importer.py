"""Import patrol tracks (巡查轨迹) of grid members: CSV (member_id, time, lon, lat) or GPX tracks.

CSV coordinates may be in any supported CRS (``crs``); GPX is WGS-84 by definition. Times without
an offset are district time in CSV and UTC in GPX (the GPX 1.1 schema says UTC). Every row is
checked and every problem reported (line, field, reason): an unknown member, a time that is not
ISO 8601 or lies before the district's ``data_start_date`` or more than a day in the future, a
coordinate that is not a number or lies outside the district, a track name longer than its column or
with control characters (refused, never cut). Nothing is written if any row is bad, unless
``on_error="skip"`` writes the good ones. Points already stored for the same
member and instant are left alone, so importing a file twice changes nothing.
"""
from __future__ import annotations

import xml.parsers.expat
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import gpxpy
import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.incidents.importer import ImportReport, time_problem, time_window
from app.patrols.models import PatrolPoint
from gis.crs import parse_coordinates, parse_crs
from gis.errors import InvalidData, RowError, check_on_error
from gis.io import read_table
from gis.text import BLANKS, column_length, text_problem

CHUNK = 5000


@dataclass
class PatrolImport(ImportReport):
    """What a patrol import did (or, with ``dry_run``, would do); its rows are track points."""

    unit: str = "points"

    @property
    def points(self) -> int:
        return self.rows


def resolve_member(session: Session, ref: str | int) -> int | None:
    """A member's id from its external id (``M00001``) or its numeric id."""
    ref = str(ref).strip()
    found = session.execute(text("SELECT id FROM members WHERE external_id = :r"), {"r": ref}).scalar()
    if found is None and ref.isascii() and ref.isdigit() and len(ref) < 10:
        found = session.execute(text("SELECT id FROM members WHERE id = :r"), {"r": int(ref)}).scalar()
    return found


def _trkpt_lines(raw: bytes) -> list[int]:
    """The source line of every ``<trkpt>``, in document order (gpxpy keeps no positions)."""
    lines: list[int] = []
    parser = xml.parsers.expat.ParserCreate()

    def start(name, _attrs):
        if name == "trkpt" or name.endswith(":trkpt"):
            lines.append(parser.CurrentLineNumber)
    parser.StartElementHandler = start
    try:
        parser.Parse(raw, True)
    except xml.parsers.expat.ExpatError:
        return []
    return lines


def _gpx_rows(path: Path) -> tuple[pd.DataFrame, list[int]]:
    raw = path.read_bytes()
    try:
        gpx = gpxpy.parse(raw.decode("utf-8"))
    except Exception as exc:  # gpxpy raises GPXException, XML or decoding errors for a broken file
        raise InvalidData(f"cannot read the GPX file: {exc}", source=str(path)) from exc
    rows = []
    for t, track in enumerate(gpx.tracks, start=1):
        for segment in track.segments:
            for p in segment.points:
                at = "" if p.time is None else (p.time if p.time.tzinfo else p.time.replace(tzinfo=ZoneInfo("UTC")))
                rows.append({"track_id": track.name or f"{path.stem}-{t}", "time": at,
                             "lon": repr(p.longitude), "lat": repr(p.latitude)})
    if not rows:
        raise InvalidData("no track points in the GPX file (routes and waypoints are not tracks)", source=str(path))
    lines = _trkpt_lines(raw)
    if len(lines) != len(rows) or len(set(lines)) != len(lines):  # cannot tell them apart: number the points
        lines = list(range(1, len(rows) + 1))
    return pd.DataFrame(rows), lines


def _members(session: Session, frame: pd.DataFrame, lines, default: int | None, errors: list[RowError]) -> np.ndarray:
    """Member id of every row (None where unknown or missing: reported)."""
    members = np.full(len(frame), default, dtype=object)
    if default is not None:
        return members
    cache: dict[str, int | None] = {}
    for i, ref in enumerate(frame["member_id"].astype(str).str.strip(BLANKS)):
        problem = text_problem(ref)
        if problem is not None:  # a NUL would reach the database's text parameter
            errors.append(RowError(lines[i], "member_id", problem))
            continue
        if ref not in cache:
            cache[ref] = resolve_member(session, ref) if ref else None
        members[i] = cache[ref]
        if cache[ref] is None:
            errors.append(RowError(lines[i], "member_id", f"member {ref!r} not found (use the external id, "
                                                          "e.g. M00001)" if ref else "missing"))
    return members


def _times(values, lines, district, errors: list[RowError]) -> list:
    """Zoned datetimes (naive ones in the district's zone); None where missing, unparseable or out of the
    district's time window (reported)."""
    tz = district.timezone
    window = time_window(district)
    out = []
    for line, v in zip(lines, values):
        blank = isinstance(v, str) and not v.strip()
        try:
            ts = pd.NaT if blank else pd.Timestamp(v)
        except (ValueError, TypeError):
            ts = pd.NaT
        if pd.isna(ts):
            errors.append(RowError(line, "time", "missing" if blank else
                                   f"{v!r} is not an ISO 8601 date-time (e.g. 2025-03-01T08:30:00+08:00)"))
            out.append(None)
            continue
        at = (ts.tz_localize(ZoneInfo(tz)) if ts.tzinfo is None else ts).to_pydatetime()
        problem = time_problem(at, window, district)
        if problem is not None:
            errors.append(RowError(line, "time", problem))
            at = None
        out.append(at)
    return out


def _tracks(frame: pd.DataFrame, lines, source: str, errors: list[RowError]) -> pd.Series:
    """Each point's track name (the file's name without a track_id column); too long or unprintable: reported."""
    if "track_id" not in frame.columns:
        return pd.Series([Path(source).stem] * len(frame), dtype=object)
    track = frame["track_id"].astype(str).str.strip(BLANKS).reset_index(drop=True)
    limit = column_length(PatrolPoint.__table__.c.track_id)
    for i, value in enumerate(track):
        problem = text_problem(value, max_len=limit)
        if problem is not None:
            errors.append(RowError(lines[i], "track_id", problem))
            track.iloc[i] = None
    return track


def validate(session: Session, frame: pd.DataFrame, lines: list[int], *, member: int | None, crs: str | None,
             settings, source: str) -> tuple[pd.DataFrame, list[RowError]]:
    """Check every row; return the points (member, track, time, lon, lat, ``ok``) and every problem found."""
    if member is None and "member_id" not in frame.columns:
        raise InvalidData("say whose track this is: --member ID, or a member_id column", source=source)
    for col in ("time", "lon", "lat"):
        if col not in frame.columns:
            raise InvalidData(f"missing column {col!r}; expected member_id,time,lon,lat", source=source)
    errors: list[RowError] = []
    members = _members(session, frame, lines, member, errors)
    times = pd.Series(_times(frame["time"], lines, settings.district, errors), dtype=object)
    lon, lat, coord_errors, ok = parse_coordinates(
        frame["lon"].astype(str), frame["lat"].astype(str), lines, crs=parse_crs(crs or "wgs84"),
        bbox=settings.district.bbox, margin_m=settings.district.margin_m)
    errors.extend(coord_errors)
    track = _tracks(frame, lines, source, errors)
    points = pd.DataFrame({"member": members, "track": track.to_numpy(), "at": times,
                           "lon": lon, "lat": lat, "line": lines})
    points["ok"] = (np.asarray(ok) & points["member"].notna().to_numpy() & times.notna().to_numpy()
                    & track.notna().to_numpy())
    errors.sort(key=lambda e: (e.line or 0, e.field or ""))
    return points, errors


def import_patrols(session: Session, path: str | Path, *, member: str | int | None = None, crs: str | None = None,
                   dry_run: bool = False, on_error: str = "reject", settings, progress=None) -> PatrolImport:
    """Import a patrol file; ``member`` (external or numeric id) is needed unless a CSV names members.

    Parameters
    ----------
    crs : str, optional
        CRS of a CSV's lon/lat (``parse_crs`` value); default WGS-84. GPX is always WGS-84.
    dry_run : bool
        Check every row and count what would be written; write nothing.
    on_error : {"reject", "skip"}
        ``reject`` writes nothing when any row is bad (raises ``InvalidData`` listing every problem);
        ``skip`` writes the good rows and lists the bad ones in the report.
    settings : app.config.Settings
        The deployment's settings (built once at the composition root): district extent and time zone.
    progress : callable(int), optional
        Called with the number of points handled after each chunk (the CLI's tqdm bar).
    """
    check_on_error(on_error)
    path = Path(path)
    if path.suffix.lower() == ".gpx":
        frame, lines = _gpx_rows(path)
        crs = "wgs84"
    else:
        table = read_table(path)
        frame, lines = table.frame, table.lines
    default_member = None
    if member is not None:
        default_member = resolve_member(session, member)
        if default_member is None:
            raise InvalidData(f"member {member!r} not found (use the member's external id, e.g. M00001)")
    points, errors = validate(session, frame, list(lines), member=default_member, crs=crs, settings=settings,
                              source=str(path))
    report = PatrolImport(rows=len(points), errors=errors, dry_run=dry_run, rejected=int((~points["ok"]).sum()))
    if errors and on_error == "reject":
        raise InvalidData(errors, source=str(path))
    good = points[points["ok"]]
    report.inserted = _count_new(session, good) if dry_run else write_points(session, good, progress)
    report.existing = len(good) - report.inserted
    return report


def _arrays(points: pd.DataFrame) -> dict:
    return {"m": [int(m) for m in points["member"]], "at": list(points["at"])}


def _count_new(session: Session, good: pd.DataFrame) -> int:
    """Points a real run would insert: first of each (member, instant) in the file and not yet stored."""
    unique = good.drop_duplicates(subset=["member", "at"])
    if unique.empty:
        return 0
    stored = session.execute(text(
        "SELECT count(*) FROM unnest(CAST(:m AS integer[]), CAST(:at AS timestamptz[])) AS u(m, at) "
        "JOIN patrol_points p ON p.member_id = u.m AND p.at = u.at"), _arrays(unique)).scalar()
    return len(unique) - stored


def write_points(session: Session, good: pd.DataFrame, progress) -> int:
    """Insert checked points (``validate``'s frame; an ``accuracy_m`` column, metres, when the phone sent
    them: ``app.patrols.phone``) with grid codes from the grid index; return how many were new."""
    from app.geocoding import locate_codes

    if good.empty:
        return 0
    grids, _ = locate_codes(session, good["lon"].to_numpy(), good["lat"].to_numpy())
    insert = text(
        "INSERT INTO patrol_points (member_id, track_id, at, geom, grid_code, accuracy_m) "
        "SELECT m, t, at, ST_SetSRID(ST_MakePoint(x, y), 4326), g, a FROM unnest(CAST(:m AS integer[]), "
        "CAST(:t AS text[]), CAST(:at AS timestamptz[]), CAST(:x AS float8[]), CAST(:y AS float8[]), "
        "CAST(:g AS text[]), CAST(:a AS float8[])) AS u(m, t, at, x, y, g, a) ON CONFLICT (member_id, at) DO NOTHING")
    accuracy = (good["accuracy_m"] if "accuracy_m" in good.columns else pd.Series([None] * len(good))).tolist()
    inserted = 0
    for k in range(0, len(good), CHUNK):
        part = good.iloc[k:k + CHUNK]
        params = _arrays(part) | {"t": list(part["track"]), "x": [float(v) for v in part["lon"]],
                                  "y": [float(v) for v in part["lat"]], "g": list(grids[k:k + CHUNK]),
                                  "a": [None if v is None or v != v else float(v) for v in accuracy[k:k + CHUNK]]}
        inserted += session.execute(insert, params).rowcount
        if progress:
            progress(len(part))
    return inserted
