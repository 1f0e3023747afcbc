"""CcxtVenue with ccxt's binance pointed at the simulated venue (its REST face and its WebSocket paths): markets,
symbol rules, books and trades, orders through the order transport, order updates, a refused key."""
from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from hive_core.market.types import OrderType, Side, UpdateKind
from hive_core.market.venue_api import NotConnected
from hive_core.orders import requests
from hive_core.orders.manager import OrderManager
from hive_core.orders.transport import OrderTransport, parse_reply
from hive_core.sim.rest import SimRestServer
from hive_core.sim.server import SimServer
from tests.conftest import REPO_ROOT
from tests.hive_core.market.conftest import run
from tests.hive_core.orders.fakes import BIG_QUOTA
from tests.polling import wait_until_async

from .conftest import API_KEY, binance_on_sim, sim_venue

pytestmark = pytest.mark.integration
RULES = {"lot_step": 0.001, "min_notional": 1.0}


class Replies:
    """on_reply callbacks that keep each answer under the request's client order id."""

    def __init__(self) -> None:
        self.answers: dict[str, list] = {}

    def to(self, client_id: str):
        return self.answers.setdefault(client_id, []).append

    async def of(self, client_id: str, timeout: float = 10.0):
        await wait_until_async(lambda: self.answers.get(client_id), timeout, message=f"the answer to {client_id}")
        return parse_reply(self.answers[client_id][0])


def limit(client_id: str, side: str, price: float, quantity: float = 0.1) -> dict:
    return {"symbol": "BTCUSDT", "side": side, "type": "LIMIT", "timeInForce": "GTC", "price": f"{price:.2f}",
            "quantity": f"{quantity:.3f}", "newClientOrderId": client_id}


async def started(watch: bool = True, **config):
    server, rest = await sim_venue(**{**RULES, **config})
    venue = binance_on_sim(server, rest)
    if not watch:  # as an exchange without WebSocket watchers: everything polled
        venue.exchange.has.update(watchOrderBook=False, watchTrades=False, watchOrders=False)
    updates: list = []
    venue.add_order_listener(updates.append)
    assert await venue.start(timeout=10)
    if watch:  # the user data stream is subscribed before orders go (their reports come on it)
        await wait_until_async(lambda: len(server._user_data) == 1, 10, message="the user data stream subscribed")
    return server, rest, venue, updates


async def stepping(server: SimServer, predicate, timeout: float, message: str) -> None:
    """Step the market by hand until `predicate` holds (bounded)."""
    def step_and_check():
        server.step()
        return predicate()
    await wait_until_async(step_and_check, timeout, interval=0.02, message=message)


async def stopped(server: SimServer, rest: SimRestServer, venue) -> None:
    await venue.stop()
    await rest.stop()
    await server.stop()


def test_markets_rules_books_and_trades_come_through_the_watchers():
    async def scenario():
        server, rest, venue, _updates = await started()
        try:
            for pair in ("BTC-USDT", "ETH-USDT"):
                rules = venue.symbol_rules(pair)
                assert rules == server.api.rules[pair.replace("-", "")]  # the sim's exchangeInfo filters
            assert str(venue.symbol_rules("BTC-USDT").step_size) == "0.001"
            drained: dict[str, list] = {"BTC-USDT": [], "ETH-USDT": []}

            def both() -> bool:
                venue.drain(lambda book, trades: drained[book.trading_pair].append((book, trades)))
                return all(drained[pair] and any(trades for _book, trades in drained[pair]) for pair in drained)

            await wait_until_async(both, 10, message="books and trades of both pairs")
            book = drained["ETH-USDT"][-1][0]
            assert 0 < len(book.bids) <= venue.depth_levels and book.best_bid < book.best_ask
            assert venue.mid_price("ETH-USDT") == venue.order_book("ETH-USDT").mid_price
            trades = [trade for _book, batch in drained["BTC-USDT"] for trade in batch]
            assert len({trade.trade_id for trade in trades}) == len(trades)
            assert all(trade.trading_pair == "BTC-USDT" and trade.amount > 0 for trade in trades)
            subscribed = server.subscriptions()
            assert subscribed.get("btcusdt@depth@100ms") == 1 and subscribed.get("ethusdt@trade") == 1
            filled, quote = venue.estimate_taker("BTC-USDT", Side.BUY, 0.5)
            assert filled == pytest.approx(0.5) and quote > 0
        finally:
            await stopped(server, rest, venue)
    run(scenario(), timeout=60)


def test_without_watchers_books_and_trades_are_polled():
    async def scenario():
        server, rest, venue, _updates = await started(watch=False)
        try:
            got: list = []
            await wait_until_async(lambda: venue.drain(lambda book, trades: got.append(trades)) and any(got), 10,
                                   message="polled trades")
            trades = [trade for batch in got for trade in batch]
            assert len({trade.trade_id for trade in trades}) == len(trades)  # none twice across polls
            assert server.subscriptions() == {} and not server._user_data
        finally:
            await stopped(server, rest, venue)
    run(scenario(), timeout=60)


def test_a_limit_order_rests_on_the_venue_under_its_client_id_and_a_cancel_ends_it():
    async def scenario():
        server, rest, venue, updates = await started()
        replies = Replies()
        try:
            with pytest.raises(NotConnected):
                binance_on_sim(server, rest).send("order.place", limit("x-000001", "BUY", 90.0), replies.to("x"))
            price = venue.order_book("BTC-USDT").best_bid * 0.95  # far from the book: it rests
            venue.send("order.place", limit("mm-000001", "BUY", price), replies.to("place"))
            placed = await replies.of("place")
            assert placed.ok and placed.result["clientOrderId"] == "mm-000001" and placed.result["status"] == "NEW"
            resting = server.exchange.get_order("mm-000001")
            assert resting is not None and resting.price == pytest.approx(round(price, 2))
            assert [order.client_order_id for order in server.exchange.open_orders("BTC-USDT")] == ["mm-000001"]
            await wait_until_async(lambda: venue.get_order("mm-000001"), 5, message="the order known")
            assert [order.client_order_id for order in venue.open_orders("BTC-USDT")] == ["mm-000001"]

            venue.send("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "mm-000001"}, replies.to("status"))
            assert (await replies.of("status")).result["status"] == "NEW"
            venue.send("order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "mm-000001"}, replies.to("cancel"))
            cancelled = await replies.of("cancel")
            assert cancelled.ok and cancelled.result["origClientOrderId"] == "mm-000001"
            assert server.exchange.get_order("mm-000001").status.value == "cancelled"
            # both answers and the stream's NEW and CANCELED reports
            await wait_until_async(lambda: venue.orders.stats["reports"] >= 4, 5, message="the stream's reports")
            kinds = [u.kind for u in updates if u.order.client_order_id == "mm-000001"]
            assert kinds == [UpdateKind.CREATED, UpdateKind.CANCELLED]
            assert venue.open_orders() == []

            venue.send("order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "mm-000001"}, replies.to("again"))
            again = await replies.of("again")
            assert again.status == 400 and again.code == -2011 and again.msg.startswith("unknown order")
        finally:
            await stopped(server, rest, venue)
    run(scenario(), timeout=60)


def test_a_marketable_order_fills_and_its_fill_is_reported_once():
    async def scenario():
        server, rest, venue, updates = await started()
        replies = Replies()
        try:
            venue.send("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010",
                                       "newClientOrderId": "tk-000001"}, replies.to("market"))
            answer = await replies.of("market")
            assert answer.ok and answer.result["status"] == "FILLED"
            # the answer and the user data stream (NEW, TRADE) both report it: wait for all three
            await wait_until_async(lambda: venue.orders.stats["reports"] >= 3, 5, message="the stream's reports")
            on_venue = server.exchange.get_order("tk-000001")
            mine = [u for u in updates if u.order.client_order_id == "tk-000001"]
            assert [u.kind for u in mine] == [UpdateKind.CREATED, UpdateKind.FILLED, UpdateKind.COMPLETED]
            fill = mine[1].fill
            assert fill.amount == pytest.approx(on_venue.filled_amount) == pytest.approx(0.01)
            assert fill.price * fill.amount == pytest.approx(on_venue.filled_quote)
            assert fill.order_type is OrderType.MARKET and not fill.is_maker
            assert venue.get_order("tk-000001").status.value == "filled"
        finally:
            await stopped(server, rest, venue)
    run(scenario(), timeout=60)


@pytest.mark.parametrize("watch", [True, False], ids=["watch_orders", "polled"])
def test_a_resting_order_s_later_fills_are_reported_once_as_maker_fills(watch):
    async def scenario():
        server, rest, venue, updates = await started(watch, autostep=False, trades_per_step=3.0)
        replies = Replies()
        try:
            # at the best bid of a market standing still: it rests, and sell-aggressor public trades fill it
            best_bid = server.exchange.order_book("BTC-USDT").best_bid
            venue.send("order.place", limit("mk-000001", "BUY", best_bid, 5.0), replies.to("place"))
            assert (await replies.of("place")).result["status"] == "NEW"
            await stepping(server, lambda: any(u.kind is UpdateKind.FILLED for u in updates), 20,
                           "a fill of the resting order")
            venue.send("order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "mk-000001"}, replies.to("cancel"))
            await replies.of("cancel")
            await wait_until_async(lambda: venue.get_order("mk-000001").status.is_done, 5, message="its end")
            on_venue = server.exchange.get_order("mk-000001")
            fills = [u.fill for u in updates if u.kind is UpdateKind.FILLED]
            assert sum(fill.amount for fill in fills) == pytest.approx(on_venue.filled_amount)
            assert sum(fill.amount * fill.price for fill in fills) == pytest.approx(on_venue.filled_quote)
            assert all(fill.is_maker and fill.price == pytest.approx(on_venue.price) for fill in fills)
        finally:
            await stopped(server, rest, venue)
    run(scenario(), timeout=60)


def test_the_order_manager_sends_through_the_venue_as_its_transport():
    async def scenario():
        server, rest, venue, updates = await started()
        try:
            assert isinstance(venue, OrderTransport)
            manager = OrderManager(venue, server.config.rate_limits, name="ccxt")
            manager.add_strategy("mm", quota=BIG_QUOTA)
            answers: list = []

            def keep(request, reply) -> None:
                answers.append((request.kind, reply))

            manager.submit("mm", requests.place_limit("mm-000001", "BTC-USDT", "SELL", 0.2, 150.0, keep))
            manager.submit("mm", requests.place_market("mm-000002", "BTC-USDT", "BUY", 0.2, keep))
            await wait_until_async(lambda: len(answers) == 2, 10, message="both answers")
            manager.submit("mm", requests.cancel("mm-000001", "BTC-USDT", keep))
            await wait_until_async(lambda: len(answers) == 3, 10, message="the cancel's answer")
            assert [(kind, reply.status) for kind, reply in answers] == [("place", 200)] * 2 + [("cancel", 200)]
            assert manager.acked == 3 and manager.rejected == 0
            await wait_until_async(lambda: venue.get_order("mm-000001").status.is_done, 5, message="its end")
            assert {u.order.client_order_id: u.kind for u in updates if u.order.status.is_done} == {
                "mm-000001": UpdateKind.CANCELLED, "mm-000002": UpdateKind.COMPLETED}
        finally:
            await stopped(server, rest, venue)
    run(scenario(), timeout=60)


def test_an_order_against_the_rules_is_refused_with_a_clear_reply_and_forgotten():
    async def scenario():
        server, rest, venue, updates = await started()
        replies = Replies()
        try:
            venue.send("order.place", limit("r-000001", "BUY", 90.0, quantity=0.005), replies.to("small"))
            small = await replies.of("small")  # worth 0.45, below the notional minimum of 1
            assert small.status == 400 and small.msg.startswith("the venue refused") and "NOTIONAL" in small.msg
            venue.send("order.place", {**limit("r-000002", "BUY", 90.0), "symbol": "NOPEUSDT"}, replies.to("symbol"))
            assert (await replies.of("symbol")).code == -1121
            assert venue.get_order("r-000001") is None and updates == []
        finally:
            await stopped(server, rest, venue)
    run(scenario(), timeout=60)


def test_a_refused_secret_is_a_clear_401_and_no_log_line_quotes_the_credentials(caplog):
    caplog.set_level(logging.DEBUG)  # ccxt logs every request's headers at DEBUG

    async def scenario():
        server, rest = await sim_venue(**RULES)
        secret = "wrong-secret-4b1d7e"
        venue = binance_on_sim(server, rest, secret=secret)
        replies = Replies()
        try:
            assert await venue.start(timeout=10)  # markets and market data are public
            venue.send("order.place", limit("k-000001", "BUY", 90.0), replies.to("place"))
            refused = await replies.of("place")
            assert refused.status == 401 and refused.code == -1022
            assert refused.msg.startswith("the venue refused the API key or its signature")
            assert "Signature for this request is not valid." in refused.msg
            await wait_until_async(lambda: venue.stats["errors"], 10, message="the user data stream refused too")
            assert secret not in repr(venue) and API_KEY not in repr(venue)
            return secret
        finally:
            await stopped(server, rest, venue)

    secret = run(scenario(), timeout=60)
    lines = [record.getMessage() for record in caplog.records]
    assert any("failed" in line and "-1022" in line for line in lines)  # the stream's refusal, logged
    assert [line for line in lines if secret in line] == []
    ccxt_lines = [record.getMessage() for record in caplog.records if record.name.startswith("hive.venue.ccxt")]
    assert any("X-MBX-APIKEY" in line for line in ccxt_lines)  # ccxt's own request log, through the redactor
    assert [line for line in ccxt_lines if API_KEY in line] == []


def test_hive_core_without_a_ccxt_venue_imports_neither_ccxt_nor_aiohttp():
    code = ("import sys, hive_core.runtime, hive_core.cli, hive_core.sim.server, hive_core.orders.manager; "
            "print(sorted(m for m in ('ccxt', 'aiohttp') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
