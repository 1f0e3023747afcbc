"""The instance's journal on disk: seqs, rotation, the size bound, ranges, earlier runs, and the journal command."""
from __future__ import annotations

from pathlib import Path

from hive_core.protocol import JournalRequest
from hive_core.remote.controller import RemoteController
from hive_core.remote.journal import Journal
from hive_core.remote.link import BridgeLink

LINE = "x" * 100


def fill(journal: Journal, count: int) -> None:
    for index in range(count):
        journal.append("log", {"msg": f"{index} {LINE}"})


def test_records_get_the_next_seq_of_their_run_and_the_payload_says_so(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=4096, max_bytes=1 << 20, run="r1")
    first = journal.append("log", {"msg": "a"})
    second = journal.append("events", {"type": "OrderFilled"})
    assert (first["journal"], second["journal"]) == ({"run": "r1", "seq": 1}, {"run": "r1", "seq": 2})
    assert journal.head() == {"run": "r1", "seq": 2}
    assert [(r.seq, r.topic, r.payload) for r in journal.read("r1", 1, 10)] == [(1, "log", first),
                                                                                (2, "events", second)]


def test_segments_rotate_and_the_oldest_go_beyond_the_bound(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=4096, max_bytes=4 * 4096, run="r1")
    fill(journal, 1000)
    sizes = [path.stat().st_size for path in tmp_path.glob("*.jsonl")]
    assert len(sizes) == 4 and max(sizes) <= 4096 and sum(sizes) <= 4 * 4096
    assert journal.pruned > 0
    [run] = journal.runs()
    assert run["last_seq"] == 1000 and run["first_seq"] > 1 and run["current"]
    kept = journal.read("r1", 1, 1000)                         # what was deleted is skipped
    assert kept[0].seq == run["first_seq"] and [r.seq for r in kept] == list(range(run["first_seq"], 1001))


def test_ranges_are_served_in_order_within_limit_and_bytes(tmp_path: Path) -> None:
    journal = Journal(tmp_path, segment_bytes=4096, max_bytes=1 << 20, run="r1")
    fill(journal, 300)
    assert [r.seq for r in journal.read("r1", 100, 5)] == [100, 101, 102, 103, 104]
    assert [r.seq for r in journal.read("r1", 105, 5)] == [105, 106, 107, 108, 109]   # (the next chunk)
    assert [r.seq for r in journal.read("r1", 298, 50)] == [298, 299, 300]
    assert journal.read("r1", 301, 50) == []
    assert len(journal.read("r1", 1, 300, max_bytes=1000)) == 7   # ~150 bytes each: stops once past 1000
    assert [r.seq for r in journal.read("r1", 7, 1, max_bytes=1)] == [7]               # always one


def test_a_new_run_serves_the_previous_runs_journal_too(tmp_path: Path) -> None:
    before = Journal(tmp_path, segment_bytes=4096, max_bytes=1 << 20, run="20260101T000000000-aaaaaa")
    fill(before, 50)
    with open(next(tmp_path.glob("*.jsonl")), "a") as file:        # killed in the middle of a line
        file.write('51 log {"msg": "unfini')
    after = Journal(tmp_path, segment_bytes=4096, max_bytes=1 << 20, run="20260101T000100000-bbbbbb")
    after.append("log", {"msg": "new run"})
    assert [(r["run"], r["first_seq"], r["last_seq"], r["current"]) for r in after.runs()] == [
        ("20260101T000000000-aaaaaa", 1, 50, False), ("20260101T000100000-bbbbbb", 1, 1, True)]
    assert [r.seq for r in after.read("20260101T000000000-aaaaaa", 45, 100)] == [45, 46, 47, 48, 49, 50]


def test_the_journal_command_answers_ranges_and_runs(tmp_path: Path) -> None:
    link = BridgeLink()
    controller = RemoteController(None, delivery=None, reports=None, link=link, clock=None)  # type: ignore[arg-type]
    assert controller.command_journal(JournalRequest())["status"] == 400               # no journal kept
    link.journal = Journal(tmp_path, segment_bytes=4096, max_bytes=1 << 20, run="r1")
    fill(link.journal, 20)
    listing = controller.command_journal(JournalRequest(limit=0))
    assert listing["status"] == 200 and listing["records"] == [] and listing["current"] == {"run": "r1", "seq": 20}
    assert listing["runs"] == [{"run": "r1", "first_seq": 1, "last_seq": 20, "current": True}]
    chunk = controller.command_journal(JournalRequest(since=18, limit=10))
    assert [(r["seq"], r["topic"], r["payload"]["journal"]["seq"]) for r in chunk["records"]] == [
        (18, "log", 18), (19, "log", 19), (20, "log", 20)]
    unknown = controller.command_journal(JournalRequest(run="r0"))
    assert unknown["status"] == 400 and unknown["msg"].startswith("data.run: no journal of run 'r0' is left; runs: r1")
