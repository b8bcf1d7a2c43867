"""certificates: issued certificates, their signed credentials (VC-JWT) and the status lists

Revision ID: 0007
Revises: 0002
Create Date: 2026-12-01 11:05:49.368756
"""
from alembic import op
import sqlalchemy as sa



revision = '0007'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('status_list',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_list'))
    )
    op.create_table('certificate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('cohort_id', sa.Integer(), nullable=False),
    sa.Column('lms_user_id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('module_key', sa.String(length=100), nullable=False),
    sa.Column('participant_name', sa.String(length=300), nullable=False),
    sa.Column('programme_code', sa.String(length=100), nullable=False),
    sa.Column('programme_version', sa.Integer(), nullable=False),
    sa.Column('programme_name_sv', sa.String(length=300), nullable=False),
    sa.Column('programme_name_en', sa.String(length=300), nullable=False),
    sa.Column('modules', sa.JSON(), nullable=False),
    sa.Column('exam_passed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('achieved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issuer_name', sa.String(length=300), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('revised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=300), nullable=True),
    sa.Column('revocation_reason', sa.Text(), nullable=True),
    sa.Column('needs_review', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['cohort_id', 'registration_id'], ['cohort.id', 'cohort.registration_id'], name=op.f('fk_certificate_cohort_id_cohort'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolment.id'], name=op.f('fk_certificate_enrolment_id_enrolment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lms_user_id', 'registration_id'], ['lms_user.id', 'lms_user.registration_id'], name=op.f('fk_certificate_lms_user_id_lms_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_certificate_registration_id_registration'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate')),
    sa.UniqueConstraint('code', name=op.f('uq_certificate_code')),
    sa.UniqueConstraint('enrolment_id', 'kind', 'module_key', name=op.f('uq_certificate_enrolment_id_kind_module_key'))
    )
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_cohort_id'), ['cohort_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_lms_user_id'), ['lms_user_id'], unique=False)

    op.create_table('certificate_credential',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('certificate_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('participant_name', sa.String(length=300), nullable=False),
    sa.Column('status_list_id', sa.Integer(), nullable=False),
    sa.Column('status_list_index', sa.Integer(), nullable=False),
    sa.Column('token', sa.Text(), nullable=False),
    sa.Column('kid', sa.String(length=100), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_by', sa.String(length=300), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificate.id'], name=op.f('fk_certificate_credential_certificate_id_certificate'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['status_list_id'], ['status_list.id'], name=op.f('fk_certificate_credential_status_list_id_status_list'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_credential')),
    sa.UniqueConstraint('certificate_id', 'revision', name=op.f('uq_certificate_credential_certificate_id_revision')),
    sa.UniqueConstraint('status_list_id', 'status_list_index', name=op.f('uq_certificate_credential_status_list_id_status_list_index'))
    )


def downgrade() -> None:
    op.drop_table('certificate_credential')
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_lms_user_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_cohort_id'))

    op.drop_table('certificate')
    op.drop_table('status_list')
