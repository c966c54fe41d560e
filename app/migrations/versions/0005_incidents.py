"""Incidents: media_url for Open311 reports (a photo link sent by the reporter).

Revision ID: 0005_incidents
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_incidents"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("incidents", sa.Column("media_url", sa.String(length=500), nullable=True))


def downgrade() -> None:
    op.drop_column("incidents", "media_url")
