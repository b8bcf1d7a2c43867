"""module standings and exam summary for dashboards

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-01 11:13:00.668861
"""
from alembic import op
import sqlalchemy as sa



revision = '0008'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('module_standing',
    sa.Column('enrolment_id', sa.Integer(), nullable=False),
    sa.Column('module_key', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('score_given', sa.String(length=64), nullable=True),
    sa.Column('score_maximum', sa.String(length=64), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['enrolment_id'], ['enrolment.id'], name=op.f('fk_module_standing_enrolment_id_enrolment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('enrolment_id', 'module_key', name=op.f('pk_module_standing'))
    )
    with op.batch_alter_table('certification_status', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exam_score_given', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('exam_score_maximum', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('exam_attempts_used', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('exam_attempts_left', sa.Integer(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('certification_status', schema=None) as batch_op:
        batch_op.drop_column('exam_attempts_left')
        batch_op.drop_column('exam_attempts_used')
        batch_op.drop_column('exam_score_maximum')
        batch_op.drop_column('exam_score_given')

    op.drop_table('module_standing')
