"""PaperVenue (hive_core/paper/venue.py) in process, over a stand-in for the live client: its answers to the order
manager's WS API requests, the live venue's order rules, and drain feeding the matcher before the strategies."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from hive_core.market.symbol_rules import SymbolRules
from hive_core.market.types import OrderBook, OrderStatus, OrderUpdate, Side, Trade, UpdateKind
from hive_core.orders.transport import OrderTransport
from hive_core.paper.venue import PaperVenue

PAIR = "BTC-USDT"
BOOK = OrderBook(PAIR, 1.0, ((99.5, 2.0), (99.0, 4.0)), ((100.5, 1.0), (101.0, 1.5)), 100.0)


class LiveClient:
    """What PaperVenue reads from a VenueClient, with a book set by hand and what the next drain hands out."""

    trading_pairs = [PAIR, "ETH-USDT"]

    def __init__(self) -> None:
        self.book: OrderBook | None = BOOK
        self.pending: list[tuple[OrderBook, list[Trade]]] = []

    def order_book(self, trading_pair: str) -> OrderBook:
        if self.book is None:
            raise LookupError(f"no order book of {trading_pair} yet")
        return self.book

    def mid_price(self, trading_pair: str) -> float:
        return self.order_book(trading_pair).mid_price

    def estimate_taker(self, trading_pair: str, side: Side, amount: float,
                       limit: float | None = None) -> tuple[float, float]:
        return amount, amount * 100.0

    def symbol_rules(self, trading_pair: str) -> SymbolRules | None:
        return SymbolRules("BTCUSDT", tick_size=Decimal("0.5"), step_size=Decimal("0.1"), min_notional=Decimal("10"))

    def drain(self, callback: Any) -> int:
        pending, self.pending = self.pending, []
        for book, trades in pending:
            callback(book, trades)
        return len(pending)


def ask(venue: PaperVenue, method: str, **params: Any) -> dict:
    answers: list[dict] = []
    venue.send(method, {"symbol": "BTCUSDT", **params}, answers.append)
    assert len(answers) == 1          # answered inside send
    return answers[0]


def limit(order_id: str, side: str, quantity: str, price: str, kind: str = "LIMIT") -> dict:
    params = {"side": side, "type": kind, "quantity": quantity, "price": price, "newClientOrderId": order_id}
    return params | ({"timeInForce": "GTC"} if kind == "LIMIT" else {})


def make() -> tuple[PaperVenue, LiveClient, list[OrderUpdate]]:
    client = LiveClient()
    venue = PaperVenue(client, maker_fee_rate=0.0, taker_fee_rate=0.001, now=lambda: 7.0)
    updates: list[OrderUpdate] = []
    venue.add_order_listener(updates.append)
    return venue, client, updates


def test_it_is_an_order_transport_with_the_live_clients_market_data() -> None:
    venue, client, _updates = make()
    assert isinstance(venue, OrderTransport)
    assert venue.trading_pairs == [PAIR, "ETH-USDT"] and venue.fee_rate == 0.001
    assert venue.order_book(PAIR) is BOOK and venue.mid_price(PAIR) == 100.0
    assert venue.estimate_taker(PAIR, Side.BUY, 2.0) == (2.0, 200.0)
    assert venue.symbol_rules(PAIR) == client.symbol_rules(PAIR)


def test_order_place_answers_like_binance_with_the_taker_fills() -> None:
    venue, _client, updates = make()
    answer = ask(venue, "order.place", **limit("s-1", "BUY", "1.5", "101.0"))
    assert answer["status"] == 200
    result = answer["result"]
    assert (result["clientOrderId"], result["status"], result["executedQty"]) == ("s-1", "FILLED", "1.50000000")
    assert [(fill["price"], fill["qty"], fill["commissionAsset"]) for fill in result["fills"]] == [
        ("100.50000000", "1.00000000", "USDT"), ("101.00000000", "0.50000000", "USDT")]
    assert [update.kind for update in updates] == [UpdateKind.CREATED, UpdateKind.FILLED, UpdateKind.FILLED,
                                                   UpdateKind.COMPLETED]
    market = ask(venue, "order.place", side="SELL", type="MARKET", quantity="10", newClientOrderId="s-2")
    assert market["result"]["status"] == "EXPIRED" and market["result"]["executedQty"] == "6.00000000"


def test_refusals_carry_binances_codes() -> None:
    venue, client, updates = make()
    codes = {
        "symbol": ask(venue, "order.place", **limit("s-1", "BUY", "1", "99") | {"symbol": "XYZUSDT"}),
        "type": ask(venue, "order.place", **limit("s-1", "BUY", "1", "99", kind="STOP_LOSS")),
        "tif": ask(venue, "order.place", **limit("s-1", "BUY", "1", "99") | {"timeInForce": "IOC"}),
        "price": ask(venue, "order.place", **limit("s-1", "BUY", "1", "")),
        "tick": ask(venue, "order.place", **limit("s-1", "BUY", "1", "99.2")),
        "notional": ask(venue, "order.place", **limit("s-1", "BUY", "0.1", "99")),
        "maker": ask(venue, "order.place", **limit("s-1", "BUY", "1", "100.5", kind="LIMIT_MAKER")),
        "cancel": ask(venue, "order.cancel", origClientOrderId="s-9"),
        "status": ask(venue, "order.status", origClientOrderId="s-9"),
        "method": ask(venue, "order.amend", origClientOrderId="s-9"),
    }
    assert {name: answer["error"]["code"] for name, answer in codes.items()} == {
        "symbol": -1121, "type": -1116, "tif": -1115, "price": -1102, "tick": -1013, "notional": -1013,
        "maker": -2010, "cancel": -2011, "status": -2013, "method": -1100}
    assert all(answer["status"] == 400 for answer in codes.values())
    assert codes["tick"]["error"]["msg"] == "Filter failure: PRICE_FILTER"
    assert codes["maker"]["error"]["msg"] == "Order would immediately match and take."
    assert [update.kind for update in updates] == [UpdateKind.REJECTED]     # only the post-only one got that far
    assert ask(venue, "order.place", **limit("s-1", "BUY", "1", "99"))["status"] == 200
    assert ask(venue, "order.place", **limit("s-1", "BUY", "1", "99"))["error"] == {
        "code": -2010, "msg": "Duplicate order sent."}
    client.book = None
    assert "no order book" in ask(venue, "order.place", **limit("s-2", "BUY", "1", "99"))["error"]["msg"]


def test_cancel_and_status_of_a_resting_order() -> None:
    venue, _client, updates = make()
    assert ask(venue, "order.place", **limit("s-1", "BUY", "1", "99"))["result"]["status"] == "NEW"
    status = ask(venue, "order.status", origClientOrderId="s-1")["result"]
    assert (status["status"], status["price"], status["origQty"], status["isWorking"]) == (
        "NEW", "99.00000000", "1.00000000", True)
    assert [order.client_order_id for order in venue.open_orders()] == ["s-1"]
    cancelled = ask(venue, "order.cancel", origClientOrderId="s-1")
    assert cancelled["status"] == 200 and cancelled["result"]["status"] == "CANCELED"
    assert cancelled["result"]["origClientOrderId"] == "s-1"
    assert ask(venue, "order.cancel", origClientOrderId="s-1")["error"]["code"] == -2011
    assert venue.get_order("s-1").status is OrderStatus.CANCELLED and venue.open_orders(PAIR) == []
    assert updates[-1].kind is UpdateKind.CANCELLED


def test_drain_matches_the_paper_orders_before_the_callback_sees_the_book() -> None:
    venue, client, updates = make()
    ask(venue, "order.place", **limit("s-1", "BUY", "1", "99.5"))
    seen: list[tuple[list[UpdateKind], int]] = []
    client.pending = [(BOOK, [Trade(PAIR, 99.0, 0.4, Side.SELL, 2.0, "t1")])]
    assert venue.drain(lambda book, trades: seen.append(([u.kind for u in updates], len(trades)))) == 1
    assert seen == [([UpdateKind.CREATED, UpdateKind.FILLED], 1)]
    assert venue.get_order("s-1").filled_amount == 0.4
