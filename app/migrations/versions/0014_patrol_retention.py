"""Patrol-point retention (issue 16): a BRIN index on ``patrol_points.at``.

``gridwatch patrols prune`` deletes the points older than ``patrol_retention_days`` in batches by time;
the points arrive in time order, so a BRIN index (a few pages for millions of rows, nothing to maintain
per insert worth measuring) finds the oldest blocks without the cost of a B-tree on every point.
Monthly partitions would make pruning a DROP: measured in ``benchmarks/partitions.py``, discussed in
docs/scaling.md.

Revision ID: 0014_patrol_retention
Revises: 0013_stats
"""
from alembic import op

revision = "0014_patrol_retention"
down_revision = "0013_stats"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_patrol_points_at_brin", "patrol_points", ["at"], postgresql_using="brin")


def downgrade() -> None:
    op.drop_index("ix_patrol_points_at_brin", table_name="patrol_points")
