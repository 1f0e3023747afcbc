"""OrderHandle through the manager: paper reservations, local cancels of queued orders, refusals."""
from __future__ import annotations

import logging

import pytest

from hive_core.config import SimVenueConfig
from hive_core.market.types import OrderStatus, Side, UpdateKind
from hive_core.orders.handle import OrderHandle
from hive_core.orders.manager import OrderManager
from hive_core.orders.paper import PaperAccount
from hive_core.orders.requests import InvalidOrder
from hive_core.orders.timers import VirtualTimers
from hive_core.orders.transport import InProcessTransport
from hive_core.sim.exchange import SimExchange
from tests.hive_core.orders.fakes import BINANCE, RecordingTransport, quota

LOG = logging.getLogger("test.orders")


def venue(timers: VirtualTimers) -> SimExchange:
    return SimExchange(SimVenueConfig(seed=3, volatility=0.0), timers.now)


def limit_free_manager(exchange: SimExchange) -> OrderManager:
    """An in-process manager with no venue limits: every request goes at once."""
    return OrderManager(InProcessTransport(exchange), name="sim")


def wired_handle(manager: OrderManager, exchange: SimExchange, updates: list, strategy_id: str = "s1") -> OrderHandle:
    """A handle whose venue updates come back to it, as the runtime routes them."""
    account = PaperAccount("BTC-USDT", {"USDT": 1000.0, "BTC": 1.0})
    holder: dict = {}

    def emit(update):
        updates.append(update)
        holder["handle"].apply_update(update)

    handle = OrderHandle(strategy_id, "BTC-USDT", exchange, account, emit, exchange._now, LOG, manager=manager)
    holder["handle"] = handle
    exchange.add_order_listener(lambda update: update.order.client_order_id.startswith(strategy_id + "-")
                                and emit(update))
    return handle


def test_limit_free_in_process_path_places_fills_and_books_like_before():
    timers = VirtualTimers(100.0)
    exchange = venue(timers)
    manager = limit_free_manager(exchange)
    updates: list = []
    handle = wired_handle(manager, exchange, updates)
    order_id = handle.place_market(Side.BUY, 0.1)
    assert order_id == "s1-000001"
    assert [update.kind for update in updates][:2] == [UpdateKind.CREATED, UpdateKind.FILLED]
    assert handle._account.position == pytest.approx(0.1)
    assert handle._account.reserved("USDT") == 0.0
    limit_id = handle.place_limit(Side.BUY, 0.1, 50.0)
    assert [order.client_order_id for order in handle.open_orders()] == [limit_id]
    assert handle._account.reserved("USDT") == pytest.approx(0.1 * 50 * 1.001)
    assert handle.cancel(limit_id) and handle.open_orders() == [] and handle._account.reserved("USDT") == 0.0
    assert handle.manager is manager


def test_queued_order_cancelled_before_sending_releases_funds_and_reports_cancelled():
    timers = VirtualTimers(100.0)
    exchange = venue(timers)
    manager = OrderManager(InProcessTransport(exchange), BINANCE, clock=timers.now, timers=timers)
    manager.add_strategy("s1", quota=quota(orders_per_second=1))
    updates: list = []
    handle = wired_handle(manager, exchange, updates)
    first = handle.place_limit(Side.BUY, 0.1, 50.0)
    second = handle.place_limit(Side.BUY, 0.1, 49.0)            # held by the 1/s quota
    assert [order.client_order_id for order in handle.queued_orders()] == [second]
    assert handle._account.reserved("USDT") == pytest.approx(0.1 * (50 + 49) * 1.001)
    assert handle.cancel(second)
    assert updates[-1].kind is UpdateKind.CANCELLED and updates[-1].order.client_order_id == second
    assert handle._account.reserved("USDT") == pytest.approx(0.1 * 50 * 1.001)
    timers.advance(5.0)
    assert exchange.get_order(second) is None                    # it never reached the venue
    assert [order.client_order_id for order in handle.open_orders()] == [first]


def test_cancel_all_withdraws_queued_orders_and_cancels_open_ones():
    timers = VirtualTimers(100.0)
    exchange = venue(timers)
    manager = OrderManager(InProcessTransport(exchange), BINANCE, clock=timers.now, timers=timers)
    manager.add_strategy("s1", quota=quota(orders_per_second=2))
    updates: list = []
    handle = wired_handle(manager, exchange, updates)
    for price in (50.0, 49.0, 48.0, 47.0):
        handle.place_limit(Side.BUY, 0.01, price)
    assert len(handle.open_orders()) == 2 and len(handle.queued_orders()) == 2
    assert handle.cancel_all() == 4
    timers.advance(5.0)
    assert handle.open_orders() == [] and handle.queued_orders() == []
    assert handle._account.reserved("USDT") == 0.0
    assert manager.metrics()["strategies"]["s1"]["sent"] == 4           # 2 places + 2 cancels


def test_venue_refusal_releases_the_reservation_and_reports_rejected():
    timers = VirtualTimers(100.0)
    exchange = venue(timers)
    transport = RecordingTransport(timers.now)
    transport.script = [{"status": 400, "error": {"code": -2010, "msg": "Account has insufficient balance."}}]
    manager = OrderManager(transport, BINANCE, clock=timers.now, timers=timers)
    manager.add_strategy("s1", quota=quota())
    updates: list = []
    handle = wired_handle(manager, exchange, updates)
    order_id = handle.place_limit(Side.BUY, 0.1, 50.0)
    [update] = updates
    assert update.kind is UpdateKind.REJECTED and update.order.client_order_id == order_id
    assert update.order.status is OrderStatus.REJECTED and "insufficient balance" in update.reason
    assert handle._account.reserved("USDT") == 0.0 and handle.queued_orders() == []


def test_malformed_order_raises_and_uses_no_order_id():
    timers = VirtualTimers(100.0)
    exchange = venue(timers)
    updates: list = []
    handle = wired_handle(limit_free_manager(exchange), exchange, updates)
    with pytest.raises(InvalidOrder, match="amount"):
        handle.place_limit(Side.BUY, -1.0, 50.0)
    with pytest.raises(InvalidOrder, match="price"):
        handle.place_limit(Side.SELL, 1.0, 0.0)
    with pytest.raises(InvalidOrder, match="side"):
        handle.place_market("sideways", 1.0)
    assert updates == [] and handle._account.reserved("USDT") == 0.0
    assert handle.place_market(Side.BUY, 0.01) == "s1-000001"


def test_unaffordable_order_is_still_rejected_locally_without_reaching_the_manager():
    timers = VirtualTimers(100.0)
    exchange = venue(timers)
    updates: list = []
    handle = wired_handle(limit_free_manager(exchange), exchange, updates)
    order_id = handle.place_limit(Side.BUY, 1000.0, 100.0)
    [update] = updates
    assert update.kind is UpdateKind.REJECTED and "USDT" in update.reason
    assert handle.manager.metrics()["strategies"]["s1"]["submitted"] == 0 and order_id == "s1-000001"
