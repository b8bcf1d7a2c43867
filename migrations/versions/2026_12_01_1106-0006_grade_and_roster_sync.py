"""grade and roster sync: course links, line items, roster, sync runs, score outbox, demo LMS state

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-01 11:06:21.630756
"""
from alembic import op
import sqlalchemy as sa



revision = '0006'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('demo_course',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('id_on_platform', sa.String(length=255), nullable=False),
    sa.Column('flavour', sa.String(length=20), nullable=False),
    sa.Column('tokens_valid_after', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demo_course')),
    sa.UniqueConstraint('id_on_platform', name=op.f('uq_demo_course_id_on_platform'))
    )
    op.create_table('demo_fault',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('path_contains', sa.String(length=200), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=True),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('retry_after', sa.Integer(), nullable=True),
    sa.Column('delay_seconds', sa.Float(), nullable=False),
    sa.Column('remaining', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['demo_course.id'], name=op.f('fk_demo_fault_course_id_demo_course'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demo_fault'))
    )
    op.create_table('demo_line_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=500), nullable=False),
    sa.Column('score_maximum', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.String(length=255), nullable=True),
    sa.Column('tag', sa.String(length=255), nullable=True),
    sa.Column('resource_link_id', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['demo_course.id'], name=op.f('fk_demo_line_item_course_id_demo_course'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demo_line_item'))
    )
    with op.batch_alter_table('demo_line_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_demo_line_item_course_id'), ['course_id'], unique=False)

    op.create_table('demo_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=True),
    sa.Column('given_name', sa.String(length=255), nullable=True),
    sa.Column('family_name', sa.String(length=255), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['demo_course.id'], name=op.f('fk_demo_member_course_id_demo_course'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demo_member')),
    sa.UniqueConstraint('course_id', 'user_id', name=op.f('uq_demo_member_course_id_user_id'))
    )
    op.create_table('demo_grade',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('line_item_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=255), nullable=False),
    sa.Column('score_given', sa.String(length=64), nullable=True),
    sa.Column('score_maximum', sa.String(length=64), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['line_item_id'], ['demo_line_item.id'], name=op.f('fk_demo_grade_line_item_id_demo_line_item'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demo_grade')),
    sa.UniqueConstraint('line_item_id', 'user_id', name=op.f('uq_demo_grade_line_item_id_user_id'))
    )
    op.create_table('context_service',
    sa.Column('context_id', sa.Integer(), nullable=False),
    sa.Column('lineitems_url', sa.String(length=2048), nullable=True),
    sa.Column('ags_scopes', sa.JSON(), nullable=False),
    sa.Column('memberships_url', sa.String(length=2048), nullable=True),
    sa.Column('product_family', sa.String(length=64), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['context_id'], ['context.id'], name=op.f('fk_context_service_context_id_context'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('context_id', name=op.f('pk_context_service'))
    )
    op.create_table('line_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('context_id', sa.Integer(), nullable=False),
    sa.Column('id_on_platform', sa.String(length=2048), nullable=False),
    sa.Column('label', sa.String(length=500), nullable=False),
    sa.Column('score_maximum', sa.String(length=64), nullable=False),
    sa.Column('resource_id', sa.String(length=255), nullable=True),
    sa.Column('tag', sa.String(length=255), nullable=True),
    sa.Column('resource_link_id', sa.String(length=255), nullable=True),
    sa.Column('binding', sa.String(length=20), nullable=True),
    sa.Column('module_key', sa.String(length=100), nullable=True),
    sa.Column('exam_attempt', sa.Integer(), nullable=True),
    sa.Column('is_bound_by_hand', sa.Boolean(), nullable=False),
    sa.Column('is_present', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['context_id'], ['context.id'], name=op.f('fk_line_item_context_id_context'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_line_item')),
    sa.UniqueConstraint('context_id', 'id_on_platform', name=op.f('uq_line_item_context_id_id_on_platform'))
    )
    op.create_table('roster_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('context_id', sa.Integer(), nullable=False),
    sa.Column('lms_user_id', sa.Integer(), nullable=False),
    sa.Column('roles', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('is_learner', sa.Boolean(), nullable=False),
    sa.Column('is_instructor', sa.Boolean(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['context_id'], ['context.id'], name=op.f('fk_roster_member_context_id_context'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lms_user_id'], ['lms_user.id'], name=op.f('fk_roster_member_lms_user_id_lms_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_member')),
    sa.UniqueConstraint('context_id', 'lms_user_id', name=op.f('uq_roster_member_context_id_lms_user_id'))
    )
    with op.batch_alter_table('roster_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roster_member_lms_user_id'), ['lms_user_id'], unique=False)

    op.create_table('sync_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('context_id', sa.Integer(), nullable=False),
    sa.Column('running_context_id', sa.Integer(), nullable=True),
    sa.Column('lms_user_id', sa.Integer(), nullable=True),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['context_id'], ['context.id'], name=op.f('fk_sync_run_context_id_context'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lms_user_id'], ['lms_user.id'], name=op.f('fk_sync_run_lms_user_id_lms_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_run')),
    sa.UniqueConstraint('running_context_id', name=op.f('uq_sync_run_running_context_id'))
    )
    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        batch_op.create_index('ix_sync_run_context_id_started_at', ['context_id', 'started_at'], unique=False)

    op.create_table('course_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('context_id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('cohort_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('module_key', sa.String(length=100), nullable=True),
    sa.Column('linked_by_lms_user_id', sa.Integer(), nullable=True),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['cohort_id', 'registration_id'], ['cohort.id', 'cohort.registration_id'], name=op.f('fk_course_link_cohort_id_cohort'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['context_id'], ['context.id'], name=op.f('fk_course_link_context_id_context'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['linked_by_lms_user_id'], ['lms_user.id'], name=op.f('fk_course_link_linked_by_lms_user_id_lms_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_course_link_registration_id_registration'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_link')),
    sa.UniqueConstraint('context_id', name=op.f('uq_course_link_context_id'))
    )
    with op.batch_alter_table('course_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_course_link_cohort_id'), ['cohort_id'], unique=False)

    op.create_table('score_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('context_id', sa.Integer(), nullable=False),
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('line_item_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('user_id_on_platform', sa.String(length=255), nullable=False),
    sa.Column('score_given', sa.String(length=64), nullable=False),
    sa.Column('score_maximum', sa.String(length=64), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('status_digest', sa.String(length=64), nullable=False),
    sa.Column('scored_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['context_id'], ['context.id'], name=op.f('fk_score_outbox_context_id_context'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolment.id'], name=op.f('fk_score_outbox_enrolment_id_enrolment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['line_item_id'], ['line_item.id'], name=op.f('fk_score_outbox_line_item_id_line_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_score_outbox_registration_id_registration'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_outbox')),
    sa.UniqueConstraint('enrolment_id', 'line_item_id', 'version', name=op.f('uq_score_outbox_enrolment_id_line_item_id_version'))
    )
    with op.batch_alter_table('score_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_score_outbox_state_next_attempt_at', ['state', 'next_attempt_at'], unique=False)

    with op.batch_alter_table('result_event', schema=None) as batch_op:
        batch_op.create_index('ix_result_event_replaces_id', ['replaces_id'], unique=True)
        batch_op.create_index('ix_result_event_source_enrolment_id', ['source', 'enrolment_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('result_event', schema=None) as batch_op:
        batch_op.drop_index('ix_result_event_source_enrolment_id')
        batch_op.drop_index('ix_result_event_replaces_id')

    with op.batch_alter_table('score_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_score_outbox_state_next_attempt_at')

    op.drop_table('score_outbox')
    with op.batch_alter_table('course_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_course_link_cohort_id'))

    op.drop_table('course_link')
    with op.batch_alter_table('sync_run', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_run_context_id_started_at')

    op.drop_table('sync_run')
    with op.batch_alter_table('roster_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roster_member_lms_user_id'))

    op.drop_table('roster_member')
    op.drop_table('line_item')
    op.drop_table('context_service')
    op.drop_table('demo_grade')
    op.drop_table('demo_member')
    with op.batch_alter_table('demo_line_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_demo_line_item_course_id'))

    op.drop_table('demo_line_item')
    op.drop_table('demo_fault')
    op.drop_table('demo_course')
