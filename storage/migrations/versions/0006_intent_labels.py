"""intent labels: a label kind, intent names up to 64 characters

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every label stored so far is a sentiment label: the server default says so.
    with op.batch_alter_table('labels') as batch:
        batch.add_column(sa.Column('kind', sa.String(length=16), nullable=False,
                                   server_default='sentiment'))
        batch.alter_column('label', existing_type=sa.String(length=16),
                           type_=sa.String(length=64), existing_nullable=False)
        batch.drop_constraint('uq_labels_doc_kind_source_doc_id_origin', type_='unique')
        batch.create_unique_constraint(
            op.f('uq_labels_doc_kind_source_doc_id_kind_origin'),
            ['doc_kind', 'source', 'doc_id', 'kind', 'origin'])


def downgrade() -> None:
    op.execute("DELETE FROM labels WHERE kind <> 'sentiment'")
    with op.batch_alter_table('labels') as batch:
        batch.drop_constraint('uq_labels_doc_kind_source_doc_id_kind_origin', type_='unique')
        batch.create_unique_constraint(op.f('uq_labels_doc_kind_source_doc_id_origin'),
                                       ['doc_kind', 'source', 'doc_id', 'origin'])
        batch.alter_column('label', existing_type=sa.String(length=64),
                           type_=sa.String(length=16), existing_nullable=False)
        batch.drop_column('kind')
