"""alert signals, reasons, what changed, backfill flag and revisions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alerts') as batch:
        batch.add_column(sa.Column('negatives', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('signals', sa.Text(), nullable=True))
        batch.add_column(sa.Column('reason', sa.Text(), nullable=True))
        batch.add_column(sa.Column('changes', sa.Text(), nullable=True))
        batch.add_column(sa.Column('backfill', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.create_table('alert_revisions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('alert_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('model_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
              nullable=True),
    sa.Column('old_severity', sa.Integer(), nullable=False),
    sa.Column('new_severity', sa.Integer(), nullable=False),
    sa.Column('old_reason', sa.Text(), nullable=True),
    sa.Column('new_reason', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'],
                            name=op.f('fk_alert_revisions_alert_id_alerts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_versions.id'],
                            name=op.f('fk_alert_revisions_model_version_id_model_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_revisions'))
    )
    op.create_index(op.f('ix_alert_revisions_alert_id'), 'alert_revisions', ['alert_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_alert_revisions_alert_id'), table_name='alert_revisions')
    op.drop_table('alert_revisions')
    with op.batch_alter_table('alerts') as batch:
        for name in ('backfill', 'changes', 'reason', 'signals', 'negatives'):
            batch.drop_column(name)
