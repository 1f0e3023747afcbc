"""One broker login per instance, the backend's own, and the operator's extra ones (the `broker_logins` table);
the broker container's shared logins (`broker.container_login`) go: the container now reads the same logins.

The dropped logins were generated, never given out but to processes that stop: nothing to carry over.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('broker_logins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=127), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('scope', sa.String(length=63), nullable=True),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('sealed_password', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('created_by', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    with op.batch_alter_table('broker', schema=None) as batch_op:
        batch_op.drop_column('container_login')


def downgrade() -> None:
    with op.batch_alter_table('broker', schema=None) as batch_op:
        batch_op.add_column(sa.Column('container_login', sa.Text(), nullable=True))
    op.drop_table('broker_logins')
