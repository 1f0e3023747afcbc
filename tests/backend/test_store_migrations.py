"""The store's schema comes from Alembic migrations: a fresh store, a store made before migrations
(upgraded in place, every row kept), a second open that changes nothing, and PostgreSQL."""
from __future__ import annotations

import io
import logging
import shutil
import socket
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from setuptools import find_packages
from sqlalchemy import func, select

from backend.store import (
    AlertRow,
    AuditRow,
    Base,
    BrokerLoginRow,
    BrokerRow,
    CredentialRow,
    DockerHostRow,
    EventRow,
    Heard,
    InstanceRow,
    JournalCursorRow,
    LogEntry,
    LoginSessionRow,
    LogRow,
    PnlSnapshotRow,
    ResourceSampleRow,
    StateChangeRow,
    Store,
    StrategyFileRow,
    StrategyVersionRow,
    TradeRow,
    WebhookRow,
)
from backend.store.db import engine_url
from backend.store.migrations.runner import BASELINE, alembic_config
from tests.conftest import REPO_ROOT

FIXTURE = Path(__file__).parent / "fixtures" / "store_before_migrations.sql"
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
RESTARTS = "0002"  # the instances' restart count and pending restart
CREDENTIALS = "0003"  # the credentials table
RESOURCES = "0004"  # the instances' resource samples
BROKER_CONTAINER = "0005"  # the broker container's id, image and encrypted logins
DOCKER_HOSTS = "0006"  # the Docker endpoints beyond local
AUDIT_ORIGIN = "0007"  # the audit rows' instance, origin, msg_id and report key
JOURNAL = "0008"  # the journal cursors and the trades' trade ids
BROKER_LOGINS = "0009"  # one broker login per instance, the backend's and the operator's extra ones
AUDIT_STRATEGY = "0010"  # the strategy id a command addressed
VERSION_AUTHORS = "0011"  # the strategy versions' author and note
LOGIN_SESSIONS = "0012"  # the sessions opened with the login, by a hash of their token
ALERTS = "0013"  # the alerts about instances (crashed, restarted, restarts used up)
EXTERNAL_TELEMETRY = "0014"  # log lines, trades and PnL points of external bots (by name)
PG_HOST, PG_PORT = "127.0.0.1", 5432


def revision_and_drift(store: Store) -> tuple[str | None, list]:
    """The store's migration revision, and how its schema differs from the models (nothing, when in step)."""
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        return context.get_current_revision(), compare_metadata(context, Base.metadata)


def migration_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("alembic") and "Running" in r.getMessage()]


def test_the_migrations_ship_in_the_backend_package() -> None:
    """env.py and versions/ are modules of packages, so an installed backend has them (no package data needed)."""
    packages = find_packages(REPO_ROOT, include=["backend*"])
    assert {"backend.store.migrations", "backend.store.migrations.versions"} <= set(packages)


def test_the_baseline_is_the_first_revision_and_head_is_known() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_base() == BASELINE and HEAD is not None


def test_a_fresh_store_is_made_by_the_migrations_and_matches_the_models(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="alembic"):
        store = Store(f"sqlite:///{tmp_path / 'hive.db'}")
    try:
        assert revision_and_drift(store) == (HEAD, [])
        assert any(f"upgrade  -> {BASELINE}," in line for line in migration_log(caplog))
    finally:
        store.close()


def test_opening_an_up_to_date_store_again_changes_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'hive.db'}"
    store = Store(url)
    with store.session() as session:
        session.add(InstanceRow(name="a", runtime="process", spec={}, config_path="", state="created",
                                state_since=0, created_at=0))
    store.close()
    schema_before = _sqlite_schema(tmp_path / "hive.db")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="alembic"):
        store = Store(url)
    try:
        assert migration_log(caplog) == []
        assert _sqlite_schema(tmp_path / "hive.db") == schema_before
        assert revision_and_drift(store) == (HEAD, [])
        with store.session() as session:
            assert session.scalars(select(InstanceRow.name)).all() == ["a"]
    finally:
        store.close()


def test_a_store_made_before_migrations_is_adopted_and_upgraded_in_place(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "hive.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(FIXTURE.read_text())
    connection.close()
    with caplog.at_level(logging.INFO, logger="alembic"):
        store = Store(f"sqlite:///{path}")
    try:
        lines = migration_log(caplog)
        assert any("stamp" in line and line.endswith(f" -> {BASELINE}") for line in lines)
        assert not any(f"upgrade  -> {BASELINE}," in line for line in lines)          # its tables not made again
        assert any(f"upgrade {BASELINE} -> {RESTARTS}," in line for line in lines)    # then through 0002
        assert any(f"upgrade {RESTARTS} -> {CREDENTIALS}," in line for line in lines)  # and 0003
        assert any(f"upgrade {CREDENTIALS} -> {RESOURCES}," in line for line in lines)  # and 0004
        assert any(f"upgrade {RESOURCES} -> {BROKER_CONTAINER}," in line for line in lines)  # and 0005
        assert any(f"upgrade {BROKER_CONTAINER} -> {DOCKER_HOSTS}," in line for line in lines)  # and 0006
        assert any(f"upgrade {DOCKER_HOSTS} -> {AUDIT_ORIGIN}," in line for line in lines)  # and 0007
        assert any(f"upgrade {AUDIT_ORIGIN} -> {JOURNAL}," in line for line in lines)  # and 0008
        assert any(f"upgrade {JOURNAL} -> {BROKER_LOGINS}," in line for line in lines)  # and 0009
        assert any(f"upgrade {BROKER_LOGINS} -> {AUDIT_STRATEGY}," in line for line in lines)  # and 0010
        assert any(f"upgrade {AUDIT_STRATEGY} -> {VERSION_AUTHORS}," in line for line in lines)  # and 0011
        assert any(f"upgrade {VERSION_AUTHORS} -> {LOGIN_SESSIONS}," in line for line in lines)  # and 0012
        assert any(f"upgrade {LOGIN_SESSIONS} -> {ALERTS}," in line for line in lines)  # and 0013
        assert any(f"upgrade {ALERTS} -> {EXTERNAL_TELEMETRY}," in line for line in lines)  # and 0014
        assert revision_and_drift(store) == (HEAD, [])
        with store.session() as session:
            instances = session.scalars(select(InstanceRow).order_by(InstanceRow.id)).all()
            assert [(i.name, i.state, i.pid) for i in instances] == [("alpha", "running", 4001),
                                                                     ("beta", "stopped", 4002)]
            assert [(i.restarts, i.next_restart_at) for i in instances] == [(0, None), (0, None)]  # 0002's defaults
            assert instances[0].spec == {"strategies": [{"id": "mm", "strategy": "market_maker"}]}
            assert instances[0].handle == {"kind": "process", "pid": 4001}
            versions = session.execute(
                select(StrategyFileRow.name, StrategyVersionRow.version, StrategyVersionRow.source,
                       StrategyVersionRow.params_schema, StrategyVersionRow.created_by, StrategyVersionRow.note)
                .join(StrategyFileRow).order_by(StrategyVersionRow.version)
            ).all()
            assert [tuple(v) for v in versions] == [                                   # 0011: author unknown
                ("my_maker", 1, "class MyMaker: pass\n", {"type": "object"}, "unknown", ""),
                ("my_maker", 2, "class MyMaker:\n    spread = 0.1\n", {}, "unknown", "")]
            logs = session.execute(select(InstanceRow.name, LogRow.msg).join(InstanceRow).order_by(LogRow.id)).all()
            assert [tuple(line) for line in logs] == [("alpha", "tick 0"), ("alpha", "tick 1"), ("alpha", "tick 2"),
                                                      ("beta", "venue gone")]
            assert session.execute(select(TradeRow.order_id, TradeRow.trade_id)).one() == ("o-1", None)  # 0007
            assert session.scalars(select(LogRow.bot)).all() == [None] * 4             # 0014's new column: null
            assert session.scalar(select(PnlSnapshotRow.total)) == 1.0
            assert session.scalar(select(StateChangeRow.to_state)) == "running"
            assert session.scalar(select(BrokerRow.kind)) == "embedded"
            assert session.scalar(select(AuditRow.detail)) == "alpha"
            assert session.execute(select(AuditRow.instance, AuditRow.origin, AuditRow.report_key)).one() == (
                None, None, None)                                                     # 0007's new columns: nulls
            assert session.scalar(select(AuditRow.strategy)) is None                  # 0010's new column: null
            assert session.scalar(select(WebhookRow.targets)) == ["alpha"]
            assert session.scalar(select(EventRow.deliveries)) == {"alpha": "published"}
            assert session.scalars(select(CredentialRow)).all() == []                 # 0003's new table, empty
            assert session.scalars(select(ResourceSampleRow)).all() == []             # 0004's new table, empty
            assert session.scalars(select(DockerHostRow)).all() == []                 # 0006's, empty too
            assert session.scalars(select(JournalCursorRow)).all() == []              # 0008's, empty too
            assert session.scalars(select(BrokerLoginRow)).all() == []                # 0009's, empty too
            assert session.scalars(select(LoginSessionRow)).all() == []               # 0012's, empty too
            assert session.scalars(select(AlertRow)).all() == []                      # 0013's, empty too
        store.write_batch(Heard(logs=[LogEntry("beta", 1.0, 20, "INFO", "l", "after the upgrade", None),
                                      LogEntry("hbot1", 2.0, 20, "INFO", "l", "an external bot's", None)]), log_cap=100)
        with store.session() as session:                      # ids go on after the old rows
            assert session.scalar(select(func.max(LogRow.id))) == 6
            assert session.execute(select(LogRow.instance_id, LogRow.bot).where(LogRow.id == 6)).one() == (
                None, "hbot1")                                # 0014: an external bot's line, by its name
    finally:
        store.close()


def _sqlite_schema(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    connection.close()
    return rows


# ---- PostgreSQL (127.0.0.1:5432, trust auth): a throw-away database per test -----------------------------

def _postgres_missing() -> str | None:
    """Why the PostgreSQL tests cannot run here, and what would make them run; None when they can."""
    if shutil.which("psql") is None:
        return "no psql client: install it (Debian: postgresql-client) to run the PostgreSQL migration tests"
    try:
        socket.create_connection((PG_HOST, PG_PORT), timeout=1).close()
    except OSError:
        return (f"no PostgreSQL on {PG_HOST}:{PG_PORT}: start one that lets user postgres in (trust auth) and has a "
                "database 'test' to run the PostgreSQL migration tests")
    return None


def _psql(database: str, *args: str, sql: str | None = None) -> str:
    result = subprocess.run(["psql", "-h", PG_HOST, "-p", str(PG_PORT), "-U", "postgres", "-d", database,
                             "-v", "ON_ERROR_STOP=1", "-X", "-q", "-At", *args],
                            input=sql, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def postgres_database() -> str:
    missing = _postgres_missing()
    if missing:
        pytest.skip(missing)
    name = f"hive_migrations_{uuid.uuid4().hex[:12]}"
    _psql("test", "-c", f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        _psql("test", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_the_migrations_run_on_postgresql_as_sql(postgres_database: str) -> None:
    """Offline mode: the migrations' PostgreSQL SQL, run by psql (needs no Python driver)."""
    config = alembic_config()
    config.output_buffer = io.StringIO()
    config.attributes["dialect"] = "postgresql"
    command.upgrade(config, "head", sql=True)
    _psql(postgres_database, sql=config.output_buffer.getvalue())
    tables = _psql(postgres_database, "-c", "SELECT table_name FROM information_schema.tables "
                                            "WHERE table_schema = 'public'").split()
    assert set(tables) == set(Base.metadata.tables) | {"alembic_version"}
    assert _psql(postgres_database, "-c", "SELECT version_num FROM alembic_version").strip() == HEAD


def test_a_store_on_postgresql_is_migrated_when_it_opens(postgres_database: str) -> None:
    """Online, through the Store itself, with the URL as an operator writes it (psycopg 3 is the backend's driver)."""
    url = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{postgres_database}"
    for _ in range(2):                                         # the second open finds it up to date
        store = Store(url)
        try:
            assert revision_and_drift(store) == (HEAD, [])
        finally:
            store.close()



@pytest.mark.parametrize(("given", "used"), [
    ("postgresql://u@db/hive", "postgresql+psycopg://u@db/hive"),
    ("postgres://u@db/hive", "postgresql+psycopg://u@db/hive"),
    ("postgresql+psycopg2://u@db/hive", "postgresql+psycopg2://u@db/hive"),
    ("sqlite:////tmp/hive.db", "sqlite:////tmp/hive.db"),
])
def test_a_bare_postgresql_url_gets_the_installed_driver(given: str, used: str) -> None:
    assert engine_url(given).render_as_string(hide_password=False) == used
