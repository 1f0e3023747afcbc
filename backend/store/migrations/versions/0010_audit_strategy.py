"""The strategy id a command to a bot addressed (`audit.strategy`), so that a strategy's history (its stops,
resumes, parameter changes and reloads, by whom and when) is a query on the audit trail.

A new nullable column: existing rows get nulls (their strategy is in their words, "stop for mm1", not parsed).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('strategy', sa.String(length=63), nullable=True))
        batch_op.create_index('ix_audit_instance_strategy_id', ['instance', 'strategy', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_instance_strategy_id')
        batch_op.drop_column('strategy')
