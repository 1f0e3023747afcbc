"""Engine and session handling: SQLite (WAL) by default, any SQLAlchemy URL through DATABASE_URL.

Opening a Store brings its schema to the newest migration (backend/store/migrations).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, delete, event, select
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from backend.store.migrations.runner import upgrade_to_head
from backend.store.models import InstanceRow, LogRow, PnlSnapshotRow, TradeRow


@dataclass(frozen=True)
class LogEntry:
    instance: str
    ts: float
    level_no: int
    level_name: str
    logger_name: str
    msg: str
    strategy: str | None


@dataclass(frozen=True)
class TradeEntry:
    instance: str
    ts: float
    strategy: str | None
    order_id: str
    trading_pair: str
    side: str
    price: float
    amount: float
    fee: float


@dataclass(frozen=True)
class PnlEntry:
    instance: str
    strategy: str
    ts: float
    realized: float
    unrealized: float
    total: float
    volume: float


def engine_url(url: str) -> URL:
    """The SQLAlchemy URL for DATABASE_URL: a bare `postgresql://` (or `postgres://`) URL gets the psycopg 3
    driver the backend installs, where SQLAlchemy would otherwise look for psycopg2."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    return parsed.set(drivername="postgresql+psycopg") if parsed.drivername == "postgresql" else parsed


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        parsed = engine_url(url)
        connect_args = {}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                _private_sqlite_file(Path(parsed.database))
            connect_args = {"check_same_thread": False, "timeout": 30}
        self.engine: Engine = create_engine(parsed, connect_args=connect_args)
        if parsed.get_backend_name() == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        upgrade_to_head(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any exception."""
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

    # --- bulk writes from the fleet connection ---------------------------------------------------
    def write_batch(self, logs: Iterable[LogEntry], trades: Iterable[TradeEntry], pnl: Iterable[PnlEntry],
                    log_cap: int) -> None:
        logs, trades, pnl = list(logs), list(trades), list(pnl)
        if not (logs or trades or pnl):
            return
        names = {e.instance for e in logs} | {e.instance for e in trades} | {e.instance for e in pnl}
        with self.session() as session:
            ids = dict(session.execute(
                select(InstanceRow.name, InstanceRow.id).where(InstanceRow.name.in_(names))).all())
            session.add_all(
                LogRow(instance_id=ids[e.instance], ts=e.ts, level_no=e.level_no, level_name=e.level_name,
                       logger_name=e.logger_name, msg=e.msg, strategy=e.strategy)
                for e in logs if e.instance in ids
            )
            session.add_all(
                TradeRow(instance_id=ids[e.instance], ts=e.ts, strategy=e.strategy, order_id=e.order_id,
                         trading_pair=e.trading_pair, side=e.side, price=e.price, amount=e.amount, fee=e.fee)
                for e in trades if e.instance in ids
            )
            session.add_all(
                PnlSnapshotRow(instance_id=ids[e.instance], strategy=e.strategy, ts=e.ts, realized=e.realized,
                               unrealized=e.unrealized, total=e.total, volume=e.volume)
                for e in pnl if e.instance in ids
            )
            session.flush()
            for name in {e.instance for e in logs}:
                if name in ids:
                    _trim_logs(session, ids[name], log_cap)


def _trim_logs(session: Session, instance_id: int, keep: int) -> None:
    """Keep only the newest `keep` log lines of one instance."""
    cutoff = session.scalar(
        select(LogRow.id).where(LogRow.instance_id == instance_id).order_by(LogRow.id.desc()).offset(keep).limit(1)
    )
    if cutoff is not None:
        session.execute(delete(LogRow).where(LogRow.instance_id == instance_id, LogRow.id <= cutoff))


def _private_sqlite_file(path: Path) -> None:
    """The database file exists, readable by its owner alone (0600), like its -wal and -shm files (SQLite makes
    them with the database's mode); a new folder for it is 0700."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists():
            file.chmod(0o600)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
