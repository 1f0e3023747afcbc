"""Integration: paper fills follow the live book. A VenueClient reads the simulated venue's public streams over
real sockets (no user data, no signer); a PaperVenue in front of it matches paper orders against that book; the
venue is stepped by hand and never sees a paper order."""
from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from hive_core.market.types import OrderBook, OrderStatus, OrderUpdate, Side, Trade
from hive_core.market.venue_client import VenueClient
from hive_core.market.wire import fmt
from hive_core.paper.venue import PaperVenue
from hive_core.sim.server import SimServer
from tests.hive_core.market.conftest import run, started_server
from tests.polling import wait_until_async

pytestmark = pytest.mark.integration

PAIR, SYMBOL = "BTC-USDT", "BTCUSDT"
MAKER, TAKER = 0.0002, 0.001
MAX_STEPS = 500


class Clock:
    """The venue's clock, moved by hand with each step (so trades and books carry distinct times)."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Step:
    """Steps the venue by hand and drains the paper venue until everything the step published has arrived."""

    def __init__(self, server: SimServer, clock: Clock, client: VenueClient, venue: PaperVenue) -> None:
        self.server, self.clock, self.client, self.venue = server, clock, client, venue
        self.published: list[Trade] = []
        self.received: list[Trade] = []
        server.exchange.add_market_listener(lambda _book, trades: self.published.extend(trades))

    def _collect(self, _book: OrderBook, trades: list[Trade]) -> None:
        self.received.extend(trades)

    async def __call__(self) -> tuple[OrderBook, list[Trade]]:
        """One venue step; (the client's book after it, the public trades the client got from it)."""
        self.clock.now += 0.05
        before = len(self.received)
        self.server.step()
        update_id = self.server.depth_snapshot(SYMBOL, 1)["lastUpdateId"]

        def arrived() -> bool:
            if not self.client.synced(PAIR):        # (a drain before that would drop the trades received)
                return False
            self.venue.drain(self._collect)
            return len(self.received) == len(self.published) and self.client.order_book(PAIR).sequence == update_id

        await wait_until_async(arrived, 10, message="the step's book and trades at the client")
        return self.client.order_book(PAIR), self.received[before:]


def place(venue: PaperVenue, order_id: str, quantity: float, price: float) -> dict:
    answers: list[dict] = []
    venue.send("order.place", {"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                               "price": fmt(price), "quantity": fmt(quantity), "newClientOrderId": order_id},
               answers.append)
    return answers[0]


def test_paper_fills_follow_the_live_book() -> None:
    async def scenario() -> None:
        clock = Clock()
        server = await started_server(trading_pairs=[PAIR], initial_prices={PAIR: 100.0}, seed=11, autostep=False,
                                      time_source=clock)
        client = VenueClient([PAIR], fee_rate=TAKER, now=time.time, url=server.url)
        venue = PaperVenue(client, maker_fee_rate=MAKER, taker_fee_rate=TAKER, now=time.time)
        updates: list[OrderUpdate] = []
        venue.add_order_listener(updates.append)
        step = Step(server, clock, client, venue)
        starting = asyncio.create_task(client.start(timeout=10))
        try:
            await wait_until_async(lambda: len(server.subscriptions()) == 2, 10, message="depth and trades subscribed")
            await step()                     # a book syncs on its first depth update after the snapshot
            assert await starting
            rules = client.symbol_rules(PAIR)
            assert rules is not None and rules.tick_size > 0
            live = client.order_book(PAIR)

            # A marketable buy takes the live asks, level by level, with the taker fee.
            (ask0, size0), (ask1, size1) = live.asks[:2]
            quantity = float(fmt(size0 + size1 / 2))
            taken = place(venue, "p-1", quantity, ask1)
            assert taken["status"] == 200 and taken["result"]["status"] == "FILLED"
            fills = [update.fill for update in updates if update.fill and update.fill.order_id == "p-1"]
            assert [(fill.price, fill.is_maker, fill.fee_rate) for fill in fills] == [(ask0, False, TAKER),
                                                                                      (ask1, False, TAKER)]
            assert [fill.amount for fill in fills] == pytest.approx([size0, quantity - size0])
            assert [fill.fee_quote for fill in fills] == pytest.approx(
                [ask0 * size0 * TAKER, ask1 * (quantity - size0) * TAKER])

            # A buy one tick below the best bid rests until the live market trades at or through its price: a trade
            # at its price fills it only beyond the queue ahead of it, a trade through its price (or the asks falling
            # to it) fills it at once (the sim's public trades are larger than the order).
            price = float(Decimal(str(live.best_bid)) - rules.tick_size)
            assert place(venue, "p-2", 1.0, price)["result"]["status"] == "NEW"
            steps, filled = 0, 0.0
            while filled < 1.0:
                steps += 1
                assert steps <= MAX_STEPS, "the market never reached the resting buy"
                book, trades = await step()
                sold = [trade.price for trade in trades if trade.side is Side.SELL]
                through = book.best_ask <= price or any(sold_at < price for sold_at in sold)
                now_filled = venue.get_order("p-2").filled_amount
                if now_filled > filled:
                    assert through or price in sold, (steps, book, trades)
                if through:
                    assert now_filled == 1.0, (steps, book, trades)
                filled = now_filled
            assert steps > 1                   # it waited for the market: the first steps did not reach it
            assert venue.get_order("p-2").status is OrderStatus.FILLED
            fills = [update.fill for update in updates if update.fill and update.fill.order_id == "p-2"]
            assert {(fill.price, fill.is_maker, fill.fee_rate) for fill in fills} == {(price, True, MAKER)}
            assert sum(fill.amount for fill in fills) == pytest.approx(1.0)
            assert sum(fill.fee_quote for fill in fills) == pytest.approx(price * MAKER)

            # The venue never saw a paper order.
            assert server.exchange.get_order("p-1") is None and server.exchange.get_order("p-2") is None
            assert server.api.order_ids == {} and server.limits.stats["orders"] == 0
        finally:
            starting.cancel()
            await client.stop()
            await server.stop()
    run(scenario(), timeout=60)
