"""Instances' resource use over time (CPU, memory, network), sampled about every 5 s and thinned with age.

A new table, so existing rows are untouched.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('resource_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('ts', sa.Float(), nullable=False),
    sa.Column('cpu_percent', sa.Float(), nullable=True),
    sa.Column('memory_bytes', sa.BigInteger(), nullable=True),
    sa.Column('network_rx_bytes', sa.BigInteger(), nullable=True),
    sa.Column('network_tx_bytes', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('resource_samples', schema=None) as batch_op:
        batch_op.create_index('ix_resource_samples_instance_ts', ['instance_id', 'ts'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('resource_samples', schema=None) as batch_op:
        batch_op.drop_index('ix_resource_samples_instance_ts')

    op.drop_table('resource_samples')
