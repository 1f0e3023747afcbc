"""PaperMatcher (hive_core/paper/matcher.py) on hand-built books and trades: taker fills on arrival, queue position,
trades at and through a resting order's price, the book crossing it, post-only, cancels, market orders' rest."""
from __future__ import annotations

import itertools

import pytest

from hive_core.market.types import Fill, OrderBook, OrderStatus, OrderUpdate, Side, Trade, UpdateKind
from hive_core.paper.matcher import NO_LIQUIDITY, WOULD_TAKE, PaperMatcher

PAIR = "BTC-USDT"
MAKER, TAKER = 0.0002, 0.001
BIDS = ((99.5, 2.0), (99.0, 4.0), (98.5, 6.0))
ASKS = ((100.5, 1.0), (101.0, 1.5), (101.5, 5.0))
_trade_ids = itertools.count(1)


def book(bids=BIDS, asks=ASKS, at: float = 1.0) -> OrderBook:
    mid = (bids[0][0] + asks[0][0]) / 2 if bids and asks else 0.0
    return OrderBook(PAIR, at, tuple(bids), tuple(asks), mid)


def sold(price: float, amount: float, at: float = 2.0) -> Trade:
    """A public trade whose aggressor sold (it hit the bids)."""
    return Trade(PAIR, price, amount, Side.SELL, at, f"t{next(_trade_ids)}")


def bought(price: float, amount: float, at: float = 2.0) -> Trade:
    return Trade(PAIR, price, amount, Side.BUY, at, f"t{next(_trade_ids)}")


class Recorded:
    """A matcher and every update it reported."""

    def __init__(self) -> None:
        self.matcher = PaperMatcher(maker_fee_rate=MAKER, taker_fee_rate=TAKER, now=lambda: 5.0)
        self.updates: list[OrderUpdate] = []
        self.matcher.add_order_listener(self.updates.append)

    def kinds(self, order_id: str) -> list[UpdateKind]:
        return [update.kind for update in self.updates if update.order.client_order_id == order_id]

    def fills(self, order_id: str) -> list[Fill]:
        return [update.fill for update in self.updates if update.fill and update.fill.order_id == order_id]


@pytest.fixture
def paper() -> Recorded:
    return Recorded()


def test_a_marketable_limit_order_walks_the_book_as_a_taker_and_rests_its_rest(paper: Recorded) -> None:
    placed = paper.matcher.place("a-1", Side.BUY, "LIMIT", 3.0, 101.0, book=book())
    assert placed.accepted
    assert [(fill.price, fill.amount) for fill in placed.fills] == [(100.5, 1.0), (101.0, 1.5)]
    assert all(not fill.is_maker and fill.fee_rate == TAKER for fill in placed.fills)
    assert [fill.fee_quote for fill in placed.fills] == pytest.approx([100.5 * TAKER, 101.0 * 1.5 * TAKER])
    assert placed.order.status is OrderStatus.PARTIALLY_FILLED and placed.order.filled_amount == 2.5
    assert placed.order.filled_quote == pytest.approx(100.5 + 151.5)
    assert paper.kinds("a-1") == [UpdateKind.CREATED, UpdateKind.FILLED, UpdateKind.FILLED]
    assert [order.client_order_id for order in paper.matcher.open_orders(PAIR)] == ["a-1"]
    # The rest improves on the best bid: nobody ahead of it, the next sell at its price fills it.
    paper.matcher.on_market(book(bids=((101.0, 0.2), (99.5, 2.0)), asks=((101.5, 5.0),)), [sold(101.0, 0.7)])
    assert [(fill.price, fill.amount, fill.is_maker) for fill in paper.fills("a-1")[2:]] == [(101.0, 0.5, True)]
    assert paper.kinds("a-1")[-1] is UpdateKind.COMPLETED and paper.matcher.open_orders() == []


def test_a_market_order_fills_what_the_book_has_and_the_rest_is_cancelled(paper: Recorded) -> None:
    placed = paper.matcher.place("a-1", Side.SELL, "MARKET", 20.0, book=book())
    assert [(fill.price, fill.amount) for fill in placed.fills] == [(99.5, 2.0), (99.0, 4.0), (98.5, 6.0)]
    assert placed.order.status is OrderStatus.CANCELLED and placed.order.filled_amount == 12.0
    assert placed.order.price is None
    assert paper.kinds("a-1") == [UpdateKind.CREATED] + [UpdateKind.FILLED] * 3 + [UpdateKind.CANCELLED]
    assert paper.updates[-1].reason == NO_LIQUIDITY
    assert paper.matcher.open_orders() == []


def test_a_market_order_the_book_fills_completes(paper: Recorded) -> None:
    placed = paper.matcher.place("a-1", Side.BUY, "MARKET", 1.5, book=book())
    assert [(fill.price, fill.amount) for fill in placed.fills] == [(100.5, 1.0), (101.0, 0.5)]
    assert placed.order.status is OrderStatus.FILLED
    assert paper.kinds("a-1") == [UpdateKind.CREATED, UpdateKind.FILLED, UpdateKind.FILLED, UpdateKind.COMPLETED]


def test_a_limit_order_below_the_market_rests_without_a_fill(paper: Recorded) -> None:
    placed = paper.matcher.place("a-1", Side.BUY, "LIMIT", 1.0, 99.0, book=book())
    assert placed.fills == () and placed.order.status is OrderStatus.OPEN
    assert paper.kinds("a-1") == [UpdateKind.CREATED]
    paper.matcher.on_market(book(), [bought(100.5, 3.0), sold(99.5, 1.0)])  # neither reaches 99.0
    assert paper.fills("a-1") == [] and paper.matcher.get_order("a-1").status is OrderStatus.OPEN


def test_trades_at_the_price_consume_the_queue_ahead_before_the_order_fills(paper: Recorded) -> None:
    paper.matcher.place("a-1", Side.BUY, "LIMIT", 1.0, 99.0, book=book())   # 4.0 ahead of it
    level = lambda size: book(bids=((99.5, 2.0), (99.0, size), (98.5, 6.0)))  # noqa: E731
    paper.matcher.on_market(level(1.0), [sold(99.0, 3.0)])
    assert paper.fills("a-1") == []                                          # 1.0 still ahead
    paper.matcher.on_market(level(0.5), [sold(99.0, 1.5, at=3.0)])
    fills = paper.fills("a-1")
    assert [(fill.price, fill.amount, fill.is_maker, fill.fee_rate) for fill in fills] == [(99.0, 0.5, True, MAKER)]
    assert fills[0].fee_quote == pytest.approx(99.0 * 0.5 * MAKER)
    assert paper.matcher.get_order("a-1").status is OrderStatus.PARTIALLY_FILLED
    paper.matcher.on_market(level(0.5), [sold(99.0, 2.0, at=4.0)])
    assert [fill.amount for fill in paper.fills("a-1")] == [0.5, 0.5]
    assert paper.kinds("a-1")[-1] is UpdateKind.COMPLETED


def test_paper_orders_at_one_price_share_a_trade_in_arrival_order(paper: Recorded) -> None:
    paper.matcher.place("a-1", Side.BUY, "LIMIT", 1.0, 99.0, book=book())   # 4.0 public ahead
    paper.matcher.place("b-1", Side.BUY, "LIMIT", 1.0, 99.0, book=book())   # 4.0 public and a-1 ahead
    paper.matcher.on_market(book(), [sold(99.0, 5.5)])
    assert [fill.amount for fill in paper.fills("a-1")] == [1.0]
    assert [fill.amount for fill in paper.fills("b-1")] == [0.5]


def test_a_trade_through_the_price_fills_up_to_its_size_whatever_the_queue(paper: Recorded) -> None:
    paper.matcher.place("a-1", Side.BUY, "LIMIT", 2.0, 99.0, book=book())   # 4.0 ahead of it
    paper.matcher.on_market(book(), [sold(98.5, 1.5)])
    assert [(fill.price, fill.amount) for fill in paper.fills("a-1")] == [(99.0, 1.5)]   # at its own price
    # Its level traded away: nothing is ahead of it any more.
    paper.matcher.on_market(book(), [sold(99.0, 0.5, at=3.0)])
    assert [fill.amount for fill in paper.fills("a-1")] == [1.5, 0.5]
    assert paper.matcher.get_order("a-1").status is OrderStatus.FILLED


def test_buy_trades_do_not_fill_resting_buys(paper: Recorded) -> None:
    paper.matcher.place("a-1", Side.BUY, "LIMIT", 1.0, 99.5, book=book())
    paper.matcher.on_market(book(), [bought(99.0, 10.0)])
    assert paper.fills("a-1") == []


def test_a_resting_sell_fills_from_buy_trades_through_its_price(paper: Recorded) -> None:
    paper.matcher.place("a-1", Side.SELL, "LIMIT", 1.0, 100.2, book=book())   # inside the spread: queue 0
    paper.matcher.on_market(book(), [sold(99.5, 5.0), bought(101.0, 0.4)])
    assert [(fill.price, fill.amount, fill.is_maker) for fill in paper.fills("a-1")] == [(100.2, 0.4, True)]


def test_the_book_crossing_the_price_fills_the_order_in_full_at_its_price(paper: Recorded) -> None:
    paper.matcher.place("a-1", Side.BUY, "LIMIT", 2.0, 99.0, book=book())
    paper.matcher.on_market(book(bids=((98.5, 3.0),), asks=((98.9, 1.0), (99.4, 1.0))), [])
    fills = paper.fills("a-1")
    assert [(fill.price, fill.amount, fill.is_maker) for fill in fills] == [(99.0, 2.0, True)]
    assert paper.kinds("a-1") == [UpdateKind.CREATED, UpdateKind.FILLED, UpdateKind.COMPLETED]
    assert paper.matcher.open_orders() == []


def test_the_queue_ahead_shrinks_with_its_level(paper: Recorded) -> None:
    paper.matcher.place("a-1", Side.BUY, "LIMIT", 1.0, 99.0, book=book())   # 4.0 ahead
    paper.matcher.on_market(book(bids=((99.5, 2.0), (99.0, 1.0))), [])      # cancels: at most 1.0 left ahead
    paper.matcher.on_market(book(bids=((99.5, 2.0), (99.0, 3.0))), [])      # newcomers join behind it
    paper.matcher.on_market(book(), [sold(99.0, 1.25)])
    assert [fill.amount for fill in paper.fills("a-1")] == [0.25]


def test_a_level_gone_within_the_shown_depth_leaves_nobody_ahead(paper: Recorded) -> None:
    paper.matcher.place("a-1", Side.BUY, "LIMIT", 1.0, 99.0, book=book())
    paper.matcher.on_market(book(bids=((99.5, 2.0), (98.5, 6.0))), [])
    paper.matcher.on_market(book(), [sold(99.0, 0.25)])
    assert [fill.amount for fill in paper.fills("a-1")] == [0.25]


def test_an_order_beyond_the_shown_depth_queues_behind_its_level_once_it_shows(paper: Recorded) -> None:
    paper.matcher.place("a-1", Side.BUY, "LIMIT", 1.0, 97.0, book=book())   # below the last shown bid
    paper.matcher.on_market(book(), [sold(97.0, 50.0)])
    assert paper.fills("a-1") == []                                          # its queue is not known
    paper.matcher.on_market(book(bids=((98.0, 1.0), (97.0, 2.0))), [])
    paper.matcher.on_market(book(), [sold(97.0, 2.5, at=3.0)])
    assert [fill.amount for fill in paper.fills("a-1")] == [0.5]


def test_trades_the_arrival_book_already_showed_do_not_count(paper: Recorded) -> None:
    paper.matcher.place("a-1", Side.BUY, "LIMIT", 1.0, 99.7, book=book(at=2.0))
    paper.matcher.on_market(book(), [sold(99.5, 1.0, at=1.5), sold(99.5, 1.0, at=2.0)])
    assert paper.fills("a-1") == []
    paper.matcher.on_market(book(), [sold(99.5, 1.0, at=2.001)])
    assert [fill.amount for fill in paper.fills("a-1")] == [1.0]


def test_a_limit_maker_order_that_would_take_is_rejected(paper: Recorded) -> None:
    placed = paper.matcher.place("a-1", Side.BUY, "LIMIT_MAKER", 1.0, 100.5, book=book())
    assert not placed.accepted and placed.reason == WOULD_TAKE and placed.fills == ()
    assert paper.kinds("a-1") == [UpdateKind.REJECTED] and paper.updates[-1].reason == WOULD_TAKE
    assert paper.matcher.get_order("a-1") is None and paper.matcher.open_orders() == []
    resting = paper.matcher.place("a-2", Side.SELL, "LIMIT_MAKER", 1.0, 100.5, book=book())
    assert resting.accepted and resting.order.status is OrderStatus.OPEN


def test_malformed_orders_are_rejected_and_ids_are_not_reused(paper: Recorded) -> None:
    assert paper.matcher.place("a-1", Side.BUY, "LIMIT", 0.0, 99.0, book=book()).reason.startswith("amount")
    assert paper.matcher.place("a-2", Side.BUY, "LIMIT", 1.0, None, book=book()).reason.startswith("price")
    assert paper.kinds("a-1") == [UpdateKind.REJECTED] and paper.kinds("a-2") == [UpdateKind.REJECTED]
    paper.matcher.place("a-3", Side.BUY, "LIMIT", 1.0, 99.0, book=book())
    with pytest.raises(ValueError, match="duplicate"):
        paper.matcher.place("a-3", Side.BUY, "LIMIT", 1.0, 99.0, book=book())


def test_cancel(paper: Recorded) -> None:
    paper.matcher.place("a-1", Side.BUY, "LIMIT", 1.0, 99.0, book=book())
    assert paper.matcher.cancel("a-1")
    assert paper.kinds("a-1") == [UpdateKind.CREATED, UpdateKind.CANCELLED]
    assert paper.matcher.get_order("a-1").status is OrderStatus.CANCELLED and paper.matcher.open_orders() == []
    assert not paper.matcher.cancel("a-1") and not paper.matcher.cancel("nobody-1")
    paper.matcher.on_market(book(asks=((98.0, 5.0),)), [sold(98.0, 5.0)])   # crosses and trades through it
    assert paper.fills("a-1") == []


def test_updates_carry_copies_and_fill_ids_are_unique(paper: Recorded) -> None:
    paper.matcher.place("a-1", Side.BUY, "MARKET", 2.0, book=book())
    paper.matcher.place("a-2", Side.SELL, "LIMIT", 1.0, 100.5, book=book())
    paper.matcher.on_market(book(), [bought(101.0, 3.0)])
    fills = [update.fill for update in paper.updates if update.fill]
    assert len(fills) == 3 and len({fill.trade_id for fill in fills}) == 3
    first = paper.updates[0].order
    assert first.status is OrderStatus.OPEN and first.filled_amount == 0.0   # as it was when reported
