"""Patrols sent from the phone (手机巡查): batches of positions from the browser's ``watchPosition``, and
today's tracks of a user's grids for the map.

The points land in the same ``patrol_points`` table as imported tracks, checked by the importer's own
rules (``app.patrols.importer.validate``: time window of the district, coordinates inside its extent,
track name) and written by its writer (grid codes from the grid index; a point already stored for the
same member and instant is left alone), so a batch sent twice, or a resend after a lost answer, changes
nothing. Whose track it is comes from the log-in (the account's member), never from the request.
"""
from __future__ import annotations

import json
from datetime import datetime

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.dashboards.params import Params
from app.patrols.importer import validate, write_points
from app.patrols.models import PatrolPoint
from gis.errors import InvalidData, RowError
from gis.text import column_length
from layers.style import PATROL_TRACK_STYLE

#: most points one request may carry (the phone sends every 30 s or 20 points; a day offline is ~3000)
MAX_BATCH_POINTS = 1000
#: the phone keeps a fix when it moved (patrol.js: 10 m) or, standing still, once this long after the last
#: kept one; it sends when this many are waiting or this long passed
KEEP_EVERY_MS = 60_000
SEND_EVERY_POINTS = 20
SEND_EVERY_MS = 30_000
#: the largest accuracy (metres) a phone may report for a point it sends: beyond it, not a position
ACCURACY_MAX_M = 100_000.0
#: how today's tracks are drawn on the grid page (one definition; the page hands it to patrol.js)
TRACK_STYLE = PATROL_TRACK_STYLE  # layers/style.py, with the map's other styles


def _number_text(value) -> str:
    """A JSON number as the importer's coordinate reader takes it (an integer too large for a float: inf)."""
    if not isinstance(value, (int, float)):
        return str(value)
    try:
        return repr(float(value))
    except OverflowError:
        return "inf"


def _batch_frame(points) -> tuple[pd.DataFrame | None, list[RowError]]:
    """The batch as the importer's frame (time, lon, lat, accuracy_m), plus the problems of its shape:
    each point an object with ``at`` text and ``lon``/``lat`` numbers; ``accuracy_m`` optional. No frame
    when the batch itself is wrong (not a list, empty, too long)."""
    errors: list[RowError] = []
    if not isinstance(points, list) or not points:
        return None, [RowError(None, "points", "must be a non-empty list of {at, lon, lat, accuracy_m}")]
    if len(points) > MAX_BATCH_POINTS:
        return None, [RowError(None, "points", f"{len(points)} points: send at most {MAX_BATCH_POINTS} a request")]
    rows = []
    for i, point in enumerate(points):
        where = f"points[{i}]"
        if not isinstance(point, dict):
            errors.append(RowError(None, where, "must be an object {at, lon, lat, accuracy_m}"))
            rows.append({"time": "", "lon": "", "lat": "", "accuracy_m": None})
            continue
        at = point.get("at")
        if not isinstance(at, str):
            errors.append(RowError(None, f"{where}.at", "is required: an ISO 8601 time with its offset"))
            at = ""
        coords = {}
        for name in ("lon", "lat"):
            value = point.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                errors.append(RowError(None, f"{where}.{name}", "is required: a number (WGS-84 degrees)"))
                value = ""
            coords[name] = _number_text(value)
        p = Params(point)
        accuracy = p.number("accuracy_m", lo=0.0, hi=ACCURACY_MAX_M, what="the accuracy in metres")
        errors.extend(RowError(None, f"{where}.{e.field}", e.reason) for e in p.errors)
        rows.append({"time": at, **coords, "accuracy_m": accuracy})
    return pd.DataFrame(rows), errors


def record_points(session: Session, member_id: int, track_id, points, *, settings) -> dict:
    """Store a batch of the phone's positions for ``member_id``; every point is checked first, and a bad
    one refuses the batch (422 naming ``points[i].field``) so the phone can drop it and send the rest.

    Returns ``{"points": n, "accepted": new, "already": n - new}``: ``already`` counts points stored
    before (a resend) or twice in the batch.
    """
    limit = column_length(PatrolPoint.__table__.c.track_id)
    p = Params({"track_id": track_id})
    track = p.text("track_id", max_len=limit, required=True)
    frame, errors = _batch_frame(points)
    errors = p.errors + errors
    if frame is None:
        raise InvalidData(errors)
    frame["track_id"] = track or ""
    checked, problems = validate(session, frame, list(range(len(frame))), member=member_id, crs="wgs84",
                                 settings=settings, source="points")
    shaped = {e.field.split(".")[0] for e in errors}
    errors += [RowError(None, f"points[{e.line}].{'at' if e.field == 'time' else e.field}", e.reason)
               for e in problems if f"points[{e.line}]" not in shaped and e.field != "track_id"]
    if errors:
        raise InvalidData(errors)
    checked["accuracy_m"] = frame["accuracy_m"].to_numpy()
    inserted = write_points(session, checked, None)
    return {"points": len(checked), "accepted": inserted, "already": len(checked) - inserted}


def day_bounds(settings, day=None) -> tuple[datetime, datetime]:
    """Today (or ``day``) in the district's zone, as [start, end) instants."""
    from app.patrols.service import _day_bounds, district_zone

    tz = district_zone(settings)
    day = day or datetime.now(tz).date()
    return _day_bounds(day, day, tz)


def today_tracks(session: Session, grids, *, settings, basemap: str = "none") -> dict:
    """Today's patrol tracks inside ``grids`` as a GeoJSON FeatureCollection (display coordinates for
    ``basemap``): one feature per member and track, its points in time order (a line; a point when
    there is one), with the member's name, the point count and the first and last time."""
    from app.dashboards.service import local_iso
    from layers.base import to_display

    t0, t1 = day_bounds(settings)
    rows = session.execute(text(
        "SELECT p.member_id, m.name, p.track_id, count(*) AS points, min(p.at) AS first_at, max(p.at) AS last_at, "
        "ST_AsBinary(CASE WHEN count(*) > 1 THEN ST_MakeLine(p.geom ORDER BY p.at) ELSE ST_Collect(p.geom) END) "
        "AS geom FROM patrol_points p JOIN members m ON m.id = p.member_id "
        "WHERE p.at >= :t0 AND p.at < :t1 AND p.grid_code = ANY(:g) "
        "GROUP BY p.member_id, m.name, p.track_id ORDER BY m.name, p.member_id, min(p.at)"),
        {"t0": t0, "t1": t1, "g": sorted(grids)}).mappings().all()
    if not rows:
        return {"type": "FeatureCollection", "features": []}
    tz = settings.district.timezone
    frame = gpd.GeoDataFrame(
        [{"member_id": r["member_id"], "member": r["name"], "track_id": r["track_id"], "points": r["points"],
          "first_at": local_iso(r["first_at"], tz), "last_at": local_iso(r["last_at"], tz)} for r in rows],
        geometry=shapely.from_wkb([bytes(r["geom"]) for r in rows]), crs="EPSG:4326")
    return json.loads(to_display(frame, basemap).to_json(drop_id=True))
