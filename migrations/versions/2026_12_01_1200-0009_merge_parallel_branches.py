"""merge the branches of registration, admin console, grade sync, certificates and dashboards

Revision ID: 0009
Revises: 0003, 0005, 0006, 0007, 0008
Create Date: 2026-12-01 12:00:00
"""

revision = '0009'
down_revision = ('0003', '0005', '0006', '0007', '0008')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
