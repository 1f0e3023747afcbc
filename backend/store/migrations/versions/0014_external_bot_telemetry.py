"""Log lines, trades and PnL points of external bots (heard on the broker, not created here): `instance_id` may be
null, and `bot` names the external bot then, with an index per bot like the instances' one.

Existing rows keep their `instance_id` and get a null `bot`.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

TABLES = (('log_lines', 'ix_logs_bot_id', ['bot', 'id']), ('trades', 'ix_trades_bot_ts', ['bot', 'ts']),
          ('pnl_snapshots', 'ix_pnl_bot_ts', ['bot', 'ts']))


def upgrade() -> None:
    for table, index, columns in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('bot', sa.String(length=63), nullable=True))
            batch_op.alter_column('instance_id', existing_type=sa.Integer(), nullable=True)
            batch_op.create_index(index, columns, unique=False)


def downgrade() -> None:
    for table, index, _columns in TABLES:
        op.execute(sa.text(f'DELETE FROM {table} WHERE instance_id IS NULL'))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(index)
            batch_op.alter_column('instance_id', existing_type=sa.Integer(), nullable=False)
            batch_op.drop_column('bot')
