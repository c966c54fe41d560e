"""Cameras: the community a camera's record declares (所属社区), beside the geocoded one.

Revision ID: 0002_cameras
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_cameras"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cameras", sa.Column("declared_community_code", sa.String(length=12), nullable=True))
    op.create_check_constraint(op.f("ck_cameras_declared_community_code_format"), "cameras",
                               "declared_community_code IS NULL OR declared_community_code ~ '^[0-9]{12}$'")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_cameras_declared_community_code_format"), "cameras", type_="check")
    op.drop_column("cameras", "declared_community_code")
