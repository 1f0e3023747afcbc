"""Baseline: the schema the store had before migrations (what Base.metadata.create_all made).

A store made then has exactly these tables; the runner stamps it at this revision instead of running it.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ts', sa.Float(), nullable=False),
        sa.Column('actor', sa.String(length=255), nullable=False),
        sa.Column('action', sa.String(length=63), nullable=False),
        sa.Column('outcome', sa.String(length=32), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )

    op.create_table('bot_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_name', sa.String(length=63), nullable=False),
        sa.Column('deployed_at', sa.Float(), nullable=False),
        sa.Column('stopped_at', sa.Float(), nullable=True),
        sa.Column('strategy_type', sa.String(length=16), nullable=False),
        sa.Column('strategy_name', sa.String(length=255), nullable=False),
        sa.Column('config_name', sa.String(length=127), nullable=True),
        sa.Column('account_name', sa.String(length=63), nullable=False),
        sa.Column('image_version', sa.String(length=255), nullable=False),
        sa.Column('deployment_status', sa.String(length=16), nullable=False),
        sa.Column('run_status', sa.String(length=16), nullable=True),
        sa.Column('deployment_config', sa.JSON(), nullable=False),
        sa.Column('final_status', sa.JSON(), nullable=True),
        sa.Column('error_message', sa.Text(), nullable=True),
        sa.Column('archive_path', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_bot_runs_instance', 'bot_runs', ['instance_name', 'id'], unique=False)

    op.create_table('broker',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=False),
        sa.Column('port', sa.Integer(), nullable=False),
        sa.Column('desired', sa.String(length=16), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=True),
        sa.Column('create_time', sa.Float(), nullable=True),
        sa.Column('started_at', sa.Float(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )

    op.create_table('events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ts', sa.Float(), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('sender', sa.String(length=255), nullable=False),
        sa.Column('targets', sa.JSON(), nullable=False),
        sa.Column('deliveries', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )

    op.create_table('instances',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('runtime', sa.String(length=32), nullable=False),
        sa.Column('spec', sa.JSON(), nullable=False),
        sa.Column('config_path', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('state_since', sa.Float(), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=True),
        sa.Column('handle', sa.JSON(), nullable=True),
        sa.Column('started_at', sa.Float(), nullable=True),
        sa.Column('stop_requested_at', sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name')
    )

    op.create_table('market_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance', sa.String(length=63), nullable=False),
        sa.Column('ts', sa.Float(), nullable=False),
        sa.Column('type', sa.String(length=63), nullable=False),
        sa.Column('data', sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_market_events_instance_id', 'market_events', ['instance', 'id'], unique=False)

    op.create_table('notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance', sa.String(length=63), nullable=False),
        sa.Column('ts', sa.Float(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=True),
        sa.Column('msg', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_notifications_instance_id', 'notifications', ['instance', 'id'], unique=False)

    op.create_table('script_configs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=127), nullable=False),
        sa.Column('content', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name')
    )

    op.create_table('strategy_files',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=63), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name')
    )

    op.create_table('webhook_receipts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hook', sa.String(length=63), nullable=False),
        sa.Column('digest', sa.String(length=255), nullable=False),
        sa.Column('ts', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_webhook_receipts_hook_ts', 'webhook_receipts', ['hook', 'ts'], unique=False)

    op.create_table('webhooks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hook', sa.String(length=63), nullable=False),
        sa.Column('secret_hash', sa.String(length=128), nullable=False),
        sa.Column('event', sa.String(length=255), nullable=False),
        sa.Column('targets', sa.JSON(), nullable=False),
        sa.Column('allow_ips', sa.JSON(), nullable=False),
        sa.Column('max_lag', sa.Float(), nullable=False),
        sa.Column('rate_per_min', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('hook')
    )

    op.create_table('log_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('ts', sa.Float(), nullable=False),
        sa.Column('level_no', sa.Integer(), nullable=False),
        sa.Column('level_name', sa.String(length=16), nullable=False),
        sa.Column('logger_name', sa.String(length=255), nullable=False),
        sa.Column('msg', sa.Text(), nullable=False),
        sa.Column('strategy', sa.String(length=63), nullable=True),
        sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_log_lines_strategy'), 'log_lines', ['strategy'], unique=False)
    op.create_index('ix_logs_instance_id', 'log_lines', ['instance_id', 'id'], unique=False)

    op.create_table('pnl_snapshots',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('strategy', sa.String(length=63), nullable=False),
        sa.Column('ts', sa.Float(), nullable=False),
        sa.Column('realized', sa.Float(), nullable=False),
        sa.Column('unrealized', sa.Float(), nullable=False),
        sa.Column('total', sa.Float(), nullable=False),
        sa.Column('volume', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_pnl_instance_ts', 'pnl_snapshots', ['instance_id', 'ts'], unique=False)

    op.create_table('state_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('ts', sa.Float(), nullable=False),
        sa.Column('from_state', sa.String(length=16), nullable=True),
        sa.Column('to_state', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_state_changes_instance_id'), 'state_changes', ['instance_id'], unique=False)

    op.create_table('strategy_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('file_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('params_schema', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['file_id'], ['strategy_files.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('file_id', 'version')
    )
    op.create_index(op.f('ix_strategy_versions_file_id'), 'strategy_versions', ['file_id'], unique=False)

    op.create_table('trades',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('ts', sa.Float(), nullable=False),
        sa.Column('strategy', sa.String(length=63), nullable=True),
        sa.Column('order_id', sa.String(length=128), nullable=False),
        sa.Column('trading_pair', sa.String(length=32), nullable=False),
        sa.Column('side', sa.String(length=4), nullable=False),
        sa.Column('price', sa.Float(), nullable=False),
        sa.Column('amount', sa.Float(), nullable=False),
        sa.Column('fee', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_trades_instance_ts', 'trades', ['instance_id', 'ts'], unique=False)


def downgrade() -> None:
    op.drop_table('trades')
    op.drop_table('strategy_versions')
    op.drop_table('state_changes')
    op.drop_table('pnl_snapshots')
    op.drop_table('log_lines')
    op.drop_table('webhooks')
    op.drop_table('webhook_receipts')
    op.drop_table('strategy_files')
    op.drop_table('script_configs')
    op.drop_table('notifications')
    op.drop_table('market_events')
    op.drop_table('instances')
    op.drop_table('events')
    op.drop_table('broker')
    op.drop_table('bot_runs')
    op.drop_table('audit')
