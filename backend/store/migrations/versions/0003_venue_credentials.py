"""Venue credentials: their secret parts encrypted together, with what the operator is shown of them.

A new table, so existing rows are untouched.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('credentials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('venue', sa.String(length=63), nullable=False),
    sa.Column('ciphertext', sa.Text(), nullable=False),
    sa.Column('api_key_last4', sa.String(length=4), nullable=False),
    sa.Column('has_passphrase', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('credentials')
