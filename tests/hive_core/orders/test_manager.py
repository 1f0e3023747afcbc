"""The order manager in virtual time: quotas, priority, fair queuing, back-off, cancels, attribution."""
from __future__ import annotations

import pytest

from hive_core.orders import requests
from hive_core.orders.manager import BackoffPolicy, OrderManager
from hive_core.orders.requests import InvalidOrder
from tests.hive_core.orders.fakes import BIG_QUOTA, BINANCE, Counter, jain, quota, rules, virtual_manager


def flood(manager, ids: Counter, strategy_id: str, count: int) -> None:
    for _ in range(count):
        manager.submit(strategy_id, ids.limit(strategy_id))


def test_request_under_quota_is_written_before_submit_returns():
    manager, transport, _timers = virtual_manager()
    manager.add_strategy("a", quota=quota())
    manager.submit("a", Counter().limit("a"))
    assert transport.ids() == ["a-000001"]
    assert transport.sent[0].method == "order.place"
    assert transport.sent[0].params["newClientOrderId"] == "a-000001"
    figures = manager.metrics()
    assert figures["strategies"]["a"]["sent"] == 1 and figures["submit_to_write_us"]["n"] == 1


def test_quota_exceeded_delays_only_that_strategy():
    manager, transport, timers = virtual_manager()
    manager.add_strategy("greedy", quota=quota(orders_per_second=2))
    manager.add_strategy("calm", quota=quota(orders_per_second=2))
    ids = Counter()
    flood(manager, ids, "greedy", 6)          # 2 go at once (its burst), 4 wait for its own refill
    manager.submit("calm", ids.limit("calm"))
    assert transport.owners() == ["greedy", "greedy", "calm"]
    assert manager.queued("greedy") == 4 and manager.queued("calm") == 0
    timers.advance(0.5)                        # 2/s: one more each 0.5 s
    assert transport.owners().count("greedy") == 3
    timers.advance(1.5)
    assert transport.owners().count("greedy") == 6
    greedy = manager.metrics()["strategies"]["greedy"]
    assert greedy["throttled_s"] == pytest.approx(2.0)
    assert greedy["queue_delay_ms"]["max"] == pytest.approx(2000.0)
    assert manager.metrics()["strategies"]["calm"]["queue_delay_ms"]["max"] == 0.0


def test_higher_priority_class_goes_first():
    manager, transport, timers = virtual_manager(rules(("ORDERS", 10, 10)))   # 2 at once, then 0.8/s
    manager.add_strategy("low", priority=0, quota=BIG_QUOTA)
    manager.add_strategy("high", priority=5, quota=BIG_QUOTA)
    ids = Counter()
    flood(manager, ids, "low", 5)
    flood(manager, ids, "high", 3)
    timers.advance(10.0)
    assert transport.owners()[:5] == ["low", "low", "high", "high", "high"]


def test_a_high_priority_strategy_blocked_by_its_own_quota_does_not_hold_the_others():
    manager, transport, timers = virtual_manager()
    manager.add_strategy("high", priority=9, quota=quota(orders_per_second=1))
    manager.add_strategy("low", priority=0, quota=BIG_QUOTA)
    ids = Counter()
    flood(manager, ids, "high", 3)
    flood(manager, ids, "low", 3)
    assert transport.owners() == ["high", "low", "low", "low"]


def test_wfq_shares_are_proportional_to_weights_under_saturation():
    manager, transport, timers = virtual_manager()             # venue: 8 orders/s sustained
    weights = {"w1": 1.0, "w2": 2.0, "w3": 3.0}
    ids = Counter()
    for name, weight in weights.items():
        manager.add_strategy(name, quota=quota(orders_per_second=100, weight_per_minute=6000, weight=weight))
        flood(manager, ids, name, 2000)
    timers.advance(100.0)
    owners = transport.owners()[20:]                            # past the opening burst
    counts = {name: owners.count(name) for name in weights}
    total = sum(counts.values())
    for name, weight in weights.items():
        assert counts[name] / total == pytest.approx(weight / 6.0, rel=0.03), counts


def test_equal_weights_get_equal_shares_jain_index_at_least_0_95():
    manager, transport, timers = virtual_manager()
    ids = Counter()
    names = [f"s{i}" for i in range(10)]
    for name in names:
        manager.add_strategy(name, quota=quota())
        flood(manager, ids, name, 500)
    timers.advance(60.0)
    counts = [transport.owners().count(name) for name in names]
    assert jain(counts) >= 0.95, counts
    after_burst = [transport.owners()[20:].count(name) for name in names]   # the first 20 went to s0..s3
    assert max(after_burst) - min(after_burst) <= 2, after_burst


def test_light_strategy_among_ten_floods_is_never_delayed_beyond_its_quota():
    manager, transport, timers = virtual_manager()      # Binance limits: 8 orders/s for everyone together
    ids = Counter()
    for i in range(10):
        manager.add_strategy(f"flood{i}", quota=quota())
    manager.add_strategy("light", quota=quota(orders_per_second=5))
    for second in range(60):
        for i in range(10):
            flood(manager, ids, f"flood{i}", 5)           # each floods at its quota: 50/s in all
        if second % 2 == 0:
            manager.submit("light", ids.limit("light"))   # 0.5/s, under its fair share (8/11 per s)
        timers.advance(1.0)
    light = manager.metrics()["strategies"]["light"]
    assert light["sent"] == 30
    assert light["queue_delay_ms"]["max"] <= 1000.0 / 5        # within its own quota's spacing
    floods = manager.metrics()["strategies"]["flood0"]
    assert floods["queued"] > 100                               # the flood really was backed up


def test_cancels_go_ahead_of_new_orders_of_the_same_strategy():
    manager, transport, timers = virtual_manager()
    manager.add_strategy("a", quota=quota(orders_per_second=1, weight_per_minute=1200))
    ids = Counter()
    flood(manager, ids, "a", 3)                                # 1 sent, 2 queued behind the quota
    manager.submit("a", requests.cancel("a-000001", "BTC-USDT"))
    # A cancel is not an order: the orders/s quota does not hold it, and it goes before a-000002.
    assert [frame.method for frame in transport.sent] == ["order.place", "order.cancel"]
    timers.advance(2.0)
    assert transport.ids() == ["a-000001", "a-000001", "a-000002", "a-000003"]


def test_cancel_of_a_queued_order_withdraws_it_and_nothing_is_sent():
    manager, transport, timers = virtual_manager()
    manager.add_strategy("a", quota=quota(orders_per_second=1))
    ids = Counter()
    flood(manager, ids, "a", 3)
    withdrawn = manager.withdraw("a-000002")
    assert withdrawn is not None and withdrawn.client_order_id == "a-000002"
    assert manager.withdraw("a-000002") is None
    timers.advance(5.0)
    assert transport.ids() == ["a-000001", "a-000003"]
    assert manager.metrics()["strategies"]["a"]["withdrawn"] == 1


def test_429_pauses_the_venue_until_retry_after_then_resends():
    manager, transport, timers = virtual_manager()
    manager.add_strategy("a", quota=BIG_QUOTA)
    manager.add_strategy("b", quota=BIG_QUOTA)
    start = timers.now()
    transport.script = [{"status": 429, "error": {"code": -1015, "msg": "Too many new orders",
                                                   "data": {"serverTime": 1_700_000_005_000,
                                                            "retryAfter": 1_700_000_007_000}}}]
    ids = Counter()
    manager.submit("a", ids.limit("a"))                 # answered 429: pause 2 s (7000 - 5000 ms)
    manager.submit("b", ids.limit("b"))                 # the whole venue path waits
    assert transport.ids() == ["a-000001"]
    assert manager.paused_until == pytest.approx(start + 2.0)
    timers.advance(1.99)
    assert transport.ids() == ["a-000001"]
    timers.advance(0.02)
    assert sorted(transport.ids()) == ["a-000001", "a-000001", "b-000001"]   # the refused one again, and b
    figures = manager.metrics()
    assert figures["http_429"] == 1 and figures["paused_s"] == pytest.approx(2.0)
    assert figures["strategies"]["a"]["retried"] == 1 and figures["acked"] == 2


def test_429_without_retry_after_uses_the_default_pause():
    manager, transport, timers = virtual_manager(backoff=BackoffPolicy(default_retry_after=0.75))
    manager.add_strategy("a", quota=BIG_QUOTA)
    transport.script = [{"status": 429, "error": {"code": -1003, "msg": "slow down"}}]
    manager.submit("a", Counter().limit("a"))
    assert manager.paused_until == pytest.approx(timers.now() + 0.75)


def test_418_shrinks_the_limits_and_they_recover_on_success():
    policy = BackoffPolicy(ban_pause_min=3.0, shrink_on_ban=0.5, recover_per_success=0.1)
    manager, transport, timers = virtual_manager(backoff=policy)
    manager.add_strategy("a", quota=BIG_QUOTA)
    transport.script = [{"status": 418, "error": {"code": -1003, "msg": "banned",
                                                   "data": {"serverTime": 1_700_000_001_000,
                                                            "retryAfter": 1_700_000_002_000}}}]
    start = timers.now()
    ids = Counter()
    manager.submit("a", ids.limit("a"))
    assert manager.scale == 0.5
    assert manager.paused_until == pytest.approx(start + 3.0)           # longer than its 1 s Retry-After
    timers.advance(3.0)
    assert manager.scale == pytest.approx(0.6)                          # the resend succeeded
    for _ in range(4):
        manager.submit("a", ids.limit("a"))
    timers.advance(5.0)
    assert manager.scale == pytest.approx(1.0)
    assert manager.metrics()["http_418"] == 1


def test_request_refused_too_often_is_rejected_to_its_callback():
    manager, transport, timers = virtual_manager(backoff=BackoffPolicy(max_attempts=2, default_retry_after=0.1))
    manager.add_strategy("a", quota=BIG_QUOTA)
    transport.script = [{"status": 429, "error": {"code": -1015, "msg": "x"}}] * 2
    replies = []
    manager.submit("a", Counter().limit("a", on_reply=lambda request, reply: replies.append(reply)))
    timers.advance(1.0)
    [reply] = replies
    assert reply.status == 429 and "gave up after 2 attempts" in reply.msg
    assert manager.metrics()["strategies"]["a"]["rejected"] == 1


def test_venue_rejection_reaches_the_request_callback():
    manager, transport, _timers = virtual_manager()
    manager.add_strategy("a", quota=BIG_QUOTA)
    transport.script = [{"status": 400, "error": {"code": -2010, "msg": "Account has insufficient balance."}}]
    replies = []
    manager.submit("a", Counter().limit("a", on_reply=lambda request, reply: replies.append((request, reply))))
    [(request, reply)] = replies
    assert request.client_order_id == "a-000001" and reply.code == -2010 and not reply.ok


def test_transport_that_cannot_write_is_retried_after_a_short_pause():
    manager, transport, timers = virtual_manager(backoff=BackoffPolicy(transport_error_pause=0.5))
    manager.add_strategy("a", quota=BIG_QUOTA)
    transport.fail_next = 1
    manager.submit("a", Counter().limit("a"))
    assert transport.ids() == [] and manager.metrics()["transport_errors"] == 1
    timers.advance(0.5)
    assert transport.ids() == ["a-000001"]


def test_used_weight_in_answers_keeps_the_manager_under_the_venue_count():
    manager, transport, timers = virtual_manager(rules(("REQUEST_WEIGHT", 60, 100)), auto=False)
    manager.add_strategy("a", quota=BIG_QUOTA)
    ids = Counter()
    manager.submit("a", ids.limit("a"))
    # Someone else on our IP has used 95 of the venue's 100: only 5 - (0 sent since) are left.
    transport.answer({"status": 200, "result": {}, "rateLimits": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 100, "count": 95}]})
    flood(manager, ids, "a", 10)
    assert len(transport.sent) == 1 + 5


def test_tighter_published_limit_replaces_the_configured_one():
    manager, transport, timers = virtual_manager(rules(("ORDERS", 1, 50)), auto=False)
    manager.add_strategy("a", quota=BIG_QUOTA)
    ids = Counter()
    manager.submit("a", ids.limit("a"))
    transport.answer({"status": 200, "result": {}, "rateLimits": [
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 1, "limit": 5, "count": 1}]})
    flood(manager, ids, "a", 20)
    while transport.unanswered:
        transport.answer()
    timers.advance(10.0)
    sends = [frame.at for frame in transport.sent]
    for index, at in enumerate(sends):           # never more than 5 in any second from now on
        assert sum(1 for other in sends[index:] if other < at + 1.0) <= 5


def test_malformed_orders_raise_at_the_call_and_are_never_queued():
    manager, transport, _timers = virtual_manager()
    manager.add_strategy("a", quota=quota())
    with pytest.raises(InvalidOrder, match="amount"):
        requests.place_limit("a-000001", "BTC-USDT", "BUY", 0.0, 100.0)
    with pytest.raises(InvalidOrder, match="price"):
        requests.place_limit("a-000001", "BTC-USDT", "BUY", 1.0, -5.0)
    with pytest.raises(InvalidOrder, match="side"):
        requests.place_market("a-000001", "BTC-USDT", "HOLD", 1.0)
    with pytest.raises(InvalidOrder, match="amount"):
        requests.place_market("a-000001", "BTC-USDT", "SELL", float("nan"))
    assert manager.queued() == 0 and transport.sent == []


def test_request_of_another_strategy_or_unknown_strategy_is_refused():
    manager, transport, _timers = virtual_manager()
    manager.add_strategy("a", quota=quota())
    with pytest.raises(InvalidOrder, match="does not belong"):
        manager.submit("a", Counter().limit("b"))
    with pytest.raises(KeyError, match="not registered"):
        manager.submit("zz", Counter().limit("zz"))
    assert transport.sent == []


def test_waiting_arms_one_timer_instead_of_polling():
    manager, transport, timers = virtual_manager(rules(("ORDERS", 10, 10)))   # 2 at once, then 0.8/s
    manager.add_strategy("a", quota=BIG_QUOTA)
    flood(manager, Counter(), "a", 12)
    timers.advance(20.0)
    assert len(transport.sent) == 12
    figures = manager.metrics()
    assert figures["timers_armed"] == 10 and timers.fired == 10       # one wake-up per request that waited


def test_stop_holds_the_queue_and_start_resumes_it():
    manager, transport, timers = virtual_manager()
    manager.add_strategy("a", quota=quota())
    manager.stop()
    manager.submit("a", Counter().limit("a"))
    assert transport.sent == [] and manager.queued("a") == 1
    manager.start()
    assert transport.ids() == ["a-000001"]
    manager.reset()
    assert manager.metrics()["sent"] == 0


def test_from_config_registers_every_strategy_with_its_priority_and_quota():
    from hive_core.config import parse_instance_config
    config = parse_instance_config({"instance_id": "t", "strategies": [
        {"id": "mm", "strategy": "market_maker", "priority": 3, "quota": {"orders_per_second": 2, "weight": 2}},
        {"id": "mo", "strategy": "momentum"}]})
    manager = OrderManager.from_config(config.venue, config.strategies, transport=None)
    figures = manager.metrics()["strategies"]
    assert figures["mm"]["priority"] == 3 and figures["mm"]["weight"] == 2.0 and figures["mo"]["priority"] == 0
    assert manager.name == "sim" and len(BINANCE) == 3


def test_the_venues_published_limits_replace_the_configured_ones_window_by_window():
    manager, transport, timers = virtual_manager(rules(("ORDERS", 1, 50), ("REQUEST_WEIGHT", 60, 6000)))
    manager.add_strategy("a", quota=BIG_QUOTA)
    manager.adopt_limits(rules(("ORDERS", 1, 5), ("ORDERS", 86_400, 200_000)))
    assert sorted((r.limit_type, r.interval_s, r.limit) for r in manager.venue_limits()) == [
        ("ORDERS", 1, 5), ("ORDERS", 86_400, 200_000), ("REQUEST_WEIGHT", 60, 6000)]  # one kept, one added
    flood(manager, Counter(), "a", 30)
    timers.advance(10.0)
    sends = [frame.at for frame in transport.sent]
    assert len(sends) >= 20
    for index, at in enumerate(sends):           # the published 5 a second, not the configured 50
        assert sum(1 for other in sends[index:] if other < at + 1.0) <= 5
