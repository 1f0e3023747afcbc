"""The broker as a container: its container id and image, and the encrypted logins of the broker container and
of an external broker that needs one.

Existing rows (an embedded or external broker without login) get nulls.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('broker', schema=None) as batch_op:
        batch_op.add_column(sa.Column('container_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('image', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('container_login', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('external_login', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('broker', schema=None) as batch_op:
        batch_op.drop_column('external_login')
        batch_op.drop_column('container_login')
        batch_op.drop_column('image')
        batch_op.drop_column('container_id')
