"""registration source and scopes: how a registration came (CLI, form, Dynamic Registration),
the LMS's product, the scopes it granted, and whether its first deployment is pre-approved

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 11:07:21.394523
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registered_via', sa.String(length=32), server_default='cli', nullable=False))
        batch_op.add_column(sa.Column('product_family_code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('granted_scopes', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('is_first_deployment_preapproved', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_column('is_first_deployment_preapproved')
        batch_op.drop_column('granted_scopes')
        batch_op.drop_column('product_family_code')
        batch_op.drop_column('registered_via')
