"""The simulated exchange: books, market and limit matching, fees, cancels, rejections, determinism."""
from __future__ import annotations

import pytest

from hive_core.config import SimVenueConfig
from hive_core.market.types import OrderStatus, Side, UpdateKind
from hive_core.sim.exchange import SimExchange


class VirtualTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_venue(**overrides) -> tuple[SimExchange, list, VirtualTime]:
    settings = {"trading_pairs": ["BTC-USDT"], "initial_prices": {"BTC-USDT": 100.0}, "seed": 3,
                "fee_rate": 0.001, **overrides}
    clock = VirtualTime()
    venue = SimExchange(SimVenueConfig(**settings), clock)
    updates: list = []
    venue.add_order_listener(updates.append)
    return venue, updates, clock


def test_book_is_built_around_the_mid_with_the_configured_spread():
    venue, _, _ = make_venue(book_spread_bps=4.0, book_levels=5)
    book = venue.order_book("BTC-USDT")
    assert len(book.bids) == len(book.asks) == 5
    assert book.best_bid < book.mid_price < book.best_ask
    assert book.spread / book.mid_price == pytest.approx(4e-4, rel=0.1)
    assert [p for p, _ in book.bids] == sorted((p for p, _ in book.bids), reverse=True)
    assert [p for p, _ in book.asks] == sorted(p for p, _ in book.asks)


def test_same_seed_gives_the_same_price_path():
    paths = []
    for _ in range(2):
        venue, _, _ = make_venue(seed=42)
        for _ in range(50):
            venue.step()
        paths.append(venue.mid_price("BTC-USDT"))
    assert paths[0] == paths[1]
    other, _, _ = make_venue(seed=43)
    for _ in range(50):
        other.step()
    assert other.mid_price("BTC-USDT") != paths[0]


def test_market_buy_walks_the_asks_and_pays_the_fee_in_quote():
    venue, updates, _ = make_venue()
    book = venue.order_book("BTC-USDT")
    first_size = book.asks[0][1]
    amount = first_size + book.asks[1][1] / 2
    order = venue.place_market("s-000001", "BTC-USDT", Side.BUY, amount)
    assert order.status is OrderStatus.FILLED
    fills = [u.fill for u in updates if u.kind is UpdateKind.FILLED]
    assert [(f.price, f.amount) for f in fills] == [(book.asks[0][0], first_size),
                                                     (book.asks[1][0], pytest.approx(book.asks[1][1] / 2))]
    assert all(f.fee_quote == pytest.approx(f.price * f.amount * 0.001) for f in fills)
    assert not any(f.is_maker for f in fills)
    assert [u.kind for u in updates] == [UpdateKind.CREATED, UpdateKind.FILLED, UpdateKind.FILLED, UpdateKind.COMPLETED]


def test_market_order_larger_than_the_book_fills_what_is_there_and_cancels_the_rest():
    venue, updates, _ = make_venue(book_levels=2)
    depth = sum(size for _, size in venue.order_book("BTC-USDT").bids)
    order = venue.place_market("s-000001", "BTC-USDT", Side.SELL, depth * 3)
    assert order.status is OrderStatus.CANCELLED
    assert order.filled_amount == pytest.approx(depth)
    assert updates[-1].kind is UpdateKind.CANCELLED and "liquidity" in updates[-1].reason


def test_limit_order_crossing_the_book_fills_at_once_as_taker_up_to_its_price():
    venue, updates, _ = make_venue()
    book = venue.order_book("BTC-USDT")
    limit = book.asks[0][0]
    amount = book.asks[0][1] * 2          # more than the levels at or below the limit
    order = venue.place_limit("s-000001", "BTC-USDT", Side.BUY, amount, limit)
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert order.filled_amount == pytest.approx(book.asks[0][1])
    assert [o.client_order_id for o in venue.open_orders()] == ["s-000001"]   # the rest rests


def test_resting_limit_orders_fill_at_their_price_when_the_market_crosses_them():
    venue, updates, _ = make_venue(volatility=0.0, trades_per_step=0.0)
    mid = venue.mid_price("BTC-USDT")
    venue.place_limit("s-000001", "BTC-USDT", Side.BUY, 1.0, mid * 0.99)
    venue.place_limit("s-000002", "BTC-USDT", Side.SELL, 1.0, mid * 1.01)
    venue.step()
    assert not [u for u in updates if u.kind is UpdateKind.FILLED]          # nothing crossed yet
    venue.markets["BTC-USDT"].mid_price = mid * 0.985                       # the market falls through the bid
    venue.step()
    [fill] = [u.fill for u in updates if u.kind is UpdateKind.FILLED]
    assert (fill.order_id, fill.price, fill.amount, fill.is_maker) == ("s-000001", mid * 0.99, 1.0, True)
    assert fill.fee_quote == pytest.approx(mid * 0.99 * 0.001)
    assert [o.client_order_id for o in venue.open_orders()] == ["s-000002"]


def test_sell_aggressor_trade_fills_a_bid_at_or_above_the_best_bid():
    venue, updates, _ = make_venue(volatility=0.0, trades_per_step=5.0, seed=9)
    book = venue.order_book("BTC-USDT")
    venue.place_limit("s-000001", "BTC-USDT", Side.BUY, 0.01, book.best_bid)   # joins the best bid
    for _ in range(20):
        venue.step()
    assert [u.fill.order_id for u in updates if u.kind is UpdateKind.FILLED][:1] == ["s-000001"]


def test_cancel_removes_an_open_order_once():
    venue, updates, _ = make_venue()
    mid = venue.mid_price("BTC-USDT")
    venue.place_limit("s-000001", "BTC-USDT", Side.BUY, 1.0, mid * 0.9)
    assert venue.cancel("s-000001") is True
    assert venue.cancel("s-000001") is False
    assert venue.cancel("unknown-000001") is False
    assert venue.open_orders() == []
    assert venue.get_order("s-000001").status is OrderStatus.CANCELLED
    assert updates[-1].kind is UpdateKind.CANCELLED


@pytest.mark.parametrize(("amount", "price", "reason"), [
    (0.0, 100.0, "amount"), (-1.0, 100.0, "amount"), (1.0, 0.0, "price"), (float("nan"), 100.0, "amount"),
])
def test_invalid_orders_are_rejected_with_a_reason(amount, price, reason):
    venue, updates, _ = make_venue()
    order = venue.place_limit("s-000001", "BTC-USDT", Side.BUY, amount, price)
    assert order.status is OrderStatus.REJECTED
    assert updates[-1].kind is UpdateKind.REJECTED and reason in updates[-1].reason


def test_duplicate_client_order_id_is_rejected():
    venue, updates, _ = make_venue()
    mid = venue.mid_price("BTC-USDT")
    venue.place_limit("s-000001", "BTC-USDT", Side.BUY, 1.0, mid * 0.9)
    assert venue.place_limit("s-000001", "BTC-USDT", Side.BUY, 1.0, mid * 0.9).status is OrderStatus.REJECTED
    assert "duplicate" in updates[-1].reason


def test_public_trades_print_at_the_touch():
    venue, _, _ = make_venue(trades_per_step=3.0)
    seen = []
    venue.add_market_listener(lambda book, trades: seen.extend((book, t) for t in trades))
    for _ in range(10):
        venue.step()
    assert seen
    for book, trade in seen:
        assert trade.price == (book.best_ask if trade.side is Side.BUY else book.best_bid)
