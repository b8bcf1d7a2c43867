"""service health

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-01 11:00:22.863271
"""
from alembic import op
import sqlalchemy as sa



revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('service_health',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('service', sa.String(length=40), nullable=False),
    sa.Column('last_called_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_ok_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_detail', sa.Text(), nullable=True),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], name=op.f('fk_service_health_registration_id_registration'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_health')),
    sa.UniqueConstraint('registration_id', 'service', name=op.f('uq_service_health_registration_id_service'))
    )


def downgrade() -> None:
    op.drop_table('service_health')
