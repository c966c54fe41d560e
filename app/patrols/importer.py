"""Import patrol tracks (巡查轨迹) of grid members: CSV (member_id, time, lon, lat) or GPX tracks.

CSV coordinates may be in any supported CRS (``crs``); GPX is WGS-84 by definition. Times without
an offset are district time in CSV and UTC in GPX (the GPX 1.1 schema says UTC). Every row is
checked first; nothing is written if any is bad. Points already stored for the same member and
instant are left alone, so importing a file twice changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import gpxpy
import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.crs import parse_coordinates, parse_crs
from gis.errors import InvalidData, RowError
from gis.io import read_table


@dataclass
class PatrolImport:
    points: int = 0
    inserted: int = 0
    existing: int = 0
    errors: list[RowError] = field(default_factory=list)


def resolve_member(session: Session, ref: str | int) -> int | None:
    """A member's id from its external id (``M00001``) or its numeric id."""
    ref = str(ref).strip()
    found = session.execute(text("SELECT id FROM members WHERE external_id = :r"), {"r": ref}).scalar()
    if found is None and ref.isdigit() and len(ref) < 10:
        found = session.execute(text("SELECT id FROM members WHERE id = :r"), {"r": int(ref)}).scalar()
    return found


def _gpx_rows(path: Path) -> tuple[pd.DataFrame, list[int]]:
    try:
        with open(path, encoding="utf-8") as fh:
            gpx = gpxpy.parse(fh)
    except Exception as exc:  # gpxpy raises GPXException or XML errors for a broken file
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
    return pd.DataFrame(rows), list(range(1, len(rows) + 1))


def import_patrols(session: Session, path: str | Path, *, member: str | int | None = None, crs: str | None = None,
                   settings=None) -> PatrolImport:
    """Import a patrol file; ``member`` (external or numeric id) is needed unless a CSV names members."""
    from app.geocoding import locate_codes
    from app.incidents.service import _default_settings

    settings = settings or _default_settings()
    path = Path(path)
    if path.suffix.lower() == ".gpx":
        frame, lines = _gpx_rows(path)
        crs = "wgs84"
    else:
        table = read_table(path)
        frame, lines = table.frame, table.lines
    errors: list[RowError] = []
    default_member = None
    if member is not None:
        default_member = resolve_member(session, member)
        if default_member is None:
            raise InvalidData(f"member {member!r} not found (use the member's external id, e.g. M00001)")
    n = len(frame)
    members = np.full(n, default_member, dtype=object)
    if "member_id" in frame.columns and default_member is None:
        cache: dict[str, int | None] = {}
        for i, ref in enumerate(frame["member_id"].astype(str)):
            if ref not in cache:
                cache[ref] = resolve_member(session, ref) if ref.strip() else None
            members[i] = cache[ref]
            if cache[ref] is None:
                errors.append(RowError(lines[i], "member_id", f"member {ref!r} not found" if ref.strip() else "missing"))
    elif default_member is None:
        raise InvalidData("say whose track this is: --member ID, or a member_id column", source=str(path))
    for col in ("time", "lon", "lat"):
        if col not in frame.columns:
            raise InvalidData(f"missing column {col!r}; expected member_id,time,lon,lat", source=str(path))
    times = []
    for i, v in enumerate(frame["time"]):
        try:
            ts = pd.Timestamp(v) if (not isinstance(v, str) or v.strip()) else pd.NaT
        except (ValueError, TypeError):
            ts = pd.NaT
        if pd.isna(ts):
            errors.append(RowError(lines[i], "time", f"{v!r} is not an ISO 8601 date-time"))
            times.append(None)
            continue
        times.append((ts.tz_localize(ZoneInfo(settings.timezone)) if ts.tzinfo is None else ts).to_pydatetime())
    lon, lat, coord_errors, ok = parse_coordinates(
        frame["lon"].astype(str), frame["lat"].astype(str), lines, crs=parse_crs(crs or "wgs84"),
        bbox=tuple(settings.district_bbox), margin_m=settings.extent_margin_m)
    errors.extend(coord_errors)
    if errors:
        raise InvalidData(sorted(errors, key=lambda e: (e.line or 0, e.field or "")), source=str(path))
    grids, _ = locate_codes(session, lon, lat)
    track = frame["track_id"] if "track_id" in frame.columns else pd.Series([path.stem] * n)
    records = [{"m": int(members[i]), "t": str(track.iloc[i])[:60], "at": times[i], "lon": float(lon[i]),
                "lat": float(lat[i]), "g": grids[i]} for i in range(n)]
    before = session.execute(text("SELECT count(*) FROM patrol_points")).scalar()
    session.execute(text(
        "INSERT INTO patrol_points (member_id, track_id, at, geom, grid_code) VALUES (:m, :t, :at, "
        "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :g) ON CONFLICT (member_id, at) DO NOTHING"), records)
    inserted = session.execute(text("SELECT count(*) FROM patrol_points")).scalar() - before
    return PatrolImport(points=n, inserted=inserted, existing=n - inserted)
