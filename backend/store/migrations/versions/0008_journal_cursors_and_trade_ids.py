"""How far the store has each bot's journal (`journal_cursors`, a new table), and the venue's trade id of a trade.

Existing trades get a null `trade_id`; no existing row changes otherwise.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('journal_cursors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance', sa.String(length=63), nullable=False),
    sa.Column('run', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('instance', 'run')
    )
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trade_id', sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.drop_column('trade_id')

    op.drop_table('journal_cursors')
