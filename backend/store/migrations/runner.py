"""Bring a store's schema to the newest migration; adopt a store made before there were migrations.

No alembic.ini: the configuration is built here, and the migrations run on the Store's own connection.
"""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent
BASELINE = "0001"   # the schema that Base.metadata.create_all made before migrations


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for these migrations; env.py runs them on `connection` (online mode)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Apply every migration the store has not had yet (nothing when it is up to date), in one transaction."""
    with engine.begin() as connection:
        config = alembic_config(connection)
        if made_before_migrations(connection):
            command.stamp(config, BASELINE)
        command.upgrade(config, "head")


def made_before_migrations(connection: Connection) -> bool:
    """Tables but no alembic_version: create_all made them, and they are the baseline schema."""
    tables = set(inspect(connection).get_table_names())
    return "instances" in tables and "alembic_version" not in tables
