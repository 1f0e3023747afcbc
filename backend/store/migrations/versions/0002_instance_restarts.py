"""Instances remember their supervisor restarts: how many in a row, and when the pending one is due.

Existing rows get 0 restarts and nothing pending.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('restarts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_restart_at', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_column('next_restart_at')
        batch_op.drop_column('restarts')
