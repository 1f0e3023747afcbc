"""Engine and session handling: SQLite (WAL) by default, any SQLAlchemy URL through DATABASE_URL.

Opening a Store brings its schema to the newest migration (backend/store/migrations).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, create_engine, delete, event, insert, select
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from backend.store.migrations.runner import upgrade_to_head
from backend.store.models import (
    InstanceRow,
    JournalCursorRow,
    LogRow,
    MarketEventRow,
    NotificationRow,
    PnlSnapshotRow,
    TradeRow,
)

JournalKey = tuple[str, int]
"""(run, seq) of the journal record an entry comes from (hive_core/remote/journal.py); None when not journaled."""


@dataclass(frozen=True)
class LogEntry:
    instance: str
    ts: float
    level_no: int
    level_name: str
    logger_name: str
    msg: str
    strategy: str | None
    journal: JournalKey | None = None


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
    trade_id: str | None = None
    journal: JournalKey | None = None


@dataclass(frozen=True)
class PnlEntry:
    instance: str
    strategy: str
    ts: float
    realized: float
    unrealized: float
    total: float
    volume: float
    journal: JournalKey | None = None


@dataclass(frozen=True)
class NotificationEntry:
    instance: str
    ts: float
    seq: int | None
    msg: str
    journal: JournalKey | None = None


@dataclass(frozen=True)
class MarketEventEntry:
    instance: str
    ts: float
    type: str
    data: object
    journal: JournalKey | None = None


@dataclass
class Heard:
    """What the fleet heard since the last batch, to be stored in one transaction.

    `cursors`: (bot, run) -> the seq up to which every journaled record of that run is in this batch or already
    stored. An entry whose journal seq is not above the stored cursor is skipped: none is stored twice."""

    logs: list[LogEntry] = field(default_factory=list)
    trades: list[TradeEntry] = field(default_factory=list)
    pnl: list[PnlEntry] = field(default_factory=list)
    notifications: list[NotificationEntry] = field(default_factory=list)
    market_events: list[MarketEventEntry] = field(default_factory=list)
    cursors: dict[tuple[str, str], int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.logs or self.trades or self.pnl or self.notifications or self.market_events or self.cursors)

    def counts(self) -> str:
        return (f"{len(self.logs)} log lines, {len(self.trades)} trades, {len(self.pnl)} PnL points, "
                f"{len(self.notifications)} notifications, {len(self.market_events)} market events")


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
    def write_batch(self, heard: Heard, log_cap: int) -> None:
        """Store what was heard in one transaction, with the journal cursors it advances. Log lines, trades and
        PnL points of an instance created here by its row, of any other bot (an external one) by its name;
        notifications and market events of every bot by name."""
        if not heard:
            return
        with self.session() as session:
            fresh = _journal_filter(session, heard.cursors)
            logs = [e for e in heard.logs if fresh(e)]
            trades = [e for e in heard.trades if fresh(e)]
            pnl = [e for e in heard.pnl if fresh(e)]
            # Core inserts (executemany): the ORM's unit of work took ~30 ms a round for 300 PnL points
            _insert(session, NotificationRow, [dict(instance=e.instance, ts=e.ts, msg=e.msg, seq=e.seq)
                                               for e in heard.notifications if fresh(e)])
            _insert(session, MarketEventRow, [dict(instance=e.instance, ts=e.ts, type=e.type[:63], data=e.data)
                                              for e in heard.market_events if fresh(e)])
            names = {e.instance for e in logs} | {e.instance for e in trades} | {e.instance for e in pnl}
            ids = dict(session.execute(
                select(InstanceRow.name, InstanceRow.id).where(InstanceRow.name.in_(names))).all())

            def owner(name: str) -> dict[str, Any]:
                return {"instance_id": ids[name], "bot": None} if name in ids else {"instance_id": None,
                                                                                    "bot": name[:63]}
            _insert(session, LogRow, [dict(**owner(e.instance), ts=e.ts, level_no=e.level_no,
                                           level_name=e.level_name, logger_name=e.logger_name, msg=e.msg,
                                           strategy=e.strategy) for e in logs])
            _insert(session, TradeRow, [dict(**owner(e.instance), ts=e.ts, strategy=e.strategy, order_id=e.order_id,
                                             trading_pair=e.trading_pair, side=e.side, price=e.price,
                                             amount=e.amount, fee=e.fee, trade_id=e.trade_id) for e in trades])
            _insert(session, PnlSnapshotRow, [dict(**owner(e.instance), strategy=e.strategy, ts=e.ts,
                                                   realized=e.realized, unrealized=e.unrealized, total=e.total,
                                                   volume=e.volume) for e in pnl])
            session.flush()
            for name in {e.instance for e in logs}:
                _trim_logs(session, LogRow.instance_id == ids[name] if name in ids else
                           and_(LogRow.instance_id.is_(None), LogRow.bot == name[:63]), log_cap)

    def journal_cursors(self) -> dict[tuple[str, str], int]:
        """(bot, run) -> the seq up to which that run's journal is stored."""
        with self.session() as session:
            return {(row.instance, row.run): row.seq for row in session.scalars(select(JournalCursorRow))}


def _journal_filter(session: Session, cursors: dict[tuple[str, str], int]) -> Callable[[Any], bool]:
    """Advance the stored cursors of `cursors`; return what tells an entry not stored yet (by the cursors as they
    were before)."""
    if not cursors:
        return lambda _entry: True
    names = {name for name, _run in cursors}
    rows = {(row.instance, row.run): row for row in session.scalars(
        select(JournalCursorRow).where(JournalCursorRow.instance.in_(names)))}
    stored = {key: row.seq for key, row in rows.items()}
    now = time.time()
    for (name, run), seq in cursors.items():
        row = rows.get((name, run))
        if row is None:
            session.add(JournalCursorRow(instance=name, run=run, seq=seq, updated_at=now))
        elif seq > row.seq:
            row.seq, row.updated_at = seq, now

    def fresh(entry: Any) -> bool:
        key = entry.journal
        return key is None or key[1] > stored.get((entry.instance, key[0]), 0)
    return fresh


def _insert(session: Session, model: type, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(model), rows)


def _trim_logs(session: Session, of_bot: ColumnElement[bool], keep: int) -> None:
    """Keep only the newest `keep` log lines of one bot (`of_bot` selects its lines)."""
    cutoff = session.scalar(select(LogRow.id).where(of_bot).order_by(LogRow.id.desc()).offset(keep).limit(1))
    if cutoff is not None:
        session.execute(delete(LogRow).where(of_bot, LogRow.id <= cutoff))


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
