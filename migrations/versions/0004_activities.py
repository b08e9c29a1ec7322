"""Add tasks, notes (and shares), meetings (and participants), calls, comments, notifications and
the task alerts already sent

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 03:04:23.701280
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('comments',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('target_kind', sa.String(length=10), nullable=False),
    sa.Column('target_id', sa.Uuid(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('mentions', sa.JSON(), nullable=False),
    sa.CheckConstraint("target_kind IN ('task', 'meeting', 'note', 'quote')", name=op.f('ck_comments_target_kind')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_comments_created_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comments'))
    )
    op.create_index('ix_comments_author', 'comments', ['created_by', 'created_at'], unique=False)
    op.create_index('ix_comments_target', 'comments', ['target_kind', 'target_id', 'created_at'], unique=False)
    op.create_table('notifications',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('recipient_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('record_kind', sa.String(length=20), nullable=True),
    sa.Column('record_id', sa.Uuid(), nullable=True),
    sa.Column('link', sa.String(length=300), nullable=True),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_notifications_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['recipient_id'], ['users.id'], name=op.f('fk_notifications_recipient_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications'))
    )
    op.create_index('ix_notifications_created_at', 'notifications', ['created_at'], unique=False)
    op.create_index('ix_notifications_recipient', 'notifications', ['recipient_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_notifications_unread', 'notifications', ['recipient_id', 'created_at'], unique=False, postgresql_where=sa.text('read_at IS NULL'), sqlite_where=sa.text('read_at IS NULL'))
    op.create_table('meetings',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('location', sa.String(length=250), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('organizer_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('institution_id', sa.Uuid(), nullable=True),
    sa.Column('updated_by', sa.Uuid(), nullable=True),
    sa.CheckConstraint("status IN ('scheduled', 'done', 'cancelled')", name=op.f('ck_meetings_status')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_meetings_ends_after_start')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_meetings_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_meetings_institution_id_institutions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organizer_id'], ['users.id'], name=op.f('fk_meetings_organizer_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_meetings_team_id_teams'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_meetings_updated_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meetings'))
    )
    op.create_index('ix_meetings_institution', 'meetings', ['institution_id', 'starts_at'], unique=False)
    op.create_index('ix_meetings_organizer', 'meetings', ['organizer_id', 'starts_at'], unique=False)
    op.create_index('ix_meetings_starts', 'meetings', ['starts_at', 'id'], unique=False)
    op.create_index('ix_meetings_status', 'meetings', ['status', 'starts_at'], unique=False)
    op.create_index('ix_meetings_team', 'meetings', ['team_id', 'starts_at'], unique=False)
    op.create_table('notes',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('visibility', sa.String(length=10), nullable=False),
    sa.Column('institution_id', sa.Uuid(), nullable=True),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('updated_by', sa.Uuid(), nullable=True),
    sa.CheckConstraint("visibility IN ('private', 'shared')", name=op.f('ck_notes_visibility')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_notes_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_notes_institution_id_institutions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_notes_team_id_teams'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_notes_updated_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notes'))
    )
    op.create_index('ix_notes_author', 'notes', ['created_by', 'updated_at'], unique=False)
    op.create_index('ix_notes_institution', 'notes', ['institution_id', 'created_at'], unique=False)
    op.create_table('calls',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('called_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_seconds', sa.Integer(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('institution_id', sa.Uuid(), nullable=True),
    sa.Column('contact_id', sa.Uuid(), nullable=True),
    sa.Column('updated_by', sa.Uuid(), nullable=True),
    sa.CheckConstraint("direction IN ('in', 'out', 'missed')", name=op.f('ck_calls_direction')),
    sa.CheckConstraint('duration_seconds IS NULL OR duration_seconds >= 0', name=op.f('ck_calls_duration')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_calls_contact_id_contacts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_calls_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_calls_institution_id_institutions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_calls_team_id_teams'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_calls_updated_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_calls_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calls'))
    )
    op.create_index('ix_calls_called_at', 'calls', ['called_at', 'id'], unique=False)
    op.create_index('ix_calls_contact', 'calls', ['contact_id', 'called_at'], unique=False)
    op.create_index('ix_calls_direction', 'calls', ['direction', 'called_at'], unique=False)
    op.create_index('ix_calls_institution', 'calls', ['institution_id', 'called_at'], unique=False)
    op.create_index('ix_calls_team', 'calls', ['team_id', 'called_at', 'id'], unique=False)
    op.create_index('ix_calls_user', 'calls', ['user_id', 'called_at', 'id'], unique=False)
    op.create_table('meeting_participants',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('meeting_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('contact_id', sa.Uuid(), nullable=True),
    sa.Column('response', sa.String(length=10), nullable=False),
    sa.Column('responded_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("response IN ('invited', 'accepted', 'declined', 'tentative')", name=op.f('ck_meeting_participants_response')),
    sa.CheckConstraint('(user_id IS NULL) <> (contact_id IS NULL)', name=op.f('ck_meeting_participants_user_or_contact')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_meeting_participants_contact_id_contacts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_meeting_participants_meeting_id_meetings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_meeting_participants_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_participants'))
    )
    op.create_index('ix_meeting_participants_meeting', 'meeting_participants', ['meeting_id'], unique=False)
    op.create_index('uq_meeting_participants_contact', 'meeting_participants', ['contact_id', 'meeting_id'], unique=True)
    op.create_index('uq_meeting_participants_user', 'meeting_participants', ['user_id', 'meeting_id'], unique=True)
    op.create_table('note_shares',
    sa.Column('note_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('can_write', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['note_id'], ['notes.id'], name=op.f('fk_note_shares_note_id_notes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_note_shares_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('note_id', 'user_id', name=op.f('pk_note_shares'))
    )
    op.create_index('ix_note_shares_user', 'note_shares', ['user_id', 'note_id'], unique=False)
    op.create_table('tasks',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('assignee_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('institution_id', sa.Uuid(), nullable=True),
    sa.Column('contact_id', sa.Uuid(), nullable=True),
    sa.Column('updated_by', sa.Uuid(), nullable=True),
    sa.CheckConstraint("completed_at IS NULL OR status = 'done'", name=op.f('ck_tasks_completed_only_when_done')),
    sa.CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name=op.f('ck_tasks_priority')),
    sa.CheckConstraint("status IN ('todo', 'in_progress', 'done', 'cancelled')", name=op.f('ck_tasks_status')),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_tasks_assignee_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_tasks_contact_id_contacts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_tasks_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_tasks_institution_id_institutions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_tasks_team_id_teams'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_tasks_updated_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    op.create_index('ix_tasks_assignee', 'tasks', ['assignee_id', 'status', 'due_at', 'id'], unique=False)
    op.create_index('ix_tasks_contact', 'tasks', ['contact_id'], unique=False)
    op.create_index('ix_tasks_created_by', 'tasks', ['created_by', 'status', 'due_at'], unique=False)
    op.create_index('ix_tasks_institution', 'tasks', ['institution_id', 'created_at'], unique=False)
    op.create_index('ix_tasks_open_due', 'tasks', ['due_at'], unique=False, postgresql_where=sa.text("status IN ('todo', 'in_progress')"), sqlite_where=sa.text("status IN ('todo', 'in_progress')"))
    op.create_index('ix_tasks_priority', 'tasks', ['priority', 'due_at'], unique=False)
    op.create_index('ix_tasks_status_due', 'tasks', ['status', 'due_at', 'id'], unique=False)
    op.create_index('ix_tasks_team', 'tasks', ['team_id', 'status', 'due_at', 'id'], unique=False)
    op.create_table('task_alerts_sent',
    sa.Column('task_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('due_soon', 'overdue')", name=op.f('ck_task_alerts_sent_kind')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_alerts_sent_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', 'kind', 'due_at', name=op.f('pk_task_alerts_sent'))
    )


def downgrade() -> None:
    op.drop_table('task_alerts_sent')
    op.drop_index('ix_tasks_team', table_name='tasks')
    op.drop_index('ix_tasks_status_due', table_name='tasks')
    op.drop_index('ix_tasks_priority', table_name='tasks')
    op.drop_index('ix_tasks_open_due', table_name='tasks', postgresql_where=sa.text("status IN ('todo', 'in_progress')"), sqlite_where=sa.text("status IN ('todo', 'in_progress')"))
    op.drop_index('ix_tasks_institution', table_name='tasks')
    op.drop_index('ix_tasks_created_by', table_name='tasks')
    op.drop_index('ix_tasks_contact', table_name='tasks')
    op.drop_index('ix_tasks_assignee', table_name='tasks')
    op.drop_table('tasks')
    op.drop_index('ix_note_shares_user', table_name='note_shares')
    op.drop_table('note_shares')
    op.drop_index('uq_meeting_participants_user', table_name='meeting_participants')
    op.drop_index('uq_meeting_participants_contact', table_name='meeting_participants')
    op.drop_index('ix_meeting_participants_meeting', table_name='meeting_participants')
    op.drop_table('meeting_participants')
    op.drop_index('ix_calls_user', table_name='calls')
    op.drop_index('ix_calls_team', table_name='calls')
    op.drop_index('ix_calls_institution', table_name='calls')
    op.drop_index('ix_calls_direction', table_name='calls')
    op.drop_index('ix_calls_contact', table_name='calls')
    op.drop_index('ix_calls_called_at', table_name='calls')
    op.drop_table('calls')
    op.drop_index('ix_notes_institution', table_name='notes')
    op.drop_index('ix_notes_author', table_name='notes')
    op.drop_table('notes')
    op.drop_index('ix_meetings_team', table_name='meetings')
    op.drop_index('ix_meetings_status', table_name='meetings')
    op.drop_index('ix_meetings_starts', table_name='meetings')
    op.drop_index('ix_meetings_organizer', table_name='meetings')
    op.drop_index('ix_meetings_institution', table_name='meetings')
    op.drop_table('meetings')
    op.drop_index('ix_notifications_unread', table_name='notifications', postgresql_where=sa.text('read_at IS NULL'), sqlite_where=sa.text('read_at IS NULL'))
    op.drop_index('ix_notifications_recipient', table_name='notifications')
    op.drop_index('ix_notifications_created_at', table_name='notifications')
    op.drop_table('notifications')
    op.drop_index('ix_comments_target', table_name='comments')
    op.drop_index('ix_comments_author', table_name='comments')
    op.drop_table('comments')
