# Over 500 lines on purpose: compiled by Cython as one unit, so calls between its classes stay C-level.
"""Runs the due strategies' ticks fairly and with isolation: one bad strategy never stops the others.

A `Job` is one schedulable unit (a strategy's `on_tick`, or a system job such as the market
simulator) together with its health figures. The `Scheduler` runs the jobs the clock says are due,
in the order its policy chooses:

- `round_robin`: the place where a batch starts moves on by one job each batch (the job after the
  previous batch's first goes first), so in a burst every strategy is first equally often and
  none is always last.
- `priority`: higher `Job.priority` first, round-robin within one priority class. Aging: a due job
  that was deferred `AGING_BATCHES` batches in a row (see the time slice below) goes before every
  priority class in the next batch, so a low-priority strategy waits a bounded number of batches,
  never forever.

System jobs (the venue) always go first under both policies and are never quarantined for overruns.

Time budget and time slice. Each tick is timed. A tick that takes longer than `tick_budget`
seconds is a *budget overrun* (counted per job and in total); `max_overruns` overruns in a row
quarantine the job. A whole batch may take at most `batch_slice` seconds: once it is used up
(at least one job always runs), the remaining due jobs are *deferred* to the next batch, which the
runtime runs right after letting the event loop breathe (MQTT commands, market data).

Lag and starvation. The lag of a tick is the time between its scheduled grid time and the moment
its callback actually starts (in backtest mode: virtual time, so the lag is how late the clock
handed it out). A *starvation event* is a due tick that waited more than one full interval of its
job: either it started with a lag greater than the job's interval, or it was still deferred when
the job's next tick came due and was dropped (counted as `skipped` too; the job then runs once,
for its newer tick). Lag and run time are kept in log-bucketed histograms (`Histogram`), since
start and for the recent ticks, so p50/p99 cost O(buckets) to read, not a sort.

Isolation: an exception is logged with its stack trace on the job's logger, counted, and the next
job runs; after `max_failures` consecutive failures (or `max_overruns` consecutive budget overruns)
the job is quarantined: status "error", the reason kept, never ticked again until it is resumed.

Cython pure-Python mode, like the clock: compiled where possible, plain Python otherwise.
"""
from __future__ import annotations

import logging
from array import array
from time import perf_counter
from typing import Any

import cython

COMPILED: bool = cython.compiled

RUNNING = "running"
STOPPED = "stopped"
ERROR = "error"
REMOVED = "removed"

ROUND_ROBIN = "round_robin"
PRIORITY = "priority"
POLICIES = (ROUND_ROBIN, PRIORITY)
AGING_BATCHES = 2
INF: float = float("inf")

# Histogram buckets: [0, 1 µs], then upper edges 1 µs * 2**(i/8) (about 9 % wide) up to ~268 s, then overflow.
BUCKETS_PER_DOUBLING = 8
HIST_MIN = 1e-6
HIST_DOUBLINGS = 28
N_BUCKETS = HIST_DOUBLINGS * BUCKETS_PER_DOUBLING + 2
RECENT_WINDOW = 256       # per job: "recent" = the last 256 to 512 ticks
INSTANCE_WINDOW = 4096    # the scheduler's all-strategies lag histogram
_EDGES = array("d", [HIST_MIN * 2.0 ** (i / BUCKETS_PER_DOUBLING) for i in range(N_BUCKETS - 1)] + [INF])


@cython.cclass
class Histogram:
    """Log-bucketed histogram of durations in seconds: since start and over the recent samples.

    "Recent" is the current window plus the previous one (between `window` and 2*`window` samples).
    A percentile is the upper edge of its bucket, capped at the largest sample seen: at most ~9 % high.
    """

    count = cython.declare(cython.longlong, visibility="readonly")
    total = cython.declare(cython.double, visibility="readonly")
    max = cython.declare(cython.double, visibility="readonly")
    window = cython.declare(cython.longlong, visibility="readonly")
    _cur_n: cython.longlong
    _prev_n: cython.longlong
    _edges: cython.double[:]
    _all: cython.longlong[:]
    _cur: cython.longlong[:]
    _prev: cython.longlong[:]
    _buffers: list

    def __init__(self, window: int = RECENT_WINDOW) -> None:
        self.window = window
        self._edges = _EDGES
        self._buffers = []
        self.reset()

    def reset(self) -> None:
        buffers = [array("q", bytes(8 * N_BUCKETS)) for _ in range(3)]
        self._buffers = buffers
        self._all = buffers[0]
        self._cur = buffers[1]
        self._prev = buffers[2]
        self.count = 0
        self.total = 0.0
        self.max = 0.0
        self._cur_n = 0
        self._prev_n = 0

    @cython.ccall
    @cython.boundscheck(False)
    @cython.wraparound(False)
    def record(self, value: cython.double) -> cython.void:
        if value < 0.0:
            value = 0.0
        lo: cython.Py_ssize_t = 0
        hi: cython.Py_ssize_t = N_BUCKETS - 1
        mid: cython.Py_ssize_t
        while lo < hi:                   # first bucket whose upper edge is >= value
            mid = (lo + hi) >> 1
            if self._edges[mid] < value:
                lo = mid + 1
            else:
                hi = mid
        self._all[lo] += 1
        if self._cur_n >= self.window:   # rotate the recent windows
            self._rotate()
        self._cur[lo] += 1
        self._cur_n += 1
        self.count += 1
        self.total += value
        if value > self.max:
            self.max = value

    @cython.cfunc
    @cython.boundscheck(False)
    @cython.wraparound(False)
    def _rotate(self) -> cython.void:
        i: cython.Py_ssize_t
        for i in range(N_BUCKETS):
            self._prev[i] = self._cur[i]
            self._cur[i] = 0
        self._prev_n = self._cur_n
        self._cur_n = 0

    @property
    def recent_count(self) -> int:
        return self._cur_n + self._prev_n

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def percentile(self, q: cython.double, recent: bool = True) -> float:
        """The q-quantile (0 < q <= 1) in seconds; 0.0 without samples."""
        n: cython.longlong = (self._cur_n + self._prev_n) if recent else self.count
        if n == 0:
            return 0.0
        target: cython.longlong = cython.cast(cython.longlong, q * n)
        if target < q * n:
            target += 1
        if target < 1:
            target = 1
        seen: cython.longlong = 0
        i: cython.Py_ssize_t
        for i in range(N_BUCKETS):
            if recent:
                seen += self._cur[i] + self._prev[i]
            else:
                seen += self._all[i]
            if seen >= target:
                edge: cython.double = self._edges[i]
                return edge if edge < self.max else self.max
        return self.max

    def merge_into(self, other: Histogram) -> None:
        """Add this histogram's since-start counts to `other` (for instance-wide figures)."""
        i: cython.Py_ssize_t
        for i in range(N_BUCKETS):
            other._all[i] += self._all[i]
        other.count += self.count
        other.total += self.total
        if self.max > other.max:
            other.max = self.max


@cython.cclass
class Job:
    """A callback plus its health counters; a strategy context exposes its job as `metrics`."""

    name = cython.declare(object, visibility="public")
    callback = cython.declare(object, visibility="public")
    logger = cython.declare(object, visibility="public")
    status = cython.declare(object, visibility="public")
    last_error = cython.declare(object, visibility="public")
    ticks = cython.declare(cython.longlong, visibility="public")
    errors = cython.declare(cython.longlong, visibility="public")
    consecutive_errors = cython.declare(cython.longlong, visibility="public")
    busy_time = cython.declare(cython.double, visibility="public")
    max_tick_time = cython.declare(cython.double, visibility="public")
    slot = cython.declare(cython.Py_ssize_t, visibility="public")
    priority = cython.declare(cython.longlong, visibility="public")
    system = cython.declare(cython.bint, visibility="public")
    interval = cython.declare(cython.double, visibility="public")
    budget_overruns = cython.declare(cython.longlong, visibility="public")
    consecutive_overruns = cython.declare(cython.longlong, visibility="public")
    starvation = cython.declare(cython.longlong, visibility="public")
    skipped = cython.declare(cython.longlong, visibility="public")
    deferred = cython.declare(cython.longlong, visibility="public")
    deferrals = cython.declare(cython.longlong, visibility="public")
    quarantines = cython.declare(cython.longlong, visibility="public")
    last_lag = cython.declare(cython.double, visibility="public")
    pending = cython.declare(cython.bint, visibility="public")
    pending_due = cython.declare(cython.double, visibility="public")
    lag = cython.declare(Histogram, visibility="readonly")
    run_time = cython.declare(Histogram, visibility="readonly")

    def __init__(self, name: str, callback, logger: logging.Logger | None = None,
                 status: str = RUNNING, *, priority: int = 0, interval: float = INF, system: bool = False) -> None:
        self.name = name
        self.callback = callback
        self.logger = logger if logger is not None else logging.getLogger(f"hive.job.{name}")
        self.status = status
        self.slot = -1
        self.priority = priority
        self.interval = interval
        self.system = system
        self.pending = False
        self.pending_due = 0.0
        self.lag = Histogram()
        self.run_time = Histogram()
        self.reset_metrics()

    def reset_metrics(self) -> None:
        """Zero every counter and histogram (status and last error are kept)."""
        self.ticks = 0
        self.errors = 0
        self.consecutive_errors = 0
        self.busy_time = 0.0
        self.max_tick_time = 0.0
        self.budget_overruns = 0
        self.consecutive_overruns = 0
        self.starvation = 0
        self.skipped = 0
        self.deferred = 0
        self.deferrals = 0
        self.quarantines = 0
        self.last_lag = 0.0
        self.lag.reset()
        self.run_time.reset()

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    def snapshot(self) -> dict:
        """Every figure of this job as plain numbers (seconds for times)."""
        return {"name": self.name, "status": self.status, "ticks": self.ticks, "errors": self.errors,
                "consecutive_errors": self.consecutive_errors, "last_error": self.last_error,
                "busy_time": self.busy_time, "max_tick_time": self.max_tick_time,
                "run_time_p99": self.run_time.percentile(0.99), "budget_overruns": self.budget_overruns,
                "consecutive_overruns": self.consecutive_overruns, "starvation": self.starvation,
                "skipped": self.skipped, "deferred": self.deferred, "quarantines": self.quarantines,
                "lag_last": self.last_lag, "lag_p50": self.lag.percentile(0.5), "lag_p99": self.lag.percentile(0.99),
                "lag_max": self.lag.max, "priority": self.priority, "interval": self.interval}

    def __repr__(self) -> str:
        return f"Job({self.name!r}, status={self.status!r}, ticks={self.ticks}, errors={self.errors})"


@cython.cclass
class RoundRobin:
    """Order due jobs starting after the previous batch's first job (system jobs first)."""

    _cursor: cython.Py_ssize_t

    def __init__(self) -> None:
        self._cursor = 0

    def order(self, due: list, jobs: list) -> list:
        n: cython.Py_ssize_t = len(jobs)
        if n == 0 or not due:
            return due
        if len(due) == 1:
            self._cursor = (due[0] + 1) % n
            return due
        cursor: cython.Py_ssize_t = self._cursor
        ordered = sorted(due, key=lambda slot: (not jobs[slot].system, (slot - cursor) % n))
        for slot in ordered:
            if not jobs[slot].system:
                self._cursor = (slot + 1) % n
                break
        return ordered

    def rewind(self, deferred: list, jobs: list) -> None:
        """Some jobs of the last order were deferred: the first of them goes first next time."""
        if deferred:
            self._cursor = deferred[0]


@cython.cclass
class Priority:
    """Higher priority first, round-robin within a class; aged jobs (deferred too often) before all."""

    _cursors: dict
    aging_batches = cython.declare(cython.longlong, visibility="public")

    def __init__(self, aging_batches: int = AGING_BATCHES) -> None:
        self._cursors = {}
        self.aging_batches = aging_batches

    def order(self, due: list, jobs: list) -> list:
        n: cython.Py_ssize_t = len(jobs)
        if n == 0 or not due:
            return due
        cursors = self._cursors
        aging = self.aging_batches
        if len(due) == 1:
            ordered = due
        else:
            def key(slot):
                job = jobs[slot]
                aged = job.deferrals >= aging
                return (not job.system, not aged, -job.deferrals if aged else 0, -job.priority,
                        (slot - cursors.get(job.priority, 0)) % n)
            ordered = sorted(due, key=key)
        seen = set()
        for slot in ordered:               # each class starts one further on next time
            priority = jobs[slot].priority
            if priority not in seen:
                seen.add(priority)
                cursors[priority] = (slot + 1) % n
        return ordered

    def rewind(self, deferred: list, jobs: list) -> None:
        seen = set()
        for slot in deferred:
            priority = jobs[slot].priority
            if priority not in seen:
                seen.add(priority)
                self._cursors[priority] = slot


def make_policy(name: str):
    if name == ROUND_ROBIN:
        return RoundRobin()
    if name == PRIORITY:
        return Priority()
    raise ValueError(f"unknown scheduling policy {name!r} (use one of {', '.join(POLICIES)})")


@cython.cclass
class Scheduler:
    """Runs due jobs in policy order with a time budget, isolation, lag and starvation accounting."""

    max_failures = cython.declare(cython.longlong, visibility="public")
    max_overruns = cython.declare(cython.longlong, visibility="public")
    tick_budget = cython.declare(cython.double, visibility="public")
    batch_slice = cython.declare(cython.double, visibility="public")
    realtime = cython.declare(cython.bint, visibility="public")
    on_quarantine = cython.declare(object, visibility="public")
    total_runs = cython.declare(cython.longlong, visibility="readonly")
    total_errors = cython.declare(cython.longlong, visibility="readonly")
    total_budget_overruns = cython.declare(cython.longlong, visibility="readonly")
    total_starvation = cython.declare(cython.longlong, visibility="readonly")
    total_skipped = cython.declare(cython.longlong, visibility="readonly")
    total_deferred = cython.declare(cython.longlong, visibility="readonly")
    total_quarantines = cython.declare(cython.longlong, visibility="readonly")
    batches = cython.declare(cython.longlong, visibility="readonly")
    lag = cython.declare(Histogram, visibility="readonly")
    policy_name = cython.declare(object, visibility="readonly")
    _jobs: list
    _pending: list
    _policy: Any     # a RoundRobin, a Priority, or any object with their order/rewind methods

    def __init__(self, max_failures: int = 5, on_quarantine=None, policy=None, *, tick_budget: float = INF,
                 max_overruns: int = 10, batch_slice: float = INF, realtime: bool = False) -> None:
        if max_failures < 1:
            raise ValueError("max_failures must be >= 1")
        if max_overruns < 1:
            raise ValueError("max_overruns must be >= 1")
        if not tick_budget > 0:
            raise ValueError("tick_budget must be > 0")
        self.max_failures = max_failures
        self.max_overruns = max_overruns
        self.tick_budget = tick_budget
        self.batch_slice = batch_slice
        self.realtime = realtime
        self.on_quarantine = on_quarantine
        self.total_runs = 0
        self.total_errors = 0
        self.total_budget_overruns = 0
        self.total_starvation = 0
        self.total_skipped = 0
        self.total_deferred = 0
        self.total_quarantines = 0
        self.batches = 0
        self.lag = Histogram(INSTANCE_WINDOW)
        self._jobs = []
        self._pending = []
        if policy is None:
            policy = ROUND_ROBIN
        if isinstance(policy, str):
            self.policy_name = policy
            self._policy = make_policy(policy)
        else:
            self.policy_name = type(policy).__name__
            self._policy = policy

    def add(self, job: Job, slot: int = -1) -> int:
        """Register a job under `slot` (the clock's slot id for it; default: the next free index)."""
        if slot < 0:
            slot = len(self._jobs)
        while len(self._jobs) <= slot:
            self._jobs.append(None)
        if self._jobs[slot] is not None:
            raise ValueError(f"scheduler slot {slot} is taken by {self._jobs[slot].name!r}")
        job.slot = slot
        self._jobs[slot] = job
        return slot

    def remove(self, slot: int) -> Job:
        """Forget the job in `slot` (its status becomes 'removed'); the slot can be reused."""
        job: Job = self._jobs[slot]
        if job is None:
            raise IndexError(f"no job in scheduler slot {slot}")
        job.status = REMOVED
        job.pending = False
        self._jobs[slot] = None
        self._pending = [other for other in self._pending if other != slot]
        return job

    def job(self, slot: int) -> Job:
        return self._jobs[slot]

    @property
    def jobs(self) -> list:
        return [job for job in self._jobs if job is not None]

    @property
    def pending(self) -> list:
        """Slots deferred from the last batch (they run first thing in the next one)."""
        return list(self._pending)

    @property
    def has_pending(self) -> bool:
        return len(self._pending) > 0

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def run_due(self, due: list, now: cython.double, scheduled: list | None = None) -> cython.Py_ssize_t:
        """Run the due jobs (plus those deferred before) in policy order; returns how many ran.

        `scheduled[i]` is the grid time `due[i]` was due at (default: `now`). Jobs left over when
        the batch's time slice is used up stay pending for the next call.
        """
        jobs: list = self._jobs
        pending: list = self._pending
        job: Job
        i: cython.Py_ssize_t
        n_due: cython.Py_ssize_t = len(due)
        for i in range(n_due):
            slot = due[i]
            job = jobs[slot]
            if job is None:
                continue
            if job.pending:              # its previous tick never got to run: dropped, starved
                job.skipped += 1
                job.starvation += 1
                self.total_skipped += 1
                if not job.system:
                    self.total_starvation += 1
            else:
                job.pending = True
                pending.append(slot)
            job.pending_due = scheduled[i] if scheduled is not None else now
        if not pending:
            return 0
        self._pending = []
        ordered: list = self._policy.order(pending, jobs) if len(pending) > 1 else pending
        self.batches += 1
        t0: cython.double = perf_counter()
        started: cython.double
        elapsed: cython.double
        lag: cython.double
        ran: cython.Py_ssize_t = 0
        count: cython.Py_ssize_t = len(ordered)
        budget: cython.double = self.tick_budget
        for i in range(count):
            slot = ordered[i]
            job = jobs[slot]
            if job is None:
                continue
            if job.status != RUNNING:
                job.pending = False
                continue
            started = perf_counter()
            if ran > 0 and started - t0 > self.batch_slice:
                self._defer(ordered, i)
                break
            job.pending = False
            job.deferrals = 0
            if self.realtime:
                lag = now + (started - t0) - job.pending_due
            else:
                lag = now - job.pending_due
            if lag < 0.0:
                lag = 0.0
            job.last_lag = lag
            job.lag.record(lag)
            if not job.system:
                self.lag.record(lag)
                if lag > job.interval:
                    job.starvation += 1
                    self.total_starvation += 1
            try:
                job.callback(now)
            except Exception as exc:
                elapsed = perf_counter() - started
                self._account(job, elapsed)
                self.record_failure(job, exc, "on_tick")
            else:
                elapsed = perf_counter() - started
                self._account(job, elapsed)
                job.ticks += 1
                job.consecutive_errors = 0
            if elapsed > budget:
                self._overrun(job, elapsed)
            else:
                job.consecutive_overruns = 0
            ran += 1
        self.total_runs += ran
        return ran

    def _defer(self, ordered: list, first: cython.Py_ssize_t) -> None:
        jobs: list = self._jobs
        job: Job
        rest = []
        for slot in ordered[first:]:
            job = jobs[slot]
            if job is None:
                continue
            if job.status != RUNNING:
                job.pending = False
                continue
            job.deferrals += 1
            job.deferred += 1
            self.total_deferred += 1
            rest.append(slot)
        self._pending = rest
        self._policy.rewind(rest, jobs)

    @cython.cfunc
    @cython.inline
    def _account(self, job: Job, elapsed: cython.double) -> cython.void:
        job.busy_time += elapsed
        job.run_time.record(elapsed)
        if elapsed > job.max_tick_time:
            job.max_tick_time = elapsed

    def _overrun(self, job: Job, elapsed: float) -> None:
        job.budget_overruns += 1
        job.consecutive_overruns += 1
        self.total_budget_overruns += 1
        if job.consecutive_overruns >= self.max_overruns and job.status == RUNNING and not job.system:
            self.quarantine(job, f"quarantined after {job.consecutive_overruns} consecutive budget overruns "
                                 f"(last tick {elapsed * 1000:.1f} ms, budget {self.tick_budget * 1000:g} ms)")

    def guard(self, job: Job, hook, arg, where: str) -> bool:
        """Call `hook(arg)` for a running job with the same isolation as a tick; False if it raised."""
        if job.status != RUNNING:
            return False
        started: cython.double = perf_counter()
        try:
            hook(arg)
        except Exception as exc:
            job.busy_time += perf_counter() - started
            self.record_failure(job, exc, where)
            return False
        job.busy_time += perf_counter() - started
        return True

    def record_failure(self, job: Job, exc: BaseException, where: str) -> None:
        """Log with the stack trace, count, and quarantine after too many failures in a row."""
        job.errors += 1
        job.consecutive_errors += 1
        self.total_errors += 1
        job.last_error = f"{where}: {type(exc).__name__}: {exc}"
        job.logger.error("%s raised %s: %s (%d in a row)", where, type(exc).__name__, exc,
                         job.consecutive_errors, exc_info=exc)
        if job.consecutive_errors >= self.max_failures and job.status == RUNNING:
            self.quarantine(job, f"quarantined after {job.consecutive_errors} consecutive failures; "
                                 f"last: {job.last_error}")

    def quarantine(self, job: Job, reason: str) -> None:
        """Stop ticking a job and keep why; the runtime reports it as status 'error'."""
        job.status = ERROR
        job.last_error = reason
        job.pending = False
        job.quarantines += 1
        self.total_quarantines += 1
        job.logger.error("%s", reason)
        if self.on_quarantine is not None:
            self.on_quarantine(job)

    def resume(self, job: Job) -> None:
        """Put a stopped or quarantined job back to running with clean 'in a row' counters."""
        job.status = RUNNING
        job.last_error = None
        job.consecutive_errors = 0
        job.consecutive_overruns = 0
        job.deferrals = 0
        job.pending = False
