"""teacher logits kept between distillations

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('teacher_logits',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('model_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
              nullable=False),
    sa.Column('labeller', sa.String(length=16), nullable=False),
    sa.Column('text_sha256', sa.String(length=64), nullable=False),
    sa.Column('logit_negative', sa.Float(), nullable=False),
    sa.Column('logit_neutral', sa.Float(), nullable=False),
    sa.Column('logit_positive', sa.Float(), nullable=False),
    sa.Column('labelled_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_versions.id'],
                            name=op.f('fk_teacher_logits_model_version_id_model_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teacher_logits')),
    sa.UniqueConstraint('model_version_id', 'labeller', 'text_sha256',
                        name=op.f('uq_teacher_logits_model_version_id_labeller_text_sha256'))
    )


def downgrade() -> None:
    op.drop_table('teacher_logits')
