"""Paper account arithmetic: balances, fees, average cost, realized and unrealized PnL."""
from __future__ import annotations

import pytest

from hive_core.market.types import Fill, OrderType, Side
from hive_core.orders.paper import InsufficientBalance, PaperAccount

FEE = 0.001


def fill(side: Side, price: float, amount: float, fee_rate: float = FEE) -> Fill:
    return Fill("s-000001", "BTC-USDT", side, OrderType.LIMIT, price, amount, price * amount * fee_rate,
                fee_rate, 0.0, True, "t")


def account() -> PaperAccount:
    return PaperAccount("BTC-USDT", {"USDT": 10_000.0, "BTC": 1.0})


def test_buy_then_sell_realizes_the_price_difference_minus_both_fees():
    acc = account()
    acc.apply_fill(fill(Side.BUY, 100.0, 2.0))
    assert acc.balances == {"USDT": pytest.approx(10_000 - 200 - 0.2), "BTC": 3.0}
    assert (acc.position, acc.average_cost) == (2.0, 100.0)
    assert acc.realized_pnl == pytest.approx(-0.2)
    assert acc.unrealized_pnl(103.0) == pytest.approx(6.0)
    acc.apply_fill(fill(Side.SELL, 105.0, 2.0))
    assert acc.position == 0.0 and acc.average_cost == 0.0
    assert acc.realized_pnl == pytest.approx(2 * 5.0 - 0.2 - 0.21)
    assert acc.fees_paid == pytest.approx(0.41)
    assert acc.volume_quote == pytest.approx(410.0)
    assert acc.unrealized_pnl(50.0) == 0.0


def test_adding_to_a_position_averages_the_cost():
    acc = account()
    acc.apply_fill(fill(Side.BUY, 100.0, 1.0, fee_rate=0.0))
    acc.apply_fill(fill(Side.BUY, 110.0, 3.0, fee_rate=0.0))
    assert acc.average_cost == pytest.approx(107.5)
    acc.apply_fill(fill(Side.SELL, 120.0, 1.0, fee_rate=0.0))     # partial close keeps the average
    assert acc.realized_pnl == pytest.approx(12.5)
    assert (acc.position, acc.average_cost) == (3.0, pytest.approx(107.5))
    assert acc.unrealized_pnl(100.0) == pytest.approx(3 * (100.0 - 107.5))


def test_short_position_gains_when_the_price_falls():
    acc = account()
    acc.apply_fill(fill(Side.SELL, 100.0, 0.5, fee_rate=0.0))
    assert acc.position == -0.5
    assert acc.unrealized_pnl(90.0) == pytest.approx(5.0)
    acc.apply_fill(fill(Side.BUY, 90.0, 0.5, fee_rate=0.0))
    assert acc.realized_pnl == pytest.approx(5.0) and acc.position == 0.0


def test_fill_through_zero_closes_and_opens_the_rest_at_the_fill_price():
    acc = account()
    acc.apply_fill(fill(Side.BUY, 100.0, 1.0, fee_rate=0.0))
    acc.apply_fill(fill(Side.SELL, 110.0, 3.0, fee_rate=0.0))
    assert acc.realized_pnl == pytest.approx(10.0)
    assert (acc.position, acc.average_cost) == (-2.0, 110.0)


def test_realized_plus_unrealized_equals_the_change_in_equity_at_mid():
    acc = account()
    start = acc.equity(100.0)
    for side, price, amount in [(Side.BUY, 100.0, 0.3), (Side.BUY, 101.0, 0.2), (Side.SELL, 102.5, 0.4),
                                (Side.SELL, 99.0, 0.6), (Side.BUY, 98.0, 0.1)]:
        acc.apply_fill(fill(side, price, amount))
    mid = 100.7
    # The starting inventory is not PnL: remove its revaluation from the equity change.
    equity_change = acc.equity(mid) - start - acc.starting_balances["BTC"] * (mid - 100.0)
    assert acc.global_pnl(mid) == pytest.approx(equity_change)


def test_reservations_limit_what_is_available():
    acc = account()
    acc.reserve("s-000001", "USDT", 9_000.0)
    assert acc.available("USDT") == pytest.approx(1_000.0)
    with pytest.raises(InsufficientBalance, match="USDT"):
        acc.reserve("s-000002", "USDT", 1_500.0)
    acc.release("s-000001", 4_000.0)
    assert acc.available("USDT") == pytest.approx(5_000.0)
    acc.release("s-000001")
    assert acc.available("USDT") == pytest.approx(10_000.0)


def test_snapshot_reports_the_performance_fields():
    acc = account()
    acc.apply_fill(fill(Side.BUY, 100.0, 1.0))
    snap = acc.snapshot(101.0)
    assert snap["realized_pnl_quote"] == pytest.approx(-0.1)
    assert snap["unrealized_pnl_quote"] == pytest.approx(1.0)
    assert snap["global_pnl_quote"] == pytest.approx(0.9)
    assert snap["volume_traded"] == pytest.approx(100.0)
