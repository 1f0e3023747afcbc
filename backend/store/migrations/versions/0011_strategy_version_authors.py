"""Strategy versions record who saved them (`created_by`) and how they came to be when not by an edit (`note`:
"restored from v3", "new from the starter template").

Existing versions get "unknown" as their author and no note.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('strategy_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by', sa.String(length=255), server_default='unknown', nullable=False))
        batch_op.add_column(sa.Column('note', sa.Text(), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('strategy_versions', schema=None) as batch_op:
        batch_op.drop_column('note')
        batch_op.drop_column('created_by')
