"""batch encoding, index checksums, model events

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('ingest_batches') as batch:
        batch.add_column(sa.Column('encoding', sa.String(length=32), nullable=True))
    with op.batch_alter_table('model_versions') as batch:
        batch.add_column(sa.Column('index_sha256', sa.String(length=64), nullable=True))
    op.create_table('model_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
              nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('margin', sa.Float(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['model_versions.id'],
                            name=op.f('fk_model_events_version_id_model_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_events'))
    )
    op.create_index(op.f('ix_model_events_name'), 'model_events', ['name'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_model_events_name'), table_name='model_events')
    op.drop_table('model_events')
    with op.batch_alter_table('model_versions') as batch:
        batch.drop_column('index_sha256')
    with op.batch_alter_table('ingest_batches') as batch:
        batch.drop_column('encoding')
