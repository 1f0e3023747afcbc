"""The backend's side of the journal: which records it takes, when it catches up, and that the store never keeps a
record twice (the cursors are written with the records)."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from backend.orchestrator.journal import JournalTracker, Verdict
from backend.store import Heard, InstanceRow, LogEntry, LogRow, NotificationEntry, Store, TradeEntry, TradeRow


def tracker() -> tuple[JournalTracker, list[str]]:
    asked: list[str] = []
    return JournalTracker(asked.append), asked


def test_an_unknown_run_is_caught_up_first_and_what_was_heard_meanwhile_is_looked_at_after() -> None:
    journal, asked = tracker()
    journal.load({("b1", "r0"): 7})
    assert journal.live("b1", "r1", 5, ("log", {"n": 5}, 1.0)) is Verdict.HOLD     # a run not followed yet
    assert asked == ["b1"]
    assert journal.live("b1", "r1", 6, ("log", {"n": 6}, 2.0)) is Verdict.HOLD     # while catching up
    assert [journal.replayed("b1", "r1", seq) for seq in (1, 2, 3, 2)] == [True, True, True, False]
    assert journal.caught_up("b1", "r1") == [("log", {"n": 5}, 1.0), ("log", {"n": 6}, 2.0)]
    assert [journal.live("b1", "r1", seq, ("log", {}, 3.0)) for seq in (3, 4)] == [Verdict.SKIP, Verdict.ACCEPT]
    assert journal.drain_cursors() == {("b1", "r1"): 4} and journal.drain_cursors() == {}
    assert journal.cursor("b1", "r0") == 7 and asked == ["b1"]


def test_a_gap_or_a_heartbeat_ahead_starts_a_catch_up_and_a_bot_that_cannot_be_asked_is_followed_as_heard() -> None:
    journal, asked = tracker()
    journal.load({("b1", "r1"): 3})
    journal.caught_up("b1", "r1")
    journal.head("b1", "r1", 3)
    assert asked == []                                                              # in step
    assert journal.live("b1", "r1", 6, ("log", {}, 1.0)) is Verdict.HOLD            # 4 and 5 missing
    assert asked == ["b1"]
    journal.caught_up("b1", None, failed=True)                                      # it did not answer
    assert journal.live("b1", "r1", 7, ("log", {}, 2.0)) is Verdict.ACCEPT          # followed as heard
    assert journal.figures.lost == 3 and journal.cursor("b1", "r1") == 7
    journal.head("b1", "r1", 9)
    assert asked == ["b1"]                                                          # not asked again so soon


def test_a_record_stored_once_is_never_stored_again_also_by_another_store_on_the_same_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hive.db'}"
    store = Store(url)
    with store.session() as session:
        session.add(InstanceRow(name="b1", runtime="process", spec={}, config_path="", state="running",
                                state_since=0, created_at=0))

    def batch(seqs: range) -> Heard:
        return Heard(
            logs=[LogEntry("b1", float(s), 20, "INFO", "hive.x", f"line {s}", None, ("r1", s)) for s in seqs],
            trades=[TradeEntry("b1", float(s), "mm", f"o{s}", "BTC-USDT", "BUY", 1.0, 1.0, 0.0, f"t{s}", ("r1", s))
                    for s in seqs],
            notifications=[NotificationEntry("b1", float(s), s, f"note {s}", ("r1", s)) for s in seqs],
            cursors={("b1", "r1"): seqs[-1]})

    store.write_batch(batch(range(1, 4)), log_cap=100)
    store.write_batch(batch(range(1, 4)), log_cap=100)                 # replayed again: nothing new
    store.close()
    store = Store(url)                                                 # (a backend restart)
    assert store.journal_cursors() == {("b1", "r1"): 3}
    store.write_batch(batch(range(2, 6)), log_cap=100)                 # overlapping: only 4 and 5 are new
    with store.session() as session:
        assert list(session.scalars(select(TradeRow.trade_id).order_by(TradeRow.id))) == [f"t{s}" for s in range(1, 6)]
        assert list(session.scalars(select(LogRow.msg).order_by(LogRow.id))) == [f"line {s}" for s in range(1, 6)]
        assert session.scalar(select(func.count()).select_from(TradeRow)) == 5
    assert store.journal_cursors() == {("b1", "r1"): 5}
    store.close()
