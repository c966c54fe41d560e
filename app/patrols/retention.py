"""Patrol-point retention (巡查轨迹保留期): ``gridwatch patrols prune`` removes the track points older than the
setting ``patrol_retention_days``.

A city's members send millions of points a day; nobody reads a track of three years ago, and the table
would only grow. Points go in batches, each its own transaction (a prune of months of points neither holds
one huge transaction nor stops the phones writing), oldest first through the BRIN index on ``at``
(migration 0014). One audit row records what went (how many points, older than which time, by whom): the
points themselves are not audited row by row.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from app.audit.models import PRUNED_PATROLS
from gis.errors import InvalidData

BATCH = 50_000  # points per transaction


@dataclass(frozen=True)
class PruneReport:
    cutoff: datetime            # points reported before this instant go
    matched: int                # how many there were
    removed: int                # how many were removed (0 on a dry run)
    oldest_kept: datetime | None


def cutoff_of(days: int, now: datetime | None = None) -> datetime:
    """The instant before which points are older than ``days`` days (``now``: the clock, UTC)."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InvalidData(f"patrol_retention_days: {days!r}; set a number of days ≥ 1 to prune "
                          "(0 keeps every point for ever, so there is nothing to prune)")
    return (now or datetime.now(timezone.utc)) - timedelta(days=days)


def prune_patrols(db, days: int, *, now: datetime | None = None, dry_run: bool = False, batch: int = BATCH,
                  progress=None) -> PruneReport:
    """Remove the patrol points older than ``days`` days, ``batch`` per transaction; ``progress(n)`` after each.

    ``db`` is an :class:`app.db.Database`. Returns what matched and what was removed."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise InvalidData(f"batch: {batch!r}; give a whole number of points ≥ 1")
    cut = cutoff_of(days, now)
    with db.session() as s:
        matched = s.scalar(text("SELECT count(*) FROM patrol_points WHERE at < :c"), {"c": cut})
    removed = 0
    if not dry_run:
        while removed < matched:
            with db.session() as s:
                n = s.execute(text("DELETE FROM patrol_points WHERE id IN (SELECT id FROM patrol_points "
                                   "WHERE at < :c ORDER BY at LIMIT :n)"), {"c": cut, "n": batch}).rowcount
            if not n:
                break
            removed += n
            if progress:
                progress(n)
        if removed:
            with db.session() as s:
                s.execute(text("INSERT INTO audit_log (actor, object_type, object_id, action, before) "
                               "VALUES (left(coalesce(nullif(current_setting('gridwatch.actor', true), ''), 'db:' || session_user), 120), "
                               ":t, :id, 'delete', CAST(:before AS jsonb))"),
                          {"t": PRUNED_PATROLS, "id": f"before {cut.isoformat(timespec='seconds')}",
                           "before": json.dumps({"points": removed, "older_than": cut.isoformat(),
                                                 "retention_days": days})})
    with db.session() as s:
        oldest = s.scalar(text("SELECT min(at) FROM patrol_points"))
    return PruneReport(cutoff=cut, matched=int(matched), removed=removed, oldest_kept=oldest)
