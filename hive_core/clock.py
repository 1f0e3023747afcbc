"""One clock for many strategies: who is due to tick, and when the next one is.

Each registered slot (one per strategy, plus system jobs such as the market simulator) has an
interval and a phase. Its ticks fall on the grid `base + phase + k * interval`, so N slots at the
same interval with spread phases tick one after another across the interval instead of in one
burst at its start. Due slots are kept in an indexed binary min-heap over C arrays, so asking
"who is due now" costs O(log N) per due slot, not a scan over every strategy.

A slot that is late by one or more whole intervals ticks once, and the ticks it missed are
counted as overruns (per slot and in total): never run twice to catch up, never silently lost.
Tick lag (how late a slot was handed out, against its scheduled grid time) is kept per slot: the
last one and the largest one; `pop_due(now, out, scheduled)` also hands out each slot's scheduled
time, so the scheduler can measure the lag at the moment the tick really starts.

Slots can be released (a removed strategy) and are then reused by the next `add`, so adding and
removing strategies over a long run does not grow the arrays.

Two modes share the code: realtime (now = wall clock, the caller sleeps until `next_due()`) and
backtest (virtual time: `advance()` jumps straight to the next due time).

Written in Cython's pure-Python mode: compiled by setup.py where a C compiler exists, the same
file runs interpreted where not. `COMPILED` tells which one is active.
"""
from __future__ import annotations

import time
from array import array

import cython

COMPILED: bool = cython.compiled
INF: float = float("inf")


@cython.cclass
class Clock:
    """Multi-slot tick clock; see the module docstring."""

    realtime = cython.declare(cython.bint, visibility="readonly")
    resolution = cython.declare(cython.double, visibility="public")
    total_ticks = cython.declare(cython.longlong, visibility="readonly")
    total_overruns = cython.declare(cython.longlong, visibility="readonly")
    started = cython.declare(cython.bint, visibility="readonly")

    _now: cython.double
    _base: cython.double
    _count: cython.Py_ssize_t
    _capacity: cython.Py_ssize_t
    _heap_len: cython.Py_ssize_t
    _interval: cython.double[:]
    _phase: cython.double[:]
    _due: cython.double[:]
    _lag: cython.double[:]
    _max_lag: cython.double[:]
    _last_due: cython.double[:]
    _ticks: cython.longlong[:]
    _overruns: cython.longlong[:]
    _heap: cython.longlong[:]
    _pos: cython.longlong[:]
    _auto_phase: cython.char[:]
    _paused: cython.char[:]
    _buffers: list
    _free: list

    def __init__(self, realtime: bool = True, start_time: float = 0.0, resolution: float = 0.001) -> None:
        self.realtime = realtime
        self.resolution = resolution
        self._now = start_time
        self._base = start_time
        self._count = 0
        self._capacity = 0
        self._heap_len = 0
        self.total_ticks = 0
        self.total_overruns = 0
        self.started = False
        self._free = []
        self._grow(16)

    # ---- registration -------------------------------------------------------------------------

    def add(self, interval: float, phase: float = -1.0) -> int:
        """Register a slot; returns its id (0, 1, 2, ...). A negative phase means 'spread me'."""
        if not interval > 0:
            raise ValueError(f"interval must be > 0, got {interval}")
        slot: cython.Py_ssize_t
        if self._free:
            slot = self._free.pop(0)
        else:
            if self._count == self._capacity:
                self._grow(self._capacity * 2)
            slot = self._count
            self._count += 1
        self._interval[slot] = interval
        self._auto_phase[slot] = 1 if phase < 0 else 0
        self._phase[slot] = 0.0 if phase < 0 else phase % interval
        self._due[slot] = INF
        self._lag[slot] = 0.0
        self._max_lag[slot] = 0.0
        self._last_due[slot] = 0.0
        self._ticks[slot] = 0
        self._overruns[slot] = 0
        self._pos[slot] = -1
        self._paused[slot] = 0
        if self.started:
            if self._auto_phase[slot]:
                self._phase[slot] = self._spread_phase_for(slot)
            self._schedule_from(slot, self.now())
        return slot

    def release(self, slot: int) -> None:
        """Forget a slot (a removed strategy); the next `add` reuses its id."""
        self._check(slot)
        if self._paused[slot] == 2:
            return
        if self._pos[slot] >= 0:
            self._remove(slot)
        self._paused[slot] = 2          # 2 = free
        self._due[slot] = INF
        self._free.append(slot)
        self._free.sort()

    def is_free(self, slot: int) -> bool:
        self._check(slot)
        return self._paused[slot] == 2

    def start(self, now: float | None = None) -> None:
        """Fix the grid's base time, spread the auto phases and schedule every slot."""
        if now is None:
            now = self.now()
        self._base = now
        self._now = now
        self._spread_auto_phases()
        slot: cython.Py_ssize_t
        for slot in range(self._count):
            if self._pos[slot] < 0 and not self._paused[slot]:
                self._due[slot] = self._base + self._phase[slot]
                self._push(slot)
        self.started = True

    def _spread_auto_phases(self) -> None:
        groups: dict = {}
        slot: cython.Py_ssize_t
        for slot in range(self._count):
            if self._auto_phase[slot] and self._paused[slot] != 2:
                groups.setdefault(self._interval[slot], []).append(slot)
        for interval, members in groups.items():
            n = len(members)
            for k, member in enumerate(members):
                self._phase[member] = interval * k / n

    def _spread_phase_for(self, slot: cython.Py_ssize_t) -> cython.double:
        """Phase for a slot added after start: the middle of the widest gap among its peers."""
        interval: cython.double = self._interval[slot]
        phases = sorted(self._phase[other] for other in range(self._count)
                        if other != slot and self._interval[other] == interval and self._paused[other] != 2)
        if not phases:
            return 0.0
        best_gap: cython.double = phases[0] + interval - phases[-1]
        best: cython.double = (phases[-1] + best_gap / 2) % interval
        for i in range(1, len(phases)):
            gap = phases[i] - phases[i - 1]
            if gap > best_gap:
                best_gap = gap
                best = phases[i - 1] + gap / 2
        return best

    # ---- time ---------------------------------------------------------------------------------

    def now(self) -> float:
        """Wall-clock seconds in realtime mode; the virtual time in backtest mode."""
        if self.realtime:
            return time.time()
        return self._now

    def set_time(self, now: float) -> None:
        """Backtest mode only: move virtual time (never backwards)."""
        if self.realtime:
            raise RuntimeError("set_time() is for backtest mode")
        if now > self._now:
            self._now = now

    def next_due(self) -> float:
        """When the earliest slot is due; inf when nothing is scheduled."""
        if self._heap_len == 0:
            return INF
        return self._due[self._heap[0]]

    # ---- the hot path -------------------------------------------------------------------------

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def pop_due(self, now: cython.double, out: list, scheduled: list | None = None) -> cython.Py_ssize_t:
        """Append every slot due at `now` to `out` (earliest first) and reschedule each on its grid.

        Each slot appears at most once per call. Whole intervals it missed are counted as overruns.
        With `scheduled`, the grid time each slot was due at is appended to it, in the same order.
        """
        limit: cython.double = now + self.resolution
        count: cython.Py_ssize_t = 0
        slot: cython.longlong
        due: cython.double
        interval: cython.double
        missed: cython.longlong
        lag: cython.double
        while self._heap_len > 0:
            slot = self._heap[0]
            due = self._due[slot]
            if due > limit:
                break
            interval = self._interval[slot]
            missed = cython.cast(cython.longlong, (limit - due) / interval)
            if missed > 0:
                self._overruns[slot] += missed
                self.total_overruns += missed
            lag = now - due if now > due else 0.0
            self._lag[slot] = lag
            if lag > self._max_lag[slot]:
                self._max_lag[slot] = lag
            self._last_due[slot] = due
            if scheduled is not None:
                scheduled.append(due)
            self._ticks[slot] += 1
            self._due[slot] = due + (missed + 1) * interval
            self._sift_down(0)
            out.append(slot)
            count += 1
        self.total_ticks += count
        return count

    def advance(self, out: list, scheduled: list | None = None) -> float:
        """Backtest mode: jump virtual time to the next due time and collect the due slots."""
        if self.realtime:
            raise RuntimeError("advance() is for backtest mode")
        if self._heap_len == 0:
            return self._now
        nxt: cython.double = self._due[self._heap[0]]
        if nxt > self._now:
            self._now = nxt
        self.pop_due(self._now, out, scheduled)
        return self._now

    # ---- pause / resume -----------------------------------------------------------------------

    def pause(self, slot: int) -> None:
        """Stop scheduling a slot (a stopped or quarantined strategy)."""
        self._check(slot)
        if self._paused[slot] == 2:
            return
        self._paused[slot] = 1
        if self._pos[slot] >= 0:
            self._remove(slot)
        self._due[slot] = INF

    def resume(self, slot: int, now: float | None = None) -> None:
        """Schedule a paused slot again at its next grid point (its phase is kept)."""
        self._check(slot)
        if self._paused[slot] == 2:
            raise IndexError(f"clock slot {slot} was released")
        self._paused[slot] = 0
        if self._pos[slot] >= 0 or not self.started:
            return
        self._schedule_from(slot, self.now() if now is None else now)

    def _schedule_from(self, slot: cython.Py_ssize_t, now: cython.double) -> None:
        interval: cython.double = self._interval[slot]
        first: cython.double = self._base + self._phase[slot]
        if now > first:
            steps = cython.cast(cython.longlong, (now - first) / interval)
            first += steps * interval
            if first < now - self.resolution:
                first += interval
        self._due[slot] = first
        self._push(slot)

    # ---- per-slot figures ---------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self._count

    def is_scheduled(self, slot: int) -> bool:
        self._check(slot)
        return self._pos[slot] >= 0

    def interval(self, slot: int) -> float:
        self._check(slot)
        return self._interval[slot]

    def phase(self, slot: int) -> float:
        self._check(slot)
        return self._phase[slot]

    def due(self, slot: int) -> float:
        self._check(slot)
        return self._due[slot]

    def ticks(self, slot: int) -> int:
        self._check(slot)
        return self._ticks[slot]

    def overruns(self, slot: int) -> int:
        self._check(slot)
        return self._overruns[slot]

    def lag(self, slot: int) -> float:
        """How late the slot's last tick was handed out (pop time minus its grid time), in seconds."""
        self._check(slot)
        return self._lag[slot]

    def max_lag(self, slot: int) -> float:
        """The largest lag of any of the slot's ticks so far, in seconds."""
        self._check(slot)
        return self._max_lag[slot]

    def last_due(self, slot: int) -> float:
        """The grid time the slot's last handed-out tick was scheduled for."""
        self._check(slot)
        return self._last_due[slot]

    def _check(self, slot: cython.Py_ssize_t) -> None:
        if slot < 0 or slot >= self._count:
            raise IndexError(f"no clock slot {slot}")

    # ---- storage and the indexed heap ---------------------------------------------------------

    def _grow(self, capacity: cython.Py_ssize_t) -> None:
        old: cython.Py_ssize_t = self._capacity
        extra: cython.Py_ssize_t = capacity - old
        buffers: list[array]
        if old == 0:
            buffers = [array("d"), array("d"), array("d"), array("d"), array("q"), array("q"),
                       array("q"), array("q"), array("b"), array("b"), array("d"), array("d")]
        else:
            buffers = [array(b.typecode, b) for b in self._buffers]
        for buffer in buffers:
            buffer.extend([0] * extra)
        self._buffers = buffers
        self._interval = buffers[0]
        self._phase = buffers[1]
        self._due = buffers[2]
        self._lag = buffers[3]
        self._ticks = buffers[4]
        self._overruns = buffers[5]
        self._heap = buffers[6]
        self._pos = buffers[7]
        self._auto_phase = buffers[8]
        self._paused = buffers[9]
        self._max_lag = buffers[10]
        self._last_due = buffers[11]
        self._capacity = capacity

    @cython.cfunc
    @cython.inline
    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _less(self, a: cython.longlong, b: cython.longlong) -> cython.bint:
        da: cython.double = self._due[a]
        db: cython.double = self._due[b]
        return da < db or (da == db and a < b)

    @cython.cfunc
    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _push(self, slot: cython.longlong) -> cython.void:
        i: cython.Py_ssize_t = self._heap_len
        self._heap[i] = slot
        self._pos[slot] = i
        self._heap_len += 1
        self._sift_up(i)

    @cython.cfunc
    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _remove(self, slot: cython.longlong) -> cython.void:
        i: cython.Py_ssize_t = self._pos[slot]
        last: cython.Py_ssize_t = self._heap_len - 1
        self._pos[slot] = -1
        self._heap_len = last
        if i == last:
            return
        moved: cython.longlong = self._heap[last]
        self._heap[i] = moved
        self._pos[moved] = i
        self._sift_down(i)
        self._sift_up(self._pos[moved])

    @cython.cfunc
    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _sift_up(self, i: cython.Py_ssize_t) -> cython.void:
        item: cython.longlong = self._heap[i]
        parent: cython.Py_ssize_t
        while i > 0:
            parent = (i - 1) >> 1
            if not self._less(item, self._heap[parent]):
                break
            self._heap[i] = self._heap[parent]
            self._pos[self._heap[i]] = i
            i = parent
        self._heap[i] = item
        self._pos[item] = i

    @cython.cfunc
    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _sift_down(self, i: cython.Py_ssize_t) -> cython.void:
        n: cython.Py_ssize_t = self._heap_len
        item: cython.longlong = self._heap[i]
        child: cython.Py_ssize_t
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            if child + 1 < n and self._less(self._heap[child + 1], self._heap[child]):
                child += 1
            if not self._less(self._heap[child], item):
                break
            self._heap[i] = self._heap[child]
            self._pos[self._heap[i]] = i
            i = child
        self._heap[i] = item
        self._pos[item] = i
