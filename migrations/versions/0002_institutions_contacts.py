"""Add institutions, contacts, labels, saved views and the audit trail

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 01:15:46.867677
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def upgrade() -> None:
    if _is_postgresql():
        # Trigram search: trusted extension (PostgreSQL 13+), the database owner may create it.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    op.create_table('institutions',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=30), nullable=False),
    sa.Column('finess', sa.String(length=9), nullable=True),
    sa.Column('siret', sa.String(length=14), nullable=True),
    sa.Column('accounting_number', sa.String(length=40), nullable=True),
    sa.Column('group_name', sa.String(length=200), nullable=True),
    sa.Column('street', sa.String(length=250), nullable=True),
    sa.Column('postal_code', sa.String(length=10), nullable=True),
    sa.Column('city', sa.String(length=120), nullable=True),
    sa.Column('region', sa.String(length=120), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('website', sa.String(length=250), nullable=True),
    sa.Column('commercial_status', sa.String(length=20), nullable=False),
    sa.Column('assigned_user_id', sa.Uuid(), nullable=True),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.Column('data_source', sa.String(length=10), nullable=False),
    sa.Column('annual_revenue', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('is_archived', sa.Boolean(), nullable=False),
    sa.Column('updated_by', sa.Uuid(), nullable=True),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('city_key', sa.String(length=120), nullable=False),
    sa.Column('match_key', sa.String(length=200), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.CheckConstraint("commercial_status IN ('prospect', 'client', 'former_client')", name=op.f('ck_institutions_commercial_status')),
    sa.CheckConstraint("data_source IN ('manual', 'import', 'api', 'plugin')", name=op.f('ck_institutions_data_source')),
    sa.CheckConstraint("type IN ('university_hospital', 'hospital', 'private_clinic', 'medical_center', 'specialty_clinic', 'laboratory', 'pharmacy', 'other')", name=op.f('ck_institutions_type')),
    sa.CheckConstraint('annual_revenue IS NULL OR annual_revenue >= 0', name=op.f('ck_institutions_annual_revenue')),
    sa.ForeignKeyConstraint(['assigned_user_id'], ['users.id'], name=op.f('fk_institutions_assigned_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_institutions_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_institutions_team_id_teams'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_institutions_updated_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_institutions'))
    )
    with op.batch_alter_table('institutions', schema=None) as batch_op:
        batch_op.create_index('ix_institutions_assigned', ['assigned_user_id', 'is_archived'], unique=False)
        batch_op.create_index('ix_institutions_list_city', ['is_archived', 'city_key', 'id'], unique=False)
        batch_op.create_index('ix_institutions_list_name', ['is_archived', 'name_key', 'id'], unique=False)
        batch_op.create_index('ix_institutions_list_updated', ['is_archived', 'updated_at', 'id'], unique=False)
        batch_op.create_index('ix_institutions_name_postal', ['match_key', 'postal_code'], unique=False)
        batch_op.create_index('ix_institutions_postal_code', ['postal_code'], unique=False)
        batch_op.create_index('ix_institutions_region', ['region', 'is_archived'], unique=False)
        batch_op.create_index('ix_institutions_status', ['commercial_status', 'is_archived'], unique=False)
        batch_op.create_index('ix_institutions_team', ['team_id', 'is_archived'], unique=False)
        batch_op.create_index('ix_institutions_type', ['type', 'is_archived'], unique=False)
        batch_op.create_index('uq_institutions_accounting_number', ['accounting_number'], unique=True, postgresql_where=sa.text('accounting_number IS NOT NULL'), sqlite_where=sa.text('accounting_number IS NOT NULL'))
        batch_op.create_index('uq_institutions_finess', ['finess'], unique=True, postgresql_where=sa.text('finess IS NOT NULL'), sqlite_where=sa.text('finess IS NOT NULL'))
        batch_op.create_index('uq_institutions_siret', ['siret'], unique=True, postgresql_where=sa.text('siret IS NOT NULL'), sqlite_where=sa.text('siret IS NOT NULL'))

    op.create_table('saved_views',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('page', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('query', sa.JSON(), nullable=False),
    sa.Column('is_shared', sa.Boolean(), nullable=False),
    sa.Column('team_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_saved_views_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_saved_views_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_views'))
    )
    with op.batch_alter_table('saved_views', schema=None) as batch_op:
        batch_op.create_index('ix_saved_views_owner', ['created_by', 'page'], unique=False)
        batch_op.create_index('ix_saved_views_team', ['team_id', 'page'], unique=False)

    op.create_table('audit_entries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('actor_name', sa.String(length=200), nullable=True),
    sa.Column('entity_type', sa.String(length=30), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('institution_id', sa.Uuid(), nullable=True),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('field', sa.String(length=60), nullable=True),
    sa.Column('old_value', sa.Text(), nullable=True),
    sa.Column('new_value', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_entries_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_audit_entries_institution_id_institutions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_entity', ['entity_type', 'entity_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_entries_institution_at', ['institution_id', 'at'], unique=False)

    op.create_table('contacts',
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('institution_id', sa.Uuid(), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=True),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=150), nullable=True),
    sa.Column('department', sa.String(length=150), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('mobile', sa.String(length=30), nullable=True),
    sa.Column('is_primary', sa.Boolean(), nullable=False),
    sa.Column('is_archived', sa.Boolean(), nullable=False),
    sa.Column('email_opt_out', sa.Boolean(), nullable=False),
    sa.Column('updated_by', sa.Uuid(), nullable=True),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_contacts_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_contacts_institution_id_institutions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_contacts_updated_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_email', ['email'], unique=False)
        batch_op.create_index('ix_contacts_institution', ['institution_id', 'is_archived'], unique=False)
        batch_op.create_index('ix_contacts_list_name', ['is_archived', 'name_key', 'id'], unique=False)
        batch_op.create_index('uq_contacts_primary', ['institution_id'], unique=True, postgresql_where=sa.text('is_primary AND NOT is_archived'), sqlite_where=sa.text('is_primary AND NOT is_archived'))

    op.create_table('institution_labels',
    sa.Column('institution_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('value', sa.String(length=80), nullable=False),
    sa.CheckConstraint("kind IN ('tag', 'specialty')", name=op.f('ck_institution_labels_kind')),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_institution_labels_institution_id_institutions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('institution_id', 'kind', 'value', name=op.f('pk_institution_labels'))
    )
    with op.batch_alter_table('institution_labels', schema=None) as batch_op:
        batch_op.create_index('ix_institution_labels_lookup', ['kind', 'value', 'institution_id'], unique=False)

    op.create_table('institution_medical_profiles',
    sa.Column('institution_id', sa.Uuid(), nullable=False),
    sa.Column('bed_capacity', sa.Integer(), nullable=True),
    sa.Column('surgical_rooms', sa.Integer(), nullable=True),
    sa.Column('endoscopy_rooms', sa.Integer(), nullable=True),
    sa.Column('staff_count', sa.Integer(), nullable=True),
    sa.Column('departments', sa.JSON(), nullable=False),
    sa.Column('equipment_types', sa.JSON(), nullable=False),
    sa.Column('certifications', sa.JSON(), nullable=False),
    sa.Column('compliance_status', sa.String(length=20), nullable=True),
    sa.Column('audit_date', sa.Date(), nullable=True),
    sa.Column('compliance_expiry', sa.Date(), nullable=True),
    sa.CheckConstraint("compliance_status IN ('compliant', 'pending_review', 'non_compliant', 'expired') OR compliance_status IS NULL", name=op.f('ck_institution_medical_profiles_compliance_status')),
    sa.CheckConstraint('bed_capacity IS NULL OR bed_capacity >= 0', name=op.f('ck_institution_medical_profiles_bed_capacity')),
    sa.CheckConstraint('surgical_rooms IS NULL OR surgical_rooms >= 0', name=op.f('ck_institution_medical_profiles_surgical_rooms')),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_institution_medical_profiles_institution_id_institutions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('institution_id', name=op.f('pk_institution_medical_profiles'))
    )
    with op.batch_alter_table('institution_medical_profiles', schema=None) as batch_op:
        batch_op.create_index('ix_medical_profiles_beds', ['bed_capacity'], unique=False)
        batch_op.create_index('ix_medical_profiles_compliance', ['compliance_status'], unique=False)
        batch_op.create_index('ix_medical_profiles_rooms', ['surgical_rooms'], unique=False)
    if _is_postgresql():
        op.create_index('ix_institutions_search_trgm', 'institutions', ['search_text'], postgresql_using='gin',
                        postgresql_ops={'search_text': 'gin_trgm_ops'})
        op.create_index('ix_contacts_search_trgm', 'contacts', ['search_text'], postgresql_using='gin',
                        postgresql_ops={'search_text': 'gin_trgm_ops'})


def downgrade() -> None:
    if _is_postgresql():
        op.drop_index('ix_contacts_search_trgm', table_name='contacts')
        op.drop_index('ix_institutions_search_trgm', table_name='institutions')
    with op.batch_alter_table('institution_medical_profiles', schema=None) as batch_op:
        batch_op.drop_index('ix_medical_profiles_rooms')
        batch_op.drop_index('ix_medical_profiles_compliance')
        batch_op.drop_index('ix_medical_profiles_beds')

    op.drop_table('institution_medical_profiles')
    with op.batch_alter_table('institution_labels', schema=None) as batch_op:
        batch_op.drop_index('ix_institution_labels_lookup')

    op.drop_table('institution_labels')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('uq_contacts_primary', postgresql_where=sa.text('is_primary AND NOT is_archived'), sqlite_where=sa.text('is_primary AND NOT is_archived'))
        batch_op.drop_index('ix_contacts_list_name')
        batch_op.drop_index('ix_contacts_institution')
        batch_op.drop_index('ix_contacts_email')

    op.drop_table('contacts')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_institution_at')
        batch_op.drop_index('ix_audit_entries_entity')

    op.drop_table('audit_entries')
    with op.batch_alter_table('saved_views', schema=None) as batch_op:
        batch_op.drop_index('ix_saved_views_team')
        batch_op.drop_index('ix_saved_views_owner')

    op.drop_table('saved_views')
    with op.batch_alter_table('institutions', schema=None) as batch_op:
        batch_op.drop_index('uq_institutions_siret', postgresql_where=sa.text('siret IS NOT NULL'), sqlite_where=sa.text('siret IS NOT NULL'))
        batch_op.drop_index('uq_institutions_finess', postgresql_where=sa.text('finess IS NOT NULL'), sqlite_where=sa.text('finess IS NOT NULL'))
        batch_op.drop_index('uq_institutions_accounting_number', postgresql_where=sa.text('accounting_number IS NOT NULL'), sqlite_where=sa.text('accounting_number IS NOT NULL'))
        batch_op.drop_index('ix_institutions_type')
        batch_op.drop_index('ix_institutions_team')
        batch_op.drop_index('ix_institutions_status')
        batch_op.drop_index('ix_institutions_region')
        batch_op.drop_index('ix_institutions_postal_code')
        batch_op.drop_index('ix_institutions_name_postal')
        batch_op.drop_index('ix_institutions_list_updated')
        batch_op.drop_index('ix_institutions_list_name')
        batch_op.drop_index('ix_institutions_list_city')
        batch_op.drop_index('ix_institutions_assigned')

    op.drop_table('institutions')
