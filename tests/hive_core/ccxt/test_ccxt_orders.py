"""The ccxt venue's order path in process: ccxt order reports turned into OrderUpdates (each fill once), ccxt's
exceptions turned into replies, an order whose placing got no answer asked for, and credentials kept out of text."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from ccxt.base import errors

from hive_core.market.ccxt_orders import CcxtOrders, refusal
from hive_core.market.ccxt_tracker import OrderTracker
from hive_core.market.redact import RedactingLogger, Redactor
from hive_core.market.types import OrderType, Side, UpdateKind
from hive_core.orders.transport import VenueReply, parse_reply
from tests.polling import wait_until_async

NO_SECRETS = Redactor(())


def report(status: str, filled: float, cost: float, client_id: str = "s-000001", **more: Any) -> dict:
    return {"id": "7", "clientOrderId": client_id, "status": status, "amount": 2.0, "filled": filled, "cost": cost,
            "timestamp": 1_700_000_000_000, **more}


def tracker_with_order(order_type: OrderType = OrderType.LIMIT) -> OrderTracker:
    tracker = OrderTracker(0.001, now=lambda: 1_700_000_000.0)
    tracker.track("s-000001", "BTC-USDT", Side.BUY, order_type, 2.0, 100.0)
    return tracker


def test_fills_are_counted_by_the_cumulative_amount_whatever_reports_them_and_in_whatever_order():
    tracker = tracker_with_order()
    reports = [report("open", 0.0, 0.0), report("open", 0.5, 50.0), report("open", 0.5, 50.0),  # twice
               report("open", 0.0, 0.0),                                                       # stale
               report("open", 1.5, 149.0), report("closed", 2.0, 198.0), report("closed", 2.0, 198.0)]
    updates = [update for one in reports for update in tracker.apply(one)]
    assert [u.kind for u in updates] == [UpdateKind.CREATED, UpdateKind.FILLED, UpdateKind.FILLED, UpdateKind.FILLED,
                                         UpdateKind.COMPLETED]
    fills = [u.fill for u in updates if u.fill is not None]
    assert [f.amount for f in fills] == [0.5, 1.0, 0.5]
    assert [f.price for f in fills] == [100.0, 99.0, 98.0]
    assert all(f.is_maker for f in fills)  # it rested, open and unfilled, before each
    assert fills[0].fee_quote == pytest.approx(0.05)
    order = tracker.get("s-000001")
    assert order.status.value == "filled" and order.filled_quote == pytest.approx(198.0)
    assert tracker.open_orders() == []
    assert tracker.apply(report("canceled", 2.0, 198.0)) == []  # finished: no more changes


def test_a_taker_fill_at_once_then_the_end_of_an_order_in_each_of_ccxt_s_states():
    tracker = tracker_with_order(OrderType.MARKET)
    updates = tracker.apply(report("expired", 1.0, 101.0, trades=[{"id": "t9", "takerOrMaker": "taker"}]))
    assert [u.kind for u in updates] == [UpdateKind.CREATED, UpdateKind.FILLED, UpdateKind.CANCELLED]
    assert updates[1].fill.trade_id == "t9" and not updates[1].fill.is_maker
    assert updates[2].reason == "expired"

    for status, kinds in [("rejected", [UpdateKind.REJECTED]),
                          ("canceled", [UpdateKind.CREATED, UpdateKind.CANCELLED]),
                          ("closed", [UpdateKind.CREATED, UpdateKind.CANCELLED])]:  # closed with nothing filled
        tracker = tracker_with_order()
        assert [u.kind for u in tracker.apply(report(status, 0.0, 0.0))] == kinds, status


def test_reports_of_orders_not_placed_here_and_refused_orders_are_ignored():
    tracker = tracker_with_order()
    assert tracker.apply(report("open", 1.0, 100.0, client_id="other-000001")) == []
    tracker.forget("s-000001")
    assert tracker.get("s-000001") is None and tracker.apply(report("open", 0.0, 0.0)) == []
    tracker = tracker_with_order()
    tracker.apply(report("open", 0.0, 0.0))
    tracker.forget("s-000001")                               # reported already: kept
    assert tracker.get("s-000001") is not None and tracker.exchange_ids == {"s-000001": "7"}
    assert tracker.lost("s-000001", "gone") == []            # the venue reported it: not lost


@pytest.mark.parametrize(("error", "status", "code", "words"), [
    (errors.AuthenticationError('binance {"code":-1022,"msg":"Signature for this request is not valid."}'), 401,
     -1022, "the venue refused the API key or its signature"),
    (errors.AuthenticationError("binance requires \"secret\" credential"), 401, -2015, "the venue refused the API key"),
    (errors.RateLimitExceeded("binance 429 Too Many Requests"), 429, -1003, "rate limited by the venue"),
    (errors.DDoSProtection("binance 418"), 429, -1003, "rate limited by the venue"),
    (errors.InvalidNonce('binance {"code":-1021,"msg":"outside of the recvWindow"}'), 400, -1021, "the venue refused"),
    (errors.RequestTimeout("binance POST http://venue/api/v3/order"), 503, -1001, "no answer from the venue"),
    (errors.ExchangeNotAvailable("binance GET"), 503, -1001, "no answer from the venue"),
    (errors.InsufficientFunds("binance Account has insufficient balance"), 400, -2010, "insufficient funds"),
    (errors.OrderNotFound('binance {"code":-2011,"msg":"Unknown order sent."}'), 400, -2011, "unknown order"),
    (errors.InvalidOrder("binance amount must be greater than 0.001"), 400, -2010, "invalid order"),
    (errors.BadRequest('binance {"code":-1013,"msg":"Filter failure: NOTIONAL"}'), 400, -1013, "the venue refused"),
    (ValueError("a bug"), 500, -1000, "ValueError"),
])
def test_ccxt_s_exceptions_become_binance_shaped_refusals(error, status, code, words):
    got_status, got_code, msg = refusal(error, NO_SECRETS)
    assert (got_status, got_code) == (status, code)
    assert msg.startswith(words) and str(error) in msg


class FakeExchange:
    """create_order times out; fetch_order answers with what `known` holds (OrderNotFound when None)."""

    def __init__(self, known: dict | None) -> None:
        self.known = known
        self.asked = 0

    async def create_order(self, *args: Any) -> dict:
        raise errors.RequestTimeout("binance POST http://venue/api/v3/order")

    async def fetch_order(self, order_id: str, symbol: str, params: dict) -> dict:
        self.asked += 1
        if self.known is None:
            raise errors.OrderNotFound('binance {"code":-2013,"msg":"Order does not exist."}')
        assert params == {"clientOrderId": "s-000001"} and symbol == "BTC/USDT"
        return self.known


@pytest.mark.parametrize(("known", "kinds"), [
    (report("closed", 2.0, 200.0, clientOrderId=None), [UpdateKind.CREATED, UpdateKind.FILLED, UpdateKind.COMPLETED]),
    (None, [UpdateKind.REJECTED]),
])
def test_an_order_whose_placing_got_no_answer_is_an_unknown_503_and_then_asked_for(known, kinds):
    async def scenario() -> tuple[Any, list, FakeExchange]:
        exchange = FakeExchange(known)
        orders = CcxtOrders(exchange, {"BTC-USDT": "BTC/USDT"}, fee_rate=0.001, now=lambda: 1.0, redact=NO_SECRETS)
        updates: list = []
        orders.add_listener(updates.append)
        replies: list = []
        orders.send("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                    "price": "100.00000000", "quantity": "2.00000000",
                                    "newClientOrderId": "s-000001"}, replies.append)
        await wait_until_async(lambda: replies and exchange.asked and updates, 5, message="the reply and the asking")
        await orders.close()
        return replies, updates, exchange

    replies, updates, exchange = asyncio.run(scenario())
    reply = parse_reply(replies[0])
    assert isinstance(replies[0], VenueReply) and reply.status == 503 and reply.unknown
    assert exchange.asked == 1 and [u.kind for u in updates] == kinds


def test_an_unknown_method_and_a_pair_not_traded_are_refused_without_asking_the_venue():
    async def scenario() -> list:
        orders = CcxtOrders(FakeExchange(None), {"BTC-USDT": "BTC/USDT"}, fee_rate=0.0, now=lambda: 1.0,
                            redact=NO_SECRETS)
        replies: list = []
        orders.send("order.amend", {"symbol": "BTCUSDT"}, replies.append)
        orders.send("order.cancel", {"symbol": "DOGEUSDT", "origClientOrderId": "s-000001"}, replies.append)
        await wait_until_async(lambda: len(replies) == 2, 5, message="both replies")
        return replies

    codes = sorted(answer["error"]["code"] for answer in asyncio.run(scenario()))
    assert codes == [-1121, -1100]


def test_credentials_are_redacted_from_text_and_from_what_a_library_logs(caplog):
    redact = Redactor(["my key", "s3cr3t/+="])
    assert redact("GET /x?k=my%20key&s=s3cr3t%2F%2B%3D and s3cr3t/+= then my key") == \
        "GET /x?k=***&s=*** and *** then ***"
    assert "s3cr3t" not in repr(redact)
    caplog.set_level(logging.DEBUG)
    library = RedactingLogger(logging.getLogger("hive.test.library"), redact)
    library.debug("%s %s, Request: %s %s", "GET", "http://venue", {"X-MBX-APIKEY": "my key"}, None)
    library.warning("plain %d%% done", 50)
    assert [record.getMessage() for record in caplog.records] == [
        "GET http://venue, Request: {'X-MBX-APIKEY': '***'} None", "plain 50% done"]
