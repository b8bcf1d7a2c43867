"""certification programme: versioned programmes, cohorts, enrolments, results, statuses

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:42:47.425760
"""
from alembic import op
import sqlalchemy as sa



revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Enrolments reference (lms_user.id, registration_id): that pair must be unique first.
    with op.batch_alter_table('lms_user', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_lms_user_id_registration_id'), ['id', 'registration_id'])

    op.create_table('funder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_funder_registration_id_registration'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funder')),
    sa.UniqueConstraint('registration_id', 'key', name=op.f('uq_funder_registration_id_key'))
    )
    op.create_table('programme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_programme_registration_id_registration'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programme')),
    sa.UniqueConstraint('registration_id', 'code', name=op.f('uq_programme_registration_id_code'))
    )
    op.create_table('region',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_region_registration_id_registration'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_region')),
    sa.UniqueConstraint('registration_id', 'key', name=op.f('uq_region_registration_id_key'))
    )
    op.create_table('programme_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name_sv', sa.String(length=300), nullable=False),
    sa.Column('name_en', sa.String(length=300), nullable=False),
    sa.Column('duration_weeks', sa.Integer(), nullable=False),
    sa.Column('exam_pass_mark', sa.String(length=64), nullable=False),
    sa.Column('exam_max_attempts', sa.Integer(), nullable=True),
    sa.Column('validity_years', sa.Integer(), nullable=True),
    sa.Column('full_programme_ore', sa.BigInteger(), nullable=False),
    sa.Column('member_discount', sa.String(length=64), nullable=False),
    sa.Column('per_module_ore', sa.BigInteger(), nullable=True),
    sa.Column('upgrade_pricing', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['programme_id'], ['programme.id'], name=op.f('fk_programme_version_programme_id_programme'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programme_version')),
    sa.UniqueConstraint('programme_id', 'version', name=op.f('uq_programme_version_programme_id_version'))
    )
    op.create_table('cohort',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('programme_version_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('funder_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['funder_id'], ['funder.id'], name=op.f('fk_cohort_funder_id_funder'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['programme_version_id'], ['programme_version.id'], name=op.f('fk_cohort_programme_version_id_programme_version'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_cohort_registration_id_registration'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cohort')),
    sa.UniqueConstraint('id', 'registration_id', name=op.f('uq_cohort_id_registration_id')),
    sa.UniqueConstraint('registration_id', 'key', name=op.f('uq_cohort_registration_id_key'))
    )
    op.create_table('programme_module',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_version_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('name_sv', sa.String(length=300), nullable=False),
    sa.Column('name_en', sa.String(length=300), nullable=False),
    sa.Column('pass_mark', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['programme_version_id'], ['programme_version.id'], name=op.f('fk_programme_module_programme_version_id_programme_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programme_module')),
    sa.UniqueConstraint('programme_version_id', 'key', name=op.f('uq_programme_module_programme_version_id_key')),
    sa.UniqueConstraint('programme_version_id', 'position', name=op.f('uq_programme_module_programme_version_id_position'))
    )
    op.create_table('enrolment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('cohort_id', sa.Integer(), nullable=False),
    sa.Column('lms_user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('module_keys', sa.JSON(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('employer', sa.String(length=300), nullable=True),
    sa.Column('is_sknt_member', sa.Boolean(), nullable=False),
    sa.Column('funder_id', sa.Integer(), nullable=True),
    sa.Column('upgraded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cohort_id', 'registration_id'], ['cohort.id', 'cohort.registration_id'], name=op.f('fk_enrolment_cohort_id_cohort'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['funder_id'], ['funder.id'], name=op.f('fk_enrolment_funder_id_funder'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['lms_user_id', 'registration_id'], ['lms_user.id', 'lms_user.registration_id'], name=op.f('fk_enrolment_lms_user_id_lms_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_enrolment_region_id_region'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_enrolment_registration_id_registration'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrolment')),
    sa.UniqueConstraint('cohort_id', 'lms_user_id', name=op.f('uq_enrolment_cohort_id_lms_user_id'))
    )
    op.create_table('certification_status',
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=30), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('modules_completed', sa.Integer(), nullable=False),
    sa.Column('modules_required', sa.Integer(), nullable=False),
    sa.Column('certified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('needs_admin_review', sa.Boolean(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolment.id'], name=op.f('fk_certification_status_enrolment_id_enrolment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('enrolment_id', name=op.f('pk_certification_status'))
    )
    with op.batch_alter_table('certification_status', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certification_status_state'), ['state'], unique=False)

    op.create_table('result_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('module_key', sa.String(length=100), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=True),
    sa.Column('score_given', sa.String(length=64), nullable=False),
    sa.Column('score_maximum', sa.String(length=64), nullable=False),
    sa.Column('graded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=2048), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolment.id'], name=op.f('fk_result_event_enrolment_id_enrolment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['replaces_id'], ['result_event.id'], name=op.f('fk_result_event_replaces_id_result_event'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_result_event'))
    )
    with op.batch_alter_table('result_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_result_event_enrolment_id'), ['enrolment_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('result_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_result_event_enrolment_id'))

    op.drop_table('result_event')
    with op.batch_alter_table('certification_status', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certification_status_state'))

    op.drop_table('certification_status')
    op.drop_table('enrolment')
    op.drop_table('programme_module')
    op.drop_table('cohort')
    op.drop_table('programme_version')
    op.drop_table('region')
    op.drop_table('programme')
    op.drop_table('funder')
    with op.batch_alter_table('lms_user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_lms_user_id_registration_id'), type_='unique')
