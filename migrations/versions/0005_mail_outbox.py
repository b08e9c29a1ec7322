"""Add the mail outbox and its attachments

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 03:06:24.657846
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('mail_outbox',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('to_addresses', sa.JSON(), nullable=False),
    sa.Column('cc_addresses', sa.JSON(), nullable=False),
    sa.Column('reply_to', sa.String(length=320), nullable=True),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=True),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=True),
    sa.Column('related_kind', sa.String(length=40), nullable=True),
    sa.Column('related_id', sa.Uuid(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed')", name=op.f('ck_mail_outbox_status')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_mail_outbox_attempts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_outbox')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_mail_outbox_dedupe_key')),
    sa.UniqueConstraint('message_id', name=op.f('uq_mail_outbox_message_id'))
    )
    op.create_index('ix_mail_outbox_due', 'mail_outbox', ['status', 'next_attempt_at'], unique=False)
    op.create_index('ix_mail_outbox_related', 'mail_outbox', ['related_kind', 'related_id', 'created_at'], unique=False)
    op.create_table('mail_attachments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('outbox_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=127), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['outbox_id'], ['mail_outbox.id'], name=op.f('fk_mail_attachments_outbox_id_mail_outbox'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_attachments'))
    )
    op.create_index(op.f('ix_mail_attachments_outbox_id'), 'mail_attachments', ['outbox_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_mail_attachments_outbox_id'), table_name='mail_attachments')
    op.drop_table('mail_attachments')
    op.drop_index('ix_mail_outbox_related', table_name='mail_outbox')
    op.drop_index('ix_mail_outbox_due', table_name='mail_outbox')
    op.drop_table('mail_outbox')
