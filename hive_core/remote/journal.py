"""The instance's journal: every log line, notification, market event and PnL point it publishes, on disk.

MQTT messages are QoS 0 and a broker keeps nothing for a backend that is down, so what the bot says while
nobody listens would be gone. The journal keeps it: each record gets the next sequence number of this run
(`run`: a new id per process start, sortable by start time) and is appended to a file of the instance's
folder before it is published; the published message carries the same `{"run", "seq"}` (docs/protocol.md,
"journal"), so a listener notices a gap and asks for the missing range with the `journal` command.

On disk: `<dir>/<run>.<first seq, 12 digits>.jsonl`, one record per line, `<seq> <topic> <payload JSON>`.
A segment is closed at `segment_bytes`; when a new one is opened, the oldest segments (of any run) are
deleted until all of them, the new one counted full, fit in `max_bytes`. The journals of earlier runs stay
in the folder (until deleted for space) and are served as well: a bot restarted while nobody listened
still hands over the end of its previous run.

Appends come from any thread (log records of the MQTT thread too): one lock. Each line is handed to the OS
at once (no fsync): a killed process loses nothing it had journaled, a crashed machine may.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from hive_core.remote import messages

SUFFIX = ".jsonl"
MAX_REPLY_BYTES = 256 * 1024  # a `journal` reply stops adding records beyond this much payload text


def new_run_id(now: float | None = None) -> str:
    """`YYYYmmddTHHMMSSmmm-<6 hex>`: sorts by start time; unique enough across restarts within a millisecond."""
    now = time.time() if now is None else now
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}"
    return f"{stamp}-{secrets.token_hex(3)}"


@dataclass
class Segment:
    run: str
    first_seq: int
    path: Path
    size: int
    last_seq: int  # 0 while empty


@dataclass(frozen=True)
class Record:
    seq: int
    topic: str
    payload: dict[str, Any]


class Journal:
    """Append-only, size-bounded, in rotated segments; serves ranges of any run still on disk."""

    def __init__(self, directory: Path, *, segment_bytes: int, max_bytes: int, run: str | None = None) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self.run = run or new_run_id()
        self.seq = 0
        self.pruned = 0  # segments deleted for space by this process
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        self._segments = _scan(directory)     # oldest first; the current run's are appended below
        self._file: IO[str] | None = None
        self._read_cache: tuple[str, int, Path, int] | None = None  # (run, next seq, segment, byte offset)

    # ---- writing ------------------------------------------------------------------------------

    def append(self, topic: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Give the record the next seq, write it, and return the payload to publish (with its `journal`)."""
        with self._lock:
            self.seq += 1
            stamped = {**payload, "journal": {"run": self.run, "seq": self.seq}}
            line = f"{self.seq} {topic} {messages.to_json(stamped)}\n"
            segment = self._segment_for(len(line.encode()))
            assert self._file is not None
            self._file.write(line)
            self._file.flush()
            segment.size += len(line.encode())
            segment.last_seq = self.seq
            return stamped

    def head(self) -> dict[str, Any]:
        """This run and its last seq (what the heartbeat carries)."""
        return {"run": self.run, "seq": self.seq}

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _segment_for(self, size: int) -> Segment:
        current = self._segments[-1] if self._segments and self._file is not None else None
        if current is not None and current.size + size <= self.segment_bytes:
            return current
        if self._file is not None:
            self._file.close()
        path = self.directory / f"{self.run}.{self.seq:012d}{SUFFIX}"
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (kept open across appends)
        segment = Segment(self.run, self.seq, path, 0, 0)
        self._segments.append(segment)
        self._prune()
        return segment

    def _prune(self) -> None:
        """Delete the oldest closed segments until they and a full new one fit in max_bytes."""
        total = sum(segment.size for segment in self._segments)
        while total + self.segment_bytes > self.max_bytes and len(self._segments) > 1:
            oldest = self._segments.pop(0)
            total -= oldest.size
            oldest.path.unlink(missing_ok=True)
            self.pruned += 1
            self._read_cache = None

    # ---- reading ------------------------------------------------------------------------------

    def runs(self) -> list[dict[str, Any]]:
        """Every run with records on disk, oldest first: run, first_seq, last_seq (and `current`)."""
        with self._lock:
            found: dict[str, dict[str, Any]] = {}
            for segment in self._segments:
                if segment.last_seq == 0:
                    continue
                entry = found.setdefault(segment.run, {"run": segment.run, "first_seq": segment.first_seq,
                                                       "last_seq": 0, "current": segment.run == self.run})
                entry["last_seq"] = max(entry["last_seq"], segment.last_seq)
            return list(found.values())

    def read(self, run: str, since: int, limit: int, max_bytes: int = MAX_REPLY_BYTES) -> list[Record]:
        """Records of `run` with seq >= `since`, oldest first: at most `limit`, and no more than about
        `max_bytes` of payload (always at least one). Records deleted for space are skipped."""
        with self._lock:
            segments = [s for s in self._segments if s.run == run and s.last_seq >= since]
            cache = self._read_cache
            records: list[Record] = []
            taken = 0
            for segment in segments:
                offset = cache[3] if cache is not None and cache[:3] == (run, since, segment.path) else 0
                with open(segment.path, encoding="utf-8") as file:
                    file.seek(offset)
                    while len(records) < limit and (not records or taken < max_bytes):
                        line = file.readline()
                        if not line.endswith("\n"):
                            break
                        seq_text, topic, text = line.split(" ", 2)
                        if int(seq_text) < since:
                            continue
                        records.append(Record(int(seq_text), topic, json.loads(text)))
                        taken += len(text)
                    position = file.tell()
                if len(records) >= limit or (records and taken >= max_bytes):
                    self._read_cache = (run, records[-1].seq + 1, segment.path, position)
                    break
            return records


def _scan(directory: Path) -> list[Segment]:
    """The segments left by earlier runs, oldest first, with their sizes and last seqs."""
    segments = []
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        run, _, first = path.name.removesuffix(SUFFIX).rpartition(".")
        if not run or not first.isdigit():
            continue
        size = path.stat().st_size
        segments.append(Segment(run, int(first), path, size, _last_seq(path, size)))
    return segments


def _last_seq(path: Path, size: int) -> int:
    """The seq of the last complete line of a segment (0 when it has none)."""
    start = max(0, size - 64 * 1024)
    with open(path, "rb") as file:
        file.seek(start)
        lines = file.read().split(b"\n")[:-1]   # the last piece is empty or an unfinished line
    for line in reversed(lines[1:] if start else lines):  # (a tail read from mid-file starts mid-line)
        head = line.split(b" ", 1)[0]
        if head.isdigit():
            return int(head)
    return 0
