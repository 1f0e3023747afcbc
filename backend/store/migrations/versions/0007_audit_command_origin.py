"""The audit trail of commands to bots: the instance, the origin (api or mqtt), the request's msg_id and the key of
the bot's report it stands for (unique, so a report is audited once).

New nullable columns: existing rows (operator actions that are not commands) get nulls.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('instance', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('origin', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('msg_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('report_key', sa.String(length=255), nullable=True))
        batch_op.create_index('ix_audit_instance_id', ['instance', 'id'], unique=False)
        batch_op.create_index('ix_audit_msg_id', ['msg_id'], unique=False)
        batch_op.create_index('ux_audit_report_key', ['report_key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.drop_index('ux_audit_report_key')
        batch_op.drop_index('ix_audit_msg_id')
        batch_op.drop_index('ix_audit_instance_id')
        batch_op.drop_column('report_key')
        batch_op.drop_column('msg_id')
        batch_op.drop_column('origin')
        batch_op.drop_column('instance')
