"""Patrol-point retention: ``gridwatch patrols prune`` removes exactly the points older than the retention."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from app.patrols.retention import cutoff_of, prune_patrols
from gis.errors import InvalidData


def _counts(db, cut):
    with db.session() as s:
        return s.execute(text("SELECT count(*) FILTER (WHERE at < :c), count(*) FILTER (WHERE at >= :c), "
                              "coalesce(sum(id) FILTER (WHERE at >= :c), 0) FROM patrol_points"), {"c": cut}).one()


def _spread_points(db):
    """Move the demo's points over the last 400 days (one point per member and time stays unique)."""
    with db.session() as s:
        s.execute(text("UPDATE patrol_points SET at = now() - make_interval(days => (id * 7919) % 400, "
                       "secs => id % 86400)"))
        return s.scalar(text("SELECT count(*) FROM patrol_points"))


def test_prune_removes_exactly_the_older_points_in_batches_and_writes_one_audit_row(demo_db):
    total = _spread_points(demo_db)
    assert total > 100
    now = datetime.now(timezone.utc)
    cut = cutoff_of(90, now)
    old, kept, kept_ids = _counts(demo_db, cut)
    assert old > 0 and kept > 0
    steps = []
    rep = prune_patrols(demo_db, 90, now=now, batch=max(1, old // 5), progress=steps.append)
    assert rep.matched == old and rep.removed == old and sum(steps) == old and len(steps) >= 5
    assert _counts(demo_db, cut) == (0, kept, kept_ids)          # the kept points are the very same rows
    assert rep.oldest_kept >= cut
    with demo_db.session() as s:
        row = s.execute(text("SELECT object_id, action, before FROM audit_log WHERE object_type = 'patrol_points' "
                             "ORDER BY id DESC LIMIT 1")).one()
    assert row.action == "delete" and row.before["points"] == old and row.before["retention_days"] == 90
    assert json.dumps(row.before)  # kept as JSON
    again = prune_patrols(demo_db, 90, now=now)
    assert again.matched == 0 and again.removed == 0


def test_a_dry_run_counts_and_removes_nothing(demo_db):
    _spread_points(demo_db)
    now = datetime.now(timezone.utc)
    before = _counts(demo_db, cutoff_of(30, now))
    rep = prune_patrols(demo_db, 30, now=now, dry_run=True)
    assert rep.matched == before[0] > 0 and rep.removed == 0
    assert _counts(demo_db, cutoff_of(30, now)) == before


@pytest.mark.parametrize("days", [0, -3, True, 2.5])
def test_a_retention_that_keeps_everything_or_is_not_days_is_refused(days):
    with pytest.raises(InvalidData, match="patrol_retention_days"):
        cutoff_of(days)


def test_the_command_refuses_retention_zero_and_prunes_with_days(demo_db, cli):
    _spread_points(demo_db)
    refused = cli(demo_db, "patrols", "prune")
    assert refused.exit_code != 0 and "patrol_retention_days" in refused.output
    cut = datetime.now(timezone.utc) - timedelta(days=200)
    old, kept, _ids = _counts(demo_db, cut)
    dry = cli(demo_db, "patrols", "prune", "--days", "200", "--dry-run")
    assert dry.exit_code == 0 and f"{old} patrol points" in dry.output and "dry run" in dry.output
    done = cli(demo_db, "patrols", "prune", "--days", "200")
    assert done.exit_code == 0 and f"{old} patrol points" in done.output
    left_old, left_kept, _ = _counts(demo_db, cut + timedelta(seconds=30))  # the command ran a moment later
    assert left_old == 0 and left_kept <= kept


def test_the_setting_is_checked():
    from app.config import Settings

    with pytest.raises(ValueError, match="patrol_retention_days"):
        Settings({"patrol_retention_days": -1}, environ={}, config_file="/nonexistent.toml")
    assert Settings({"patrol_retention_days": "400"}, environ={}, config_file="/nonexistent.toml") \
        .patrol_retention_days == 400
