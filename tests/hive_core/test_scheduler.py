"""The scheduler: a failing strategy is logged, counted, quarantined; the others run on."""
from __future__ import annotations

import logging
import time

import pytest

from hive_core.scheduler import ERROR, RUNNING, STOPPED, Histogram, Job, RoundRobin, Scheduler


class Recorder:
    def __init__(self, name: str, calls: list[str], fail: bool = False) -> None:
        self.name, self.calls, self.fail = name, calls, fail

    def __call__(self, now: float) -> None:
        self.calls.append(self.name)
        if self.fail:
            raise ZeroDivisionError(f"{self.name} broke at {now}")


def make(names_failing: dict[str, bool], max_failures: int = 5):
    calls: list[str] = []
    quarantined: list[str] = []
    scheduler = Scheduler(max_failures=max_failures, on_quarantine=lambda job: quarantined.append(job.name))
    for name, fail in names_failing.items():
        scheduler.add(Job(name, Recorder(name, calls, fail), logging.getLogger(f"hive.strategy.{name}")))
    return scheduler, calls, quarantined


def test_exception_is_logged_with_stack_trace_on_the_strategy_logger_and_others_run(caplog):
    scheduler, calls, _ = make({"good1": False, "bad": True, "good2": False})
    with caplog.at_level(logging.ERROR, logger="hive.strategy"):
        ran = scheduler.run_due([0, 1, 2], 1.0)
    assert ran == 3
    assert sorted(calls) == ["bad", "good1", "good2"]
    bad = scheduler.job(1)
    assert (bad.errors, bad.consecutive_errors, bad.ticks, bad.status) == (1, 1, 0, RUNNING)
    assert bad.last_error == "on_tick: ZeroDivisionError: bad broke at 1.0"
    assert scheduler.job(0).ticks == 1 and scheduler.job(2).ticks == 1
    [record] = [r for r in caplog.records if r.name == "hive.strategy.bad"]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError
    assert "ZeroDivisionError" in caplog.text and "Traceback" in caplog.text


def test_five_consecutive_failures_quarantine_only_that_strategy():
    scheduler, calls, quarantined = make({"good": False, "bad": True})
    for tick in range(8):
        scheduler.run_due([0, 1], float(tick))
    bad, good = scheduler.job(1), scheduler.job(0)
    assert bad.status == ERROR and quarantined == ["bad"]
    assert bad.errors == 5 and calls.count("bad") == 5        # never ticked after quarantine
    assert "quarantined after 5 consecutive failures" in bad.last_error
    assert "ZeroDivisionError" in bad.last_error
    assert good.ticks == 8 and good.status == RUNNING


def test_a_success_resets_the_consecutive_failure_count():
    outcomes = iter([True, True, True, True, False, True, True, True, True, False])
    calls: list[str] = []

    def flaky(now: float) -> None:
        calls.append("x")
        if next(outcomes):
            raise RuntimeError("flaky")

    scheduler = Scheduler(max_failures=5)
    scheduler.add(Job("flaky", flaky))
    for tick in range(10):
        scheduler.run_due([0], float(tick))
    job = scheduler.job(0)
    assert job.status == RUNNING and job.errors == 8 and job.ticks == 2


def test_stopped_and_errored_jobs_are_skipped():
    scheduler, calls, _ = make({"a": False, "b": False, "c": False})
    scheduler.job(0).status = STOPPED
    scheduler.job(1).status = ERROR
    assert scheduler.run_due([0, 1, 2], 0.0) == 1
    assert calls == ["c"]


def test_round_robin_moves_the_start_of_each_burst_on_by_one():
    scheduler, calls, _ = make({name: False for name in "abcd"})
    for _ in range(4):
        scheduler.run_due([0, 1, 2], 0.0)
    # each batch starts one job further on than the previous one (slot 3 is not due, so 0 again)
    assert calls == list("abc" "bca" "cab" "abc")
    jobs = [Job(name, lambda now: None) for name in "abcd"]
    rr = RoundRobin()
    assert rr.order([0, 1, 2, 3], jobs) == [0, 1, 2, 3]
    assert rr.order([1, 2], jobs) == [1, 2]
    assert rr.order([0, 1, 2, 3], jobs) == [2, 3, 0, 1]


def test_guard_isolates_hooks_and_counts_their_failures(caplog):
    scheduler = Scheduler(max_failures=2)
    job = Job("s", lambda now: None, logging.getLogger("hive.strategy.s"))
    scheduler.add(job)

    def bad_hook(arg):
        raise KeyError(arg)

    with caplog.at_level(logging.ERROR):
        assert scheduler.guard(job, bad_hook, "x", "on_trade") is False
        assert scheduler.guard(job, bad_hook, "y", "on_trade") is False
    assert job.status == ERROR and job.errors == 2
    assert scheduler.guard(job, lambda arg: None, None, "on_trade") is False   # not running any more


def test_busy_time_is_measured_per_job():
    scheduler = Scheduler()
    job = Job("spin", lambda now: sum(range(20_000)))
    scheduler.add(job)
    scheduler.run_due([0], 0.0)
    assert job.busy_time > 0 and job.max_tick_time > 0
    assert job.snapshot()["ticks"] == 1


def test_max_failures_must_be_positive():
    with pytest.raises(ValueError):
        Scheduler(max_failures=0)


# ---- policies, budget, lag, starvation -----------------------------------------------------------

def sleeper(seconds: float, calls: list[str], name: str):
    def tick(now: float) -> None:
        calls.append(name)
        if seconds:
            time.sleep(seconds)
    return tick


def test_round_robin_gives_every_job_the_first_place_equally_often():
    calls: list[str] = []
    scheduler = Scheduler()
    for name in "abcde":
        scheduler.add(Job(name, sleeper(0, calls, name)))
    firsts = []
    for _ in range(50):
        calls.clear()
        scheduler.run_due([0, 1, 2, 3, 4], 0.0)
        firsts.append(calls[0])
    assert {name: firsts.count(name) for name in "abcde"} == {name: 10 for name in "abcde"}


def test_priority_policy_runs_higher_priority_first_and_round_robin_within_a_class():
    calls: list[str] = []
    scheduler = Scheduler(policy="priority")
    for name, priority in [("low", 0), ("hi1", 5), ("mid", 2), ("hi2", 5)]:
        scheduler.add(Job(name, sleeper(0, calls, name), priority=priority))
    scheduler.run_due([0, 1, 2, 3], 0.0)
    assert calls == ["hi1", "hi2", "mid", "low"]
    calls.clear()
    scheduler.run_due([0, 1, 2, 3], 1.0)
    assert calls == ["hi2", "hi1", "mid", "low"]      # the class's turn moved on


def test_system_job_goes_first_under_both_policies():
    for policy in ("round_robin", "priority"):
        calls: list[str] = []
        scheduler = Scheduler(policy=policy)
        scheduler.add(Job("s1", sleeper(0, calls, "s1"), priority=9))
        scheduler.add(Job("venue", sleeper(0, calls, "venue"), system=True))
        scheduler.run_due([0, 1], 0.0)
        assert calls[0] == "venue", policy


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="unknown scheduling policy 'fifo'"):
        Scheduler(policy="fifo")


def test_time_slice_defers_the_rest_and_aging_lets_a_low_priority_job_run_within_three_batches():
    calls: list[str] = []
    # A zero time slice: one job per batch, so the high-priority ones would always win without aging.
    scheduler = Scheduler(policy="priority", batch_slice=0.0)
    scheduler.add(Job("low", sleeper(0, calls, "low"), priority=0, interval=10.0))
    scheduler.add(Job("high1", sleeper(0, calls, "high1"), priority=9, interval=10.0))
    scheduler.add(Job("high2", sleeper(0, calls, "high2"), priority=9, interval=10.0))
    for batch in range(3):
        scheduler.run_due([0, 1, 2] if batch == 0 else [1, 2], float(batch))
    low = scheduler.job(0)
    assert calls[:3] == ["high1", "high2", "low"]  # deferred twice, then aged above every class
    assert low.deferred == 2 and low.deferrals == 0 and low.ticks == 1
    assert scheduler.total_deferred >= 2


def test_a_deferred_tick_overtaken_by_the_next_one_is_dropped_and_counted_as_starvation():
    calls: list[str] = []
    scheduler = Scheduler(batch_slice=0.0)
    scheduler.add(Job("a", sleeper(0, calls, "a"), interval=1.0))
    scheduler.add(Job("b", sleeper(0, calls, "b"), interval=1.0))
    scheduler.run_due([0, 1], 0.0, [0.0, 0.0])     # one runs, the other is deferred
    assert len(calls) == 1 and len(scheduler.pending) == 1
    deferred = scheduler.job(scheduler.pending[0])
    scheduler.run_due([deferred.slot], 1.0, [1.0])   # its next tick is due before it ran
    assert deferred.skipped == 1 and deferred.starvation == 1 and deferred.ticks == 1
    assert scheduler.total_starvation == 1 and scheduler.total_skipped == 1


def test_a_tick_that_starts_more_than_one_interval_late_is_a_starvation_event():
    scheduler = Scheduler()
    job = Job("late", lambda now: None, interval=1.0)
    scheduler.add(job)
    scheduler.run_due([0], 10.5, [10.0])           # half an interval late: lag, no starvation
    assert job.starvation == 0 and job.last_lag == pytest.approx(0.5)
    scheduler.run_due([0], 12.5, [11.0])           # 1.5 intervals late
    assert job.starvation == 1 and scheduler.total_starvation == 1
    assert job.lag.count == 2 and job.lag.max == pytest.approx(1.5)


def test_realtime_lag_is_measured_when_each_tick_really_starts():
    calls: list[str] = []
    scheduler = Scheduler(realtime=True)
    scheduler.add(Job("slow", sleeper(0.03, calls, "slow")))
    scheduler.add(Job("next", sleeper(0, calls, "next")))
    now = time.time()
    scheduler.run_due([0, 1], now, [now, now])
    assert calls == ["slow", "next"]
    assert scheduler.job(0).last_lag < 0.01
    assert 0.025 <= scheduler.job(1).last_lag < 0.5     # waited for the slow one


def test_budget_overruns_are_counted_and_too_many_in_a_row_quarantine():
    quarantined: list[str] = []
    scheduler = Scheduler(tick_budget=0.002, max_overruns=3, on_quarantine=lambda job: quarantined.append(job.name))
    slow = Job("slow", lambda now: time.sleep(0.004))
    fast = Job("fast", lambda now: None)
    scheduler.add(slow)
    scheduler.add(fast)
    scheduler.run_due([0, 1], 0.0)
    scheduler.run_due([0, 1], 1.0)
    assert (slow.budget_overruns, slow.consecutive_overruns, slow.status) == (2, 2, RUNNING)
    scheduler.run_due([0, 1], 2.0)
    assert slow.status == ERROR and quarantined == ["slow"] and slow.quarantines == 1
    assert "quarantined after 3 consecutive budget overruns" in slow.last_error and "budget 2 ms" in slow.last_error
    assert fast.budget_overruns == 0 and fast.status == RUNNING
    scheduler.run_due([0, 1], 3.0)
    assert slow.ticks == 3 and fast.ticks == 4
    assert scheduler.total_budget_overruns == 3 and scheduler.total_quarantines == 1


def test_an_overrun_streak_is_broken_by_a_tick_within_budget():
    durations = iter([0.004, 0.004, 0.0, 0.004, 0.004])
    scheduler = Scheduler(tick_budget=0.002, max_overruns=3)
    job = Job("j", lambda now: time.sleep(next(durations)))
    scheduler.add(job)
    for tick in range(5):
        scheduler.run_due([0], float(tick))
    assert job.status == RUNNING and job.budget_overruns == 4 and job.consecutive_overruns == 2


def test_resume_clears_the_in_a_row_counters_and_the_job_ticks_again():
    scheduler, calls, _ = make({"bad": True}, max_failures=2)
    for tick in range(2):
        scheduler.run_due([0], float(tick))
    job = scheduler.job(0)
    assert job.status == ERROR
    scheduler.resume(job)
    assert (job.status, job.consecutive_errors, job.last_error) == (RUNNING, 0, None)
    scheduler.run_due([0], 5.0)
    assert calls.count("bad") == 3 and job.errors == 3


def test_removed_job_frees_its_slot_for_a_new_one():
    scheduler, calls, _ = make({"a": False, "b": False})
    old = scheduler.remove(0)
    assert old.status == "removed" and [job.name for job in scheduler.jobs] == ["b"]
    assert scheduler.run_due([0, 1], 0.0) == 1 and calls == ["b"]
    assert scheduler.add(Job("c", lambda now: None), 0) == 0
    with pytest.raises(ValueError, match="taken"):
        scheduler.add(Job("d", lambda now: None), 1)


def test_histogram_percentiles_are_within_a_bucket_of_the_truth():
    hist = Histogram(window=1000)
    for value in range(1, 1001):                   # 1 ms .. 1 s
        hist.record(value / 1000)
    assert hist.count == 1000 and hist.max == pytest.approx(1.0)
    assert 0.5 <= hist.percentile(0.5) <= 0.5 * 1.1
    assert 0.99 <= hist.percentile(0.99) <= 1.0
    assert hist.percentile(1.0) == pytest.approx(1.0)
    assert Histogram().percentile(0.99) == 0.0
    zeros = Histogram()
    zeros.record(0.0)
    assert zeros.percentile(0.5) == 0.0


def test_histogram_recent_figures_forget_old_samples_but_totals_keep_them():
    hist = Histogram(window=10)
    for _ in range(100):
        hist.record(1.0)
    for _ in range(20):
        hist.record(0.001)
    assert hist.percentile(0.99) <= 0.0011          # recent: only the fast ones
    assert hist.percentile(0.99, recent=False) == pytest.approx(1.0)
    assert hist.recent_count == 20 and hist.count == 120
