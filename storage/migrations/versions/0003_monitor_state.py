"""monitor state

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('monitor_state',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('scored_through', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_monitor_state'))
    )


def downgrade() -> None:
    op.drop_table('monitor_state')
