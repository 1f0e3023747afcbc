"""The multi-strategy clock: intervals, phase spread, overrun counting, realtime and backtest modes."""
from __future__ import annotations

import time

import pytest

from hive_core.clock import Clock


def fire_times(clock: Clock, until: float) -> dict[int, list[float]]:
    """Drive a backtest clock until `until`, recording when each slot fired."""
    fired: dict[int, list[float]] = {slot: [] for slot in range(clock.size)}
    due: list[int] = []
    while clock.next_due() <= until:
        due.clear()
        now = clock.advance(due)
        for slot in due:
            fired[slot].append(round(now, 9))
    return fired


def test_backtest_slots_fire_on_their_own_intervals():
    clock = Clock(realtime=False, start_time=100.0)
    fast = clock.add(0.5, phase=0.0)
    slow = clock.add(2.0, phase=0.0)
    clock.start()
    fired = fire_times(clock, 104.0)
    assert fired[fast] == [100.0 + 0.5 * k for k in range(9)]
    assert fired[slow] == [100.0, 102.0, 104.0]
    assert clock.ticks(fast) == 9 and clock.ticks(slow) == 3
    assert clock.total_overruns == 0


def test_same_interval_slots_get_spread_phases_instead_of_one_burst():
    clock = Clock(realtime=False, start_time=0.0)
    slots = [clock.add(1.0) for _ in range(4)]
    clock.start()
    assert [clock.phase(slot) for slot in slots] == [0.0, 0.25, 0.5, 0.75]
    due: list[int] = []
    batches = []
    while clock.next_due() < 2.0:
        due.clear()
        now = clock.advance(due)
        batches.append((now, list(due)))
    # One slot per wake-up, a quarter interval apart, in a stable order.
    assert batches == [(0.0, [0]), (0.25, [1]), (0.5, [2]), (0.75, [3]),
                       (1.0, [0]), (1.25, [1]), (1.5, [2]), (1.75, [3])]


def test_explicit_phase_is_kept_and_auto_phases_spread_per_interval():
    clock = Clock(realtime=False)
    fixed = clock.add(1.0, phase=0.3)
    a, b = clock.add(2.0), clock.add(2.0)
    clock.start(0.0)
    assert clock.phase(fixed) == pytest.approx(0.3)
    assert (clock.phase(a), clock.phase(b)) == (0.0, 1.0)


def test_late_slot_ticks_once_and_counts_the_missed_ticks_as_overruns():
    clock = Clock(realtime=False, start_time=0.0)
    slot = clock.add(1.0, phase=0.0)
    other = clock.add(0.5, phase=0.0)
    clock.start()
    due: list[int] = []
    clock.advance(due)                  # t=0: both fire
    due.clear()
    clock.set_time(3.2)                 # the loop was stuck for 3.2 s
    clock.pop_due(3.2, due)
    assert sorted(due) == [slot, other]  # each fires once, no catch-up burst
    assert clock.overruns(slot) == 2     # due at 1.0, fired late; 2.0 and 3.0 missed
    assert clock.overruns(other) == 5    # due at 0.5; 1.0, 1.5, 2.0, 2.5, 3.0 missed
    assert clock.total_overruns == 7
    assert clock.lag(slot) == pytest.approx(2.2)
    assert clock.due(slot) == pytest.approx(4.0)   # back on its grid
    assert clock.due(other) == pytest.approx(3.5)


def test_paused_slot_is_not_scheduled_and_resumes_on_its_grid():
    clock = Clock(realtime=False, start_time=0.0)
    slot = clock.add(1.0, phase=0.25)
    clock.start()
    clock.pause(slot)
    assert clock.next_due() == float("inf")
    clock.set_time(5.6)
    clock.resume(slot)
    assert clock.due(slot) == pytest.approx(6.25)
    assert clock.overruns(slot) == 0


def test_slot_paused_before_start_stays_paused_until_resumed():
    clock = Clock(realtime=False, start_time=0.0)
    slot = clock.add(1.0)
    clock.pause(slot)
    clock.start()
    assert not clock.is_scheduled(slot)
    clock.resume(slot)
    assert clock.is_scheduled(slot) and clock.due(slot) == 0.0


def test_many_slots_grow_storage_and_keep_heap_order():
    clock = Clock(realtime=False, start_time=0.0)
    for index in range(1000):
        clock.add(1.0 + (index % 7) * 0.5)
    clock.start()
    fired = fire_times(clock, 10.0)
    for slot, times in fired.items():
        expected = int((10.0 - clock.phase(slot)) / clock.interval(slot) + 1e-9) + 1
        assert len(times) == expected, slot
    previous = -1.0
    due: list[int] = []
    for _ in range(500):                 # due times come out sorted
        due.clear()
        now = clock.advance(due)
        assert now >= previous
        previous = now


def test_invalid_interval_is_refused():
    with pytest.raises(ValueError, match="interval"):
        Clock(realtime=False).add(0.0)


def test_realtime_mode_fires_on_wall_clock_and_counts_a_stall_as_overruns():
    clock = Clock(realtime=True)
    slot = clock.add(0.05, phase=0.0)
    start = time.time()
    clock.start(start)
    due: list[int] = []
    fired = 0
    deadline = start + 0.5
    while time.time() < deadline:
        wait = clock.next_due() - time.time()
        if wait > 0:
            time.sleep(min(wait, 0.01))
            continue
        due.clear()
        fired += clock.pop_due(clock.now(), due)
    # Ticks at 0, 0.05, ... 0.5; on a busy machine a late one is counted as an overrun, never lost.
    assert fired >= 3 and 10 <= fired + clock.overruns(slot) <= 11
    time.sleep(0.22)                      # a stall of more than four intervals
    due.clear()
    clock.pop_due(clock.now(), due)
    assert due == [slot]
    assert clock.overruns(slot) >= 3 + (10 - fired if fired < 10 else 0)
    assert clock.now() == pytest.approx(time.time(), abs=0.05)


def test_pop_due_hands_out_each_slots_scheduled_time_and_keeps_its_lag():
    clock = Clock(realtime=False, start_time=0.0)
    a = clock.add(1.0, phase=0.0)
    b = clock.add(1.0, phase=0.5)
    clock.start()
    due: list[int] = []
    scheduled: list[float] = []
    clock.set_time(0.7)
    clock.pop_due(0.7, due, scheduled)
    assert due == [a, b] and scheduled == [0.0, 0.5]
    assert clock.lag(a) == pytest.approx(0.7) and clock.lag(b) == pytest.approx(0.2)
    assert clock.last_due(a) == 0.0 and clock.last_due(b) == 0.5
    due.clear()
    scheduled.clear()
    clock.advance(due, scheduled)                 # on time now
    assert due == [a] and scheduled == [1.0] and clock.lag(a) == 0.0
    assert clock.max_lag(a) == pytest.approx(0.7)


def test_thousand_slots_at_one_second_are_spread_one_millisecond_apart():
    clock = Clock(realtime=False, start_time=0.0)
    for _ in range(1000):
        clock.add(1.0)
    clock.start()
    phases = sorted(clock.phase(slot) for slot in range(1000))
    gaps = {round(later - earlier, 9) for earlier, later in zip(phases, phases[1:], strict=False)}
    assert gaps == {0.001}
    due: list[int] = []
    sizes = []
    while clock.next_due() < 1.0:
        due.clear()
        clock.advance(due)
        sizes.append(len(due))
    assert len(sizes) >= 500 and max(sizes) <= 2    # never a burst: at most 2 per resolution step


def test_released_slot_is_reused_by_the_next_add_and_starts_clean():
    clock = Clock(realtime=False, start_time=0.0)
    a, b, c = clock.add(1.0), clock.add(1.0), clock.add(1.0)
    clock.start()
    due: list[int] = []
    clock.advance(due)
    clock.release(b)
    assert clock.is_free(b) and not clock.is_scheduled(b)
    clock.pause(b)                                 # harmless on a free slot
    with pytest.raises(IndexError, match="released"):
        clock.resume(b)
    fired = fire_times(clock, 3.0)
    assert fired[b] == [] and fired[a] and fired[c]
    reused = clock.add(0.5)
    assert reused == b and clock.size == 3 and not clock.is_free(b)
    assert clock.ticks(reused) == 0 and clock.overruns(reused) == 0 and clock.interval(reused) == 0.5
    assert clock.is_scheduled(reused) and clock.due(reused) >= clock.now()


def test_slot_added_after_start_takes_the_middle_of_the_widest_gap():
    clock = Clock(realtime=False, start_time=0.0)
    clock.add(1.0)
    clock.add(1.0)                                 # phases 0.0 and 0.5
    clock.start()
    late = clock.add(1.0)
    assert clock.phase(late) in (pytest.approx(0.25), pytest.approx(0.75))
    assert clock.is_scheduled(late)


def test_realtime_lag_of_a_tick_popped_late_is_reported():
    clock = Clock(realtime=True)
    slot = clock.add(10.0, phase=0.0)
    start = time.time()
    clock.start(start)
    time.sleep(0.02)
    due: list[int] = []
    scheduled: list[float] = []
    clock.pop_due(clock.now(), due, scheduled)
    assert due == [slot] and scheduled == [start]
    assert 0.015 < clock.lag(slot) < 1.0 and clock.overruns(slot) == 0
