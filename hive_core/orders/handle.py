"""A strategy's order handle: places and cancels its orders through the venue's order manager.

Client order ids are `<strategy id>-<6-digit sequence>` (e.g. `mm1-000042`), so every venue
event can be attributed to its strategy by the prefix alone. Orders are checked against the
strategy's paper account first (funds are reserved while an order is queued or open); an order
the account cannot afford is rejected locally and reported like a venue rejection. A malformed
order (amount <= 0, limit price <= 0, unknown side) raises `InvalidOrder` at the call. Where the venue publishes
its order rules (market/symbol_rules.py), a price is moved onto its tick (a buy down, a sell up) and an amount
down onto its step first, and an order that still breaks one (below the minimum quantity or notional, say) raises
`InvalidOrder` naming the rule and the figures, instead of going out to be rejected.

Calls are synchronous and return the client order id at once; the request goes to the
`OrderManager` of the venue (sent at once when the strategy's quota and the venue's limits allow,
else queued). What happens to the order later arrives as `OrderUpdate`s (Strategy.on_order_update):
from the venue (created, filled, cancelled), or made here when the venue refused the request or
when a queued order was cancelled before it was sent. A request written but never answered (the connection
dropped, or the answer timed out) is no refusal: the order stays pending until the venue's client has asked the
venue about it (venue_client.py, reconciliation) and reports what it found.

The handle is given the venue's manager (the runtime's configured one, see hive_core/orders/README.md)
and reads the `Venue` for fees, taker estimates and the orders it reports on.
"""
from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from itertools import islice

from hive_core.market.types import Fill, Order, OrderStatus, OrderType, OrderUpdate, Side, UpdateKind
from hive_core.market.venue import Venue
from hive_core.orders import requests
from hive_core.orders.manager import OrderManager
from hive_core.orders.paper import InsufficientBalance, PaperAccount
from hive_core.orders.requests import OrderRequest
from hive_core.orders.transport import VenueReply

MAX_FILL_HISTORY = 2000


class OrderHandle:
    """The order API a strategy sees through `ctx.orders`."""

    def __init__(self, strategy_id: str, trading_pair: str, venue: Venue, account: PaperAccount,
                 emit: Callable[[OrderUpdate], None], now: Callable[[], float], logger: logging.Logger, *,
                 manager: OrderManager) -> None:
        self.strategy_id = strategy_id
        self.trading_pair = trading_pair
        self._venue = venue
        self._account = account
        self._emit = emit
        self._now = now
        self._logger = logger
        self.manager = manager
        if strategy_id not in self.manager.strategies:
            self.manager.add_strategy(strategy_id)
        self._seq = 0
        self._open: dict[str, Order] = {}          # confirmed by the venue, not done
        self._pending: dict[str, Order] = {}       # reserved and submitted, not yet confirmed
        self._cancelling: set[str] = set()
        self._report_dicts: dict[str, tuple] = {}  # open order id -> (order, filled, status, report dict)
        self.fills: deque[Fill] = deque(maxlen=MAX_FILL_HISTORY)
        self.rejections = 0

    # ---- placing ------------------------------------------------------------------------------

    def next_order_id(self) -> str:
        self._seq += 1
        return f"{self.strategy_id}-{self._seq:06d}"

    def buy(self, amount: float, price: float | None = None) -> str:
        """A limit buy at `price`, or a market buy when no price is given."""
        return self.place_market(Side.BUY, amount) if price is None else self.place_limit(Side.BUY, amount, price)

    def sell(self, amount: float, price: float | None = None) -> str:
        return self.place_market(Side.SELL, amount) if price is None else self.place_limit(Side.SELL, amount, price)

    def place_limit(self, side: Side | str, amount: float, price: float) -> str:
        order_id = self._peek_id()
        amount, ruled = self._by_the_rules(requests.side_of(side), amount, price)
        price = price if ruled is None else ruled
        request = requests.place_limit(order_id, self.trading_pair, side, amount, price, self._on_reply)
        side, amount, price = Side(request.params["side"]), float(amount), float(price)
        self.next_order_id()
        if side is Side.BUY:
            need, asset = price * amount * (1 + self._venue.fee_rate), self._account.quote
        else:
            need, asset = amount, self._account.base
        if self._reserve(order_id, side, OrderType.LIMIT, amount, price, asset, need):
            self._submit(request, side, OrderType.LIMIT, amount, price)
        return order_id

    def _by_the_rules(self, side: Side | None, amount: float, price: float | None) -> tuple[float, float | None]:
        """(amount, price) on the venue's step and tick; InvalidOrder when the order still breaks a rule (amounts
        and prices that are no numbers above 0 are left to requests to refuse)."""
        rules = self._venue.symbol_rules(self.trading_pair)
        if rules is None or not _positive(amount) or (price is not None and not _positive(price)):
            return amount, price
        amount = rules.quantity(amount)
        if price is not None and side is not None:
            price = rules.price(price, side)
        breach = rules.problem(price, amount)
        if breach is not None:
            raise requests.InvalidOrder(f"{breach.words} ({breach.filter}): the order was not placed")
        return amount, price

    def place_market(self, side: Side | str, amount: float) -> str:
        order_id = self._peek_id()
        amount, _price = self._by_the_rules(None, amount, None)
        request = requests.place_market(order_id, self.trading_pair, side, amount, self._on_reply)
        side, amount = Side(request.params["side"]), float(amount)
        self.next_order_id()
        if side is Side.BUY:
            _fillable, quote_value = self._venue.estimate_taker(self.trading_pair, side, amount)
            need, asset = quote_value * (1 + self._venue.fee_rate), self._account.quote
        else:
            need, asset = amount, self._account.base
        if self._reserve(order_id, side, OrderType.MARKET, amount, None, asset, need):
            self._submit(request, side, OrderType.MARKET, amount, None)
        return order_id

    def _peek_id(self) -> str:
        return f"{self.strategy_id}-{self._seq + 1:06d}"

    def _submit(self, request: OrderRequest, side: Side, order_type: OrderType, amount: float,
                price: float | None) -> None:
        now = self._now()
        order_id = request.client_order_id
        self._pending[order_id] = Order(order_id, self.trading_pair, side, order_type, amount, price, now,
                                        updated_at=now)
        try:
            self.manager.submit(self.strategy_id, request)
        except Exception:
            self._pending.pop(order_id, None)
            self._account.release(order_id)
            raise

    def _reserve(self, order_id: str, side: Side, order_type: OrderType, amount: float, price: float | None,
                 asset: str, need: float) -> bool:
        try:
            if not need >= 0:
                raise InsufficientBalance(f"invalid order size {amount!r} at price {price!r}")
            self._account.reserve(order_id, asset, need)
        except InsufficientBalance as problem:
            self._reject_locally(Order(order_id, self.trading_pair, side, order_type, amount, price, self._now()),
                                 str(problem))
            return False
        return True

    def _reject_locally(self, order: Order, reason: str) -> None:
        self.rejections += 1
        if self.rejections <= 3 or self.rejections % 100 == 0:
            self._logger.warning("order %s %s %.8g rejected: %s (rejection #%d)", order.client_order_id,
                                 order.side.value, order.amount, reason, self.rejections)
        self._finish_locally(order, OrderStatus.REJECTED, UpdateKind.REJECTED, reason)

    def _finish_locally(self, order: Order, status: OrderStatus, kind: UpdateKind, reason: str) -> None:
        now = self._now()
        order.status = status
        order.updated_at = now
        self._pending.pop(order.client_order_id, None)
        self._account.release(order.client_order_id)
        self._emit(OrderUpdate(kind, order.copy(), now, reason=reason))

    def _on_reply(self, request: OrderRequest, reply: VenueReply) -> None:
        """The venue's answer to one of our requests; only refusals matter here (updates carry the rest)."""
        order_id = request.client_order_id
        if request.kind == requests.CANCEL:
            self._cancelling.discard(order_id)
            if not reply.ok and order_id in self._open:
                self._logger.info("cancel of %s refused: %s", order_id, reply.msg)
            return
        if reply.ok:
            return
        if reply.unknown:  # it may be on the venue: the venue client asks it and reports what it has (reconcile)
            self._logger.info("order %s: no answer from the venue (%s); its outcome is asked for", order_id, reply.msg)
            return
        order = self._pending.get(order_id)
        if order is not None:                          # not already reported by the venue
            code = f" ({reply.code})" if reply.code is not None else ""
            self._reject_locally(order, f"venue refused the order{code}: {reply.msg or reply.status}")

    # ---- cancelling and querying --------------------------------------------------------------

    def cancel(self, order_id: str) -> bool:
        """Cancel an order: withdrawn at once while still queued, else a cancel request; False when unknown."""
        request = self.manager.withdraw(order_id)
        if request is not None:
            order = self._pending.get(order_id)
            if order is not None:
                self._finish_locally(order, OrderStatus.CANCELLED, UpdateKind.CANCELLED,
                                     "cancelled before it was sent to the venue")
            return True
        if order_id not in self._open and order_id not in self._pending:
            return False
        if order_id in self._cancelling:
            return True
        self._cancelling.add(order_id)
        self.manager.submit(self.strategy_id, requests.cancel(order_id, self.trading_pair, self._on_reply))
        return True

    def cancel_all(self) -> int:
        """Cancel every queued and open order of this strategy; returns how many were cancelled or asked to be."""
        ids = [*self._pending, *(order_id for order_id in self._open if order_id not in self._pending)]
        return sum(1 for order_id in ids if self.cancel(order_id))

    def open_orders(self) -> list[Order]:
        return [order.copy() for order in self._open.values()]

    def open_orders_count(self) -> int:
        return len(self._open)

    def open_order_dicts(self, limit: int) -> list[dict]:
        """The first `limit` open orders as report dicts (no copies; a dict is reused while its order is unchanged)."""
        cache = self._report_dicts
        dicts = []
        for order in islice(self._open.values(), limit):
            cached = cache.get(order.client_order_id)
            if cached is None or cached[0] is not order or cached[1] != order.filled_amount \
                    or cached[2] is not order.status:
                # Side/OrderType/OrderStatus are str enums: they compare and encode to JSON as their values.
                cached = cache[order.client_order_id] = (order, order.filled_amount, order.status, {
                    "order_id": order.client_order_id, "trading_pair": order.trading_pair, "side": order.side,
                    "order_type": order.order_type, "amount": order.amount, "price": order.price,
                    "filled_amount": order.filled_amount, "status": order.status, "created_at": order.created_at})
            dicts.append(cached[3])
        return dicts

    def queued_orders(self) -> list[Order]:
        """Orders submitted but not yet confirmed by the venue (queued or in flight)."""
        return [order.copy() for order in self._pending.values()]

    def get_order(self, order_id: str) -> Order | None:
        if not order_id.startswith(self.strategy_id + "-"):
            return None
        order = self._venue.get_order(order_id)
        if order is None and order_id in self._pending:
            order = self._pending[order_id].copy()
        return order

    # ---- venue updates ------------------------------------------------------------------------

    def apply_update(self, update: OrderUpdate) -> None:
        """Book what the venue reported: open-order list, reservations, fills on the paper account."""
        order = update.order
        order_id = order.client_order_id
        self._pending.pop(order_id, None)
        if update.kind is UpdateKind.CREATED:
            self._open[order_id] = order
        elif update.kind is UpdateKind.FILLED and update.fill is not None:
            fill = update.fill
            remaining_before = order.remaining + fill.amount
            held = self._account.reservation(order_id)
            if held and remaining_before > 0:
                self._account.release(order_id, held * min(fill.amount / remaining_before, 1.0))
            self._account.apply_fill(fill)
            self.fills.append(fill)
            if order_id in self._open:
                self._open[order_id] = order
        if order.status.is_done:
            self._open.pop(order_id, None)
            self._report_dicts.pop(order_id, None)
            self._cancelling.discard(order_id)
            self._account.release(order_id)


def _positive(value: float) -> bool:
    try:
        return float(value) > 0
    except (TypeError, ValueError):
        return False
