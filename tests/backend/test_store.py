"""The store: SQLite in WAL mode, bulk writes from the fleet, log lines capped per instance."""
from __future__ import annotations

import stat

from sqlalchemy import func, select, text

from backend.store import (
    Heard,
    InstanceRow,
    LogEntry,
    LogRow,
    MarketEventEntry,
    NotificationEntry,
    PnlEntry,
    PnlSnapshotRow,
    Store,
    TradeEntry,
    TradeRow,
)
from backend.store.repositories.telemetry import TelemetryRepository


def _store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'sub' / 'hive.db'}")


def _add(store: Store, name: str) -> int:
    with store.session() as session:
        row = InstanceRow(name=name, runtime="process", spec={}, config_path="", state="created", state_since=0,
                          created_at=0)
        session.add(row)
        session.flush()
        return row.id


def test_sqlite_file_is_created_in_wal_mode(tmp_path) -> None:
    store = _store(tmp_path)
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert (tmp_path / "sub" / "hive.db").exists()
    store.close()


def test_the_sqlite_files_and_a_new_folder_for_them_are_private(tmp_path) -> None:
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "hive.db").touch(mode=0o644)
    for folder in ("sub", "old"):
        store = Store(f"sqlite:///{tmp_path / folder / 'hive.db'}")
        _add(store, "bot")
        with store.engine.connect():  # an open connection: the -wal and -shm files exist
            names = {path.name: stat.S_IMODE(path.stat().st_mode) for path in (tmp_path / folder).iterdir()}
        store.close()
        assert names == {"hive.db": 0o600, "hive.db-wal": 0o600, "hive.db-shm": 0o600}
    assert stat.S_IMODE((tmp_path / "sub").stat().st_mode) == 0o700


def test_batch_stores_rows_of_instances_by_row_and_of_external_bots_by_name(tmp_path) -> None:
    store = _store(tmp_path)
    a = _add(store, "a")
    store.write_batch(Heard(
        logs=[LogEntry("a", 1.0, 20, "INFO", "hive.strategy.s1", "hello", "s1"),
              LogEntry("stranger", 1.0, 20, "INFO", "x", "from a bot we do not manage", None)],
        trades=[TradeEntry("a", 2.0, "s1", "o1", "BTC-USDT", "BUY", 100.0, 0.1, 0.01),
                TradeEntry("stranger", 2.0, "c1", "o9", "ETH-USDT", "SELL", 10.0, 1.0, 0.0)],
        pnl=[PnlEntry("a", "s1", 3.0, 1.0, 2.0, 3.0, 4.0), PnlEntry("stranger", "c1", 3.0, 5.0, 0.0, 5.0, 9.0)]),
        log_cap=100,
    )
    with store.session() as session:
        assert session.execute(select(LogRow.instance_id, LogRow.bot, LogRow.msg).order_by(LogRow.id)).all() == [
            (a, None, "hello"), (None, "stranger", "from a bot we do not manage")]
        assert session.execute(select(TradeRow.instance_id, TradeRow.bot, TradeRow.order_id)
                               .order_by(TradeRow.id)).all() == [(a, None, "o1"), (None, "stranger", "o9")]
        assert session.execute(select(PnlSnapshotRow.instance_id, PnlSnapshotRow.bot, PnlSnapshotRow.total)
                               .order_by(PnlSnapshotRow.id)).all() == [(a, None, 3.0), (None, "stranger", 5.0)]
    store.close()


def test_the_pnl_of_instances_and_external_bots_is_read_together_by_bot_name(tmp_path) -> None:
    """The Hummingbot-API performance view: the newest point per (bot, strategy), and points sampled per bucket."""
    store = _store(tmp_path)
    _add(store, "a")
    store.write_batch(Heard(pnl=[PnlEntry(bot, "s1", ts, ts, 0.0, ts, 0.0)
                                 for bot in ("a", "ext") for ts in (10.0, 20.0, 70.0)]), log_cap=100)
    with store.session() as session:
        telemetry = TelemetryRepository(session)
        latest = sorted((name, point.strategy, point.ts) for point, name in telemetry.latest_pnl_per_strategy(None))
        assert latest == [("a", "s1", 70.0), ("ext", "s1", 70.0)]
        assert [(name, point.ts) for point, name in telemetry.latest_pnl_per_strategy("ext")] == [("ext", 70.0)]
        sampled = telemetry.sampled_pnl(bot_name="ext", strategy=None, start=None, end=None, bucket_seconds=60,
                                        after=None, limit=10)
        assert [(name, point.ts) for point, name in sampled] == [("ext", 20.0), ("ext", 70.0)]
    store.close()


def test_an_external_bots_log_lines_are_capped_by_its_name(tmp_path) -> None:
    store = _store(tmp_path)
    for batch in range(2):
        store.write_batch(Heard(logs=[LogEntry(bot, float(i), 20, "INFO", "l", f"{bot}{batch * 100 + i}", None)
                                      for i in range(100) for bot in ("x", "y")]), log_cap=150)
    with store.session() as session:
        for bot in ("x", "y"):
            messages = list(session.scalars(select(LogRow.msg).where(LogRow.bot == bot).order_by(LogRow.id)))
            assert len(messages) == 150 and messages[0] == f"{bot}50" and messages[-1] == f"{bot}199"
    store.close()


def test_log_lines_are_capped_per_instance_keeping_the_newest(tmp_path) -> None:
    store = _store(tmp_path)
    _add(store, "a")
    _add(store, "b")
    for batch in range(3):
        store.write_batch(Heard(logs=[LogEntry("a", float(i), 20, "INFO", "l", f"a{batch * 100 + i}", None)
                                      for i in range(100)]), log_cap=150)
    store.write_batch(Heard(logs=[LogEntry("b", 0.0, 20, "INFO", "l", "b0", None)]), log_cap=150)
    with store.session() as session:
        messages = list(session.scalars(select(LogRow.msg).join(InstanceRow).where(InstanceRow.name == "a")
                                        .order_by(LogRow.id)))
        assert len(messages) == 150 and messages[0] == "a150" and messages[-1] == "a299"
        assert session.scalar(select(func.count()).select_from(LogRow).join(InstanceRow)
                              .where(InstanceRow.name == "b")) == 1
    store.close()


def test_an_external_bots_trades_and_pnl_and_every_bots_feeds_are_cut_to_their_caps(tmp_path) -> None:
    """A bot Hive did not create may send any number of trades, PnL points, notifications and market events: the
    newest are kept up to the caps; an instance created here keeps all of its trades and PnL points."""
    store = _store(tmp_path)
    _add(store, "own")
    for batch in range(3):
        store.write_batch(Heard(
            trades=[TradeEntry(bot, float(batch * 100 + i), "s1", f"o{batch * 100 + i}", "BTC-USDT", "BUY", 1.0, 1.0,
                               0.0) for i in range(100) for bot in ("own", "ext")],
            pnl=[PnlEntry(bot, "s1", float(batch * 100 + i), 0.0, 0.0, float(batch * 100 + i), 0.0)
                 for i in range(100) for bot in ("own", "ext")],
            notifications=[NotificationEntry(bot, float(i), None, f"n{batch * 100 + i}")
                           for i in range(100) for bot in ("own", "ext")],
            market_events=[MarketEventEntry(bot, float(i), "OrderFilledEvent", {"n": batch * 100 + i})
                           for i in range(100) for bot in ("own", "ext")]), log_cap=1000)
    with store.session() as session:
        telemetry = TelemetryRepository(session)
        assert telemetry.trim_external_history(keep=250) == 2 * 50
        assert telemetry.trim_feeds(keep=120) == 2 * 2 * 180
        assert telemetry.trim_external_history(keep=250) == 0   # nothing over the caps any more
    with store.session() as session:
        telemetry = TelemetryRepository(session)
        assert [trade.order_id for trade in telemetry.newest_trades("ext", 1000)][-1] == "o50"
        own = _id(store, "own")
        assert telemetry.trade_count("ext") == 250 and telemetry.trade_count(own) == 300
        assert len(telemetry.pnl_points("ext", None)) == 250 and len(telemetry.pnl_points(own, None)) == 300
        for bot in ("own", "ext"):
            assert [row.msg for row in telemetry.newest_notifications(bot, 1000)][-1] == "n180"
            assert len(telemetry.newest_market_events(bot, 1000)) == 120
    store.close()


def _id(store: Store, name: str) -> int:
    with store.session() as session:
        return session.scalar(select(InstanceRow.id).where(InstanceRow.name == name))
