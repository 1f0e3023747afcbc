"""The Docker endpoints beyond `local`: URL, TLS material sealed with the credentials key, broker address.

A new table, so existing rows are untouched.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('docker_hosts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('tls_ciphertext', sa.Text(), nullable=True),
    sa.Column('broker_host', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('docker_hosts')
