"""Copy the profile figures onto institutions, so that the list filters in one table

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 03:07:27.155955
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COPIES = (('profile_beds', 'bed_capacity'), ('profile_rooms', 'surgical_rooms'),
          ('profile_compliance', 'compliance_status'))


def upgrade() -> None:
    with op.batch_alter_table('institution_medical_profiles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_medical_profiles_beds'))
        batch_op.drop_index(batch_op.f('ix_medical_profiles_compliance'))
        batch_op.drop_index(batch_op.f('ix_medical_profiles_rooms'))
    with op.batch_alter_table('institutions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('profile_beds', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('profile_rooms', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('profile_compliance', sa.String(length=20), nullable=True))
    op.execute('UPDATE institutions SET ' + ', '.join(
        f'{copy} = (SELECT p.{source} FROM institution_medical_profiles p WHERE p.institution_id = institutions.id)'
        for copy, source in COPIES))
    with op.batch_alter_table('institutions', schema=None) as batch_op:
        batch_op.drop_index('ix_institutions_list_name')
        batch_op.create_index('ix_institutions_list_name', ['is_archived', 'name_key', 'id'], unique=False,
                              postgresql_include=['profile_beds', 'profile_rooms', 'profile_compliance'])
        batch_op.create_index('ix_institutions_beds', ['profile_beds', 'is_archived'], unique=False)
        batch_op.create_index('ix_institutions_compliance', ['profile_compliance', 'is_archived'], unique=False)
        batch_op.create_index('ix_institutions_rooms', ['profile_rooms', 'is_archived'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('institutions', schema=None) as batch_op:
        batch_op.drop_index('ix_institutions_rooms')
        batch_op.drop_index('ix_institutions_compliance')
        batch_op.drop_index('ix_institutions_beds')
        batch_op.drop_index('ix_institutions_list_name')
        batch_op.create_index('ix_institutions_list_name', ['is_archived', 'name_key', 'id'], unique=False)
        batch_op.drop_column('profile_compliance')
        batch_op.drop_column('profile_rooms')
        batch_op.drop_column('profile_beds')
    with op.batch_alter_table('institution_medical_profiles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_medical_profiles_rooms'), ['surgical_rooms'], unique=False)
        batch_op.create_index(batch_op.f('ix_medical_profiles_compliance'), ['compliance_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_medical_profiles_beds'), ['bed_capacity'], unique=False)
