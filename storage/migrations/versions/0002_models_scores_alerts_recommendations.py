"""models, scores, topics, alerts, recommendations, api keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash')),
    sa.UniqueConstraint('name', name=op.f('uq_api_keys_name'))
    )
    op.create_table('model_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('eval_set', sa.String(length=128), nullable=False),
    sa.Column('primary_metric', sa.String(length=32), nullable=False),
    sa.Column('metrics', sa.Text(), nullable=False),
    sa.Column('params', sa.Text(), nullable=False),
    sa.Column('artifact_path', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_versions')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_model_versions_name_version'))
    )
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.create_index('uq_model_versions_one_active', ['name'], unique=True, sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    op.create_table('topics',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('topic_model', sa.String(length=64), nullable=False),
    sa.Column('topic_index', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('top_terms', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_topics')),
    sa.UniqueConstraint('topic_model', 'topic_index', name=op.f('uq_topics_topic_model_topic_index'))
    )
    op.create_table('alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dedup_key', sa.String(length=256), nullable=False),
    sa.Column('entity', sa.String(length=128), nullable=False),
    sa.Column('topic', sa.String(length=256), nullable=True),
    sa.Column('window', sa.String(length=16), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metric', sa.String(length=32), nullable=False),
    sa.Column('observed', sa.Float(), nullable=False),
    sa.Column('baseline', sa.Float(), nullable=False),
    sa.Column('z', sa.Float(), nullable=False),
    sa.Column('severity', sa.Integer(), nullable=False),
    sa.Column('volume', sa.Integer(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('detector', sa.String(length=64), nullable=False),
    sa.Column('model_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_versions.id'], name=op.f('fk_alerts_model_version_id_model_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('dedup_key', name=op.f('uq_alerts_dedup_key'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_entity_window_start', ['entity', 'window_start'], unique=False)

    op.create_table('document_topics',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('doc_kind', sa.String(length=16), nullable=False),
    sa.Column('doc_id', sa.BigInteger(), nullable=False),
    sa.Column('topic_model', sa.String(length=64), nullable=False),
    sa.Column('topic_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], name=op.f('fk_document_topics_topic_id_topics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_topics')),
    sa.UniqueConstraint('doc_kind', 'doc_id', 'topic_model', name=op.f('uq_document_topics_doc_kind_doc_id_topic_model'))
    )
    with op.batch_alter_table('document_topics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_topics_topic_id'), ['topic_id'], unique=False)

    op.create_table('recommendation_sets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('model_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('k', sa.Integer(), nullable=False),
    sa.Column('users', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_versions.id'], name=op.f('fk_recommendation_sets_model_version_id_model_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recommendation_sets'))
    )
    with op.batch_alter_table('recommendation_sets', schema=None) as batch_op:
        batch_op.create_index('uq_recommendation_sets_one_active', ['status'], unique=True, sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    op.create_table('sentiment_scores',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('doc_kind', sa.String(length=16), nullable=False),
    sa.Column('doc_id', sa.BigInteger(), nullable=False),
    sa.Column('model_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('p_negative', sa.Float(), nullable=False),
    sa.Column('p_neutral', sa.Float(), nullable=False),
    sa.Column('p_positive', sa.Float(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('highlights', sa.Text(), nullable=False),
    sa.Column('sentences', sa.Integer(), nullable=False),
    sa.Column('scored_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_versions.id'], name=op.f('fk_sentiment_scores_model_version_id_model_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sentiment_scores')),
    sa.UniqueConstraint('doc_kind', 'doc_id', 'model_version_id', name=op.f('uq_sentiment_scores_doc_kind_doc_id_model_version_id'))
    )
    with op.batch_alter_table('sentiment_scores', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sentiment_scores_model_version_id'), ['model_version_id'], unique=False)

    op.create_table('recommendations',
    sa.Column('set_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.String(length=128), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['set_id'], ['recommendation_sets.id'], name=op.f('fk_recommendations_set_id_recommendation_sets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('set_id', 'user_id', 'rank', name=op.f('pk_recommendations'))
    )


def downgrade() -> None:
    op.drop_table('recommendations')
    with op.batch_alter_table('sentiment_scores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sentiment_scores_model_version_id'))

    op.drop_table('sentiment_scores')
    with op.batch_alter_table('recommendation_sets', schema=None) as batch_op:
        batch_op.drop_index('uq_recommendation_sets_one_active', sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    op.drop_table('recommendation_sets')
    with op.batch_alter_table('document_topics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_topics_topic_id'))

    op.drop_table('document_topics')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_entity_window_start')

    op.drop_table('alerts')
    op.drop_table('topics')
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_index('uq_model_versions_one_active', sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    op.drop_table('model_versions')
    op.drop_table('api_keys')
