"""The demo's dates follow the clock: ``load-demo`` moves every time of the demo by whole days.

The files in ``data/demo`` show the district at the end of 2025 and never change (they are
byte-identical output of ``data/generate``). At load time every time the demo writes (incidents:
reported_at, dispatched_at, deadline, closed_at, updated_at, and their events; the members' patrol
points) moves by the same whole number of days, so the newest time in the files lands within the last
24 hours of ``now``, at the same wall-clock time in the district's zone.

Why whole days, not weeks: the files are frozen at their snapshot, so between the snapshot and
``now`` nothing closes. Open incidents past their deadline are ~14 % at the snapshot, ~40 % a day
later and ~90 % a week later; whole weeks would keep the weekend dip on Saturdays but leave the
snapshot up to 7 days behind the clock. Whole days keep the daily rhythm (peaks 9–11 h and 14–17 h,
patrols in office hours) and the snapshot less than a day behind; the weekend dip then falls on
other weekdays, which no page shows. Camera install dates are not moved: an install date is a fact
about the device, and the registry's history of it is real.

Re-loading is idempotent: each incident's applied shift is read back from the database (its stored
reported_at against the file's), so a second load the same day moves nothing, and a later day
moves every row by the difference, without new rows. An incident someone has worked on (an event by
anyone but ``load-demo``) keeps its real timeline. The demo's patrol points carry a track id starting
``load-demo:``; when their dates are stale they are replaced as a whole (moving them in place could
collide with the (member, instant) key).
"""
from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

DEMO_ACTOR = "load-demo"  # the one definition: app.incidents.bulk and app.loaders record it
TRACK_PREFIX = f"{DEMO_ACTOR}:"
DAY = timedelta(days=1)
TIME_COLUMNS = ("reported_at", "dispatched_at", "deadline", "closed_at", "updated_at")  # of incidents


@dataclass(frozen=True)
class DemoTimes:
    """The times in the demo files: incidents' reported_at by external id, the patrol rows, the newest."""

    reported: dict[str, datetime]
    patrols: list[dict]
    newest: datetime


def _csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def read_times(demo: Path) -> DemoTimes:
    """Read the times of ``incidents.csv`` and ``patrols.csv`` (ISO 8601 with offsets, as generated)."""
    incidents = _csv(demo / "incidents.csv")
    patrols = _csv(demo / "patrols.csv") if (demo / "patrols.csv").exists() else []
    reported = {r["external_id"]: datetime.fromisoformat(r["reported_at"]) for r in incidents}
    for r in patrols:
        r["at"] = datetime.fromisoformat(r["time"])
    stamps = list(reported.values()) + [datetime.fromisoformat(r["closed_at"]) for r in incidents if r["closed_at"]]
    stamps += [r["at"] for r in patrols]
    return DemoTimes(reported, patrols, max(stamps))


def shift_days(newest: datetime, now: datetime, tz: ZoneInfo) -> int:
    """Whole days ``d`` such that ``newest`` moved by ``d`` days (same wall-clock time in ``tz``) is
    at most ``now`` and less than a day before it; negative when ``now`` is before ``newest``."""
    wall = now.astimezone(tz).replace(tzinfo=None) - newest.astimezone(tz).replace(tzinfo=None)
    return wall // DAY


def moved(at: datetime, days: int, tz: ZoneInfo) -> datetime:
    """``at`` moved by ``days`` calendar days at the same wall-clock time in ``tz``."""
    return (at.astimezone(tz).replace(tzinfo=None) + timedelta(days=days)).replace(tzinfo=tz)


def _shifted(column: str) -> str:
    return f"(({column} AT TIME ZONE :tz) + make_interval(days => d.delta)) AT TIME ZONE :tz"


def rebase_incidents(session: Session, times: DemoTimes, days: int, tz: ZoneInfo) -> int:
    """Move the demo's untouched incidents and their events so each lies ``days`` after the file.

    Returns how many incidents moved (0 when they already lie there)."""
    sets = ", ".join(f"{c} = {_shifted('i.' + c)}" for c in TIME_COLUMNS)
    result = session.execute(text(
        "WITH f AS (SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:rep AS timestamptz[])) AS f(ext, rep)), "
        "d AS (SELECT i.id, :days - (CAST(i.reported_at AT TIME ZONE :tz AS date) "
        "                            - CAST(f.rep AT TIME ZONE :tz AS date)) AS delta "
        "      FROM incidents i JOIN f ON f.ext = i.external_id "
        "      WHERE NOT EXISTS (SELECT 1 FROM incident_events e WHERE e.incident_id = i.id AND e.actor <> :actor)), "
        "m AS (SELECT * FROM d WHERE delta <> 0), "
        f"ev AS (UPDATE incident_events e SET at = {_shifted('e.at')} FROM m d WHERE e.incident_id = d.id RETURNING 1) "
        f"UPDATE incidents i SET {sets} "
        "FROM m d WHERE i.id = d.id"),
        {"ids": list(times.reported), "rep": list(times.reported.values()), "days": days, "tz": tz.key,
         "actor": DEMO_ACTOR})
    return result.rowcount


def load_patrols(session: Session, times: DemoTimes, days: int, tz: ZoneInfo, settings) -> int:
    """The demo's patrol points, ``days`` after the file, through the patrol importer; returns their number.

    Stored demo points already at those times are left alone; otherwise they are replaced."""
    from app.patrols.importer import import_patrols

    if not times.patrols:
        return 0
    rows = [{"member_id": r["member_id"], "at": moved(r["at"], days, tz), "lon": r["lon"], "lat": r["lat"]}
            for r in times.patrols]
    want = (len(rows), min(r["at"] for r in rows), max(r["at"] for r in rows))
    mine = {"k": len(TRACK_PREFIX), "prefix": TRACK_PREFIX}
    have = tuple(session.execute(text(
        "SELECT count(*), min(at), max(at) FROM patrol_points WHERE left(track_id, :k) = :prefix"), mine).one())
    if have == want:
        return len(rows)
    session.execute(text("DELETE FROM patrol_points WHERE left(track_id, :k) = :prefix"), mine)
    with tempfile.TemporaryDirectory(prefix="gridwatch-demo-") as tmp:
        path = Path(tmp) / "patrols.csv"
        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["member_id", "track_id", "time", "lon", "lat"])
            w.writerows([r["member_id"], f"{TRACK_PREFIX}{r['member_id']}:{r['at']:%Y%m%d}", r["at"].isoformat(),
                         r["lon"], r["lat"]] for r in rows)
        import_patrols(session, path, on_error="reject", settings=settings)
    return len(rows)


def demo_shift(times: DemoTimes, tz: ZoneInfo, *, now: datetime | None, keep_dates: bool) -> int:
    """The whole days the demo moves: 0 with ``keep_dates``, else to the clock (or ``now``)."""
    if keep_dates:
        return 0
    return shift_days(times.newest, now or datetime.now(timezone.utc), tz)
