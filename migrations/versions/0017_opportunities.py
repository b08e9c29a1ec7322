"""Opportunities, their stage history and lost reasons; activities and quotes linked to them; the institutions' health score

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 18:49:03.471126
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('opportunity_lost_reasons',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_opportunity_lost_reasons_created_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunity_lost_reasons')),
    sa.UniqueConstraint('label', name=op.f('uq_opportunity_lost_reasons_label'))
    )
    op.create_index('ix_opportunity_lost_reasons_order', 'opportunity_lost_reasons', ['is_active', 'position'], unique=False)
    op.create_table('opportunities',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('institution_id', sa.Uuid(), nullable=False),
    sa.Column('contact_id', sa.Uuid(), nullable=True),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('probability', sa.Integer(), nullable=False),
    sa.Column('probability_is_manual', sa.Boolean(), nullable=False),
    sa.Column('expected_close_date', sa.Date(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=True),
    sa.Column('lost_reason_id', sa.Uuid(), nullable=True),
    sa.Column('lost_reason_text', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stage_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.Uuid(), nullable=True),
    sa.CheckConstraint("(stage IN ('won', 'lost')) = (closed_at IS NOT NULL)", name=op.f('ck_opportunities_closed_at_when_closed')),
    sa.CheckConstraint("source IS NULL OR source IN ('tender', 'referral', 'existing_client', 'trade_show', 'website', 'prospecting', 'partner', 'other')", name=op.f('ck_opportunities_source')),
    sa.CheckConstraint("stage <> 'lost' OR lost_reason_id IS NOT NULL OR lost_reason_text IS NOT NULL", name=op.f('ck_opportunities_lost_has_reason')),
    sa.CheckConstraint("stage IN ('prospecting', 'qualification', 'proposal', 'negotiation', 'won', 'lost')", name=op.f('ck_opportunities_stage')),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_opportunities_amount')),
    sa.CheckConstraint('probability >= 0 AND probability <= 100', name=op.f('ck_opportunities_probability')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_opportunities_contact_id_contacts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_opportunities_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_opportunities_institution_id_institutions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['lost_reason_id'], ['opportunity_lost_reasons.id'], name=op.f('fk_opportunities_lost_reason_id_opportunity_lost_reasons'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_opportunities_owner_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_opportunities_team_id_teams'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_opportunities_updated_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunities'))
    )
    op.create_index('ix_opportunities_closed', 'opportunities', ['closed_at', 'stage'], unique=False)
    op.create_index('ix_opportunities_institution', 'opportunities', ['institution_id', 'stage'], unique=False)
    op.create_index('ix_opportunities_open_close_date', 'opportunities', ['expected_close_date'], unique=False, postgresql_where=sa.text("stage NOT IN ('won', 'lost')"), sqlite_where=sa.text("stage NOT IN ('won', 'lost')"))
    op.create_index('ix_opportunities_owner', 'opportunities', ['owner_id', 'stage', 'expected_close_date'], unique=False)
    op.create_index('ix_opportunities_stage', 'opportunities', ['stage', 'expected_close_date', 'id'], unique=False)
    op.create_index('ix_opportunities_team', 'opportunities', ['team_id', 'stage', 'expected_close_date'], unique=False)
    op.create_table('opportunity_stage_changes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('opportunity_id', sa.Uuid(), nullable=False),
    sa.Column('from_stage', sa.String(length=20), nullable=True),
    sa.Column('to_stage', sa.String(length=20), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('probability', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.Uuid(), nullable=True),
    sa.CheckConstraint("to_stage IN ('prospecting', 'qualification', 'proposal', 'negotiation', 'won', 'lost')", name=op.f('ck_opportunity_stage_changes_to_stage')),
    sa.ForeignKeyConstraint(['changed_by'], ['users.id'], name=op.f('fk_opportunity_stage_changes_changed_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunities.id'], name=op.f('fk_opportunity_stage_changes_opportunity_id_opportunities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunity_stage_changes'))
    )
    op.create_index('ix_opportunity_stage_changes_changed_at', 'opportunity_stage_changes', ['changed_at', 'to_stage'], unique=False)
    op.create_index('ix_opportunity_stage_changes_opportunity', 'opportunity_stage_changes', ['opportunity_id', 'changed_at'], unique=False)
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opportunity_id', sa.Uuid(), nullable=True))
        batch_op.create_index('ix_calls_opportunity', ['opportunity_id', 'called_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_calls_opportunity_id_opportunities'), 'opportunities',
                                    ['opportunity_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('institutions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('health_score', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('health_scored_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_institutions_health', ['is_archived', 'health_score', 'name_key', 'id'], unique=False)
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opportunity_id', sa.Uuid(), nullable=True))
        batch_op.create_index('ix_meetings_opportunity', ['opportunity_id', 'starts_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_meetings_opportunity_id_opportunities'), 'opportunities',
                                    ['opportunity_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opportunity_id', sa.Uuid(), nullable=True))
        batch_op.create_index('ix_notes_opportunity', ['opportunity_id', 'created_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_notes_opportunity_id_opportunities'), 'opportunities',
                                    ['opportunity_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opportunity_id', sa.Uuid(), nullable=True))
        batch_op.create_index('ix_quotes_opportunity', ['opportunity_id', 'issue_date'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_quotes_opportunity_id_opportunities'), 'opportunities',
                                    ['opportunity_id'], ['id'], ondelete='SET NULL')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opportunity_id', sa.Uuid(), nullable=True))
        batch_op.create_index('ix_tasks_opportunity', ['opportunity_id', 'created_at'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_tasks_opportunity_id_opportunities'), 'opportunities',
                                    ['opportunity_id'], ['id'], ondelete='SET NULL')
    if op.get_bind().dialect.name == 'postgresql':
        # A part of a name: trigrams, as the institutions' search text has.
        op.create_index('ix_opportunities_name_trgm', 'opportunities', ['name'], unique=False,
                        postgresql_using='gin', postgresql_ops={'name': 'gin_trgm_ops'})


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_tasks_opportunity_id_opportunities'), type_='foreignkey')
        batch_op.drop_index('ix_tasks_opportunity')
        batch_op.drop_column('opportunity_id')
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_quotes_opportunity_id_opportunities'), type_='foreignkey')
        batch_op.drop_index('ix_quotes_opportunity')
        batch_op.drop_column('opportunity_id')
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_notes_opportunity_id_opportunities'), type_='foreignkey')
        batch_op.drop_index('ix_notes_opportunity')
        batch_op.drop_column('opportunity_id')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_meetings_opportunity_id_opportunities'), type_='foreignkey')
        batch_op.drop_index('ix_meetings_opportunity')
        batch_op.drop_column('opportunity_id')
    with op.batch_alter_table('institutions', schema=None) as batch_op:
        batch_op.drop_index('ix_institutions_health')
        batch_op.drop_column('health_scored_at')
        batch_op.drop_column('health_score')
    with op.batch_alter_table('calls', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_calls_opportunity_id_opportunities'), type_='foreignkey')
        batch_op.drop_index('ix_calls_opportunity')
        batch_op.drop_column('opportunity_id')
    op.drop_index('ix_opportunity_stage_changes_opportunity', table_name='opportunity_stage_changes')
    op.drop_index('ix_opportunity_stage_changes_changed_at', table_name='opportunity_stage_changes')
    op.drop_table('opportunity_stage_changes')
    op.drop_index('ix_opportunities_team', table_name='opportunities')
    op.drop_index('ix_opportunities_stage', table_name='opportunities')
    op.drop_index('ix_opportunities_owner', table_name='opportunities')
    op.drop_index('ix_opportunities_open_close_date', table_name='opportunities', postgresql_where=sa.text("stage NOT IN ('won', 'lost')"), sqlite_where=sa.text("stage NOT IN ('won', 'lost')"))
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_opportunities_name_trgm', table_name='opportunities')
    op.drop_index('ix_opportunities_institution', table_name='opportunities')
    op.drop_index('ix_opportunities_closed', table_name='opportunities')
    op.drop_table('opportunities')
    op.drop_index('ix_opportunity_lost_reasons_order', table_name='opportunity_lost_reasons')
    op.drop_table('opportunity_lost_reasons')
