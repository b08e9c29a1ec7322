"""Personal API tokens (stored as the SHA-256 of the token, scoped, expiring, revocable) and the REST
API's rate limit counters (one row per client and minute; UNLOGGED on PostgreSQL: every API request
commits an increment, which then waits for no WAL flush, and the counts of a minute are not worth
keeping across a crash: see crm_app/platform/rate_limit.py).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0026'
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['revoked_by'], ['users.id'], name=op.f('fk_api_tokens_revoked_by_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_index('ix_api_tokens_user_created', 'api_tokens', ['user_id', 'created_at'], unique=False)
    op.create_table('rate_limit_counters',
    sa.Column('bucket', sa.String(length=80), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('bucket', 'window_start', name=op.f('pk_rate_limit_counters'))
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE rate_limit_counters SET UNLOGGED')


def downgrade() -> None:
    op.drop_table('rate_limit_counters')
    op.drop_index('ix_api_tokens_user_created', table_name='api_tokens')
    op.drop_table('api_tokens')
