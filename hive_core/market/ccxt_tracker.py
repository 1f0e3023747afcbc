"""The orders this process placed through a ccxt venue, kept from what ccxt reports of them.

ccxt reports an order as a unified order structure (`{"id", "clientOrderId", "status": open|closed|canceled|
expired|rejected, "amount", "filled", "cost", "timestamp", "lastTradeTimestamp", "lastUpdateTimestamp", "trades"}`)
wherever it comes from: `create_order`, `cancel_order`, `fetch_order`, `watch_orders`. Every such report is a
snapshot; `OrderTracker.apply` turns the difference between it and what is known into `OrderUpdate`s (the model is
hive_core/sim/exchange.py): CREATED the first time the order is seen, one FILLED for the quantity filled since the
last report (fills are counted by the cumulative `filled`, so an order reported by two sources, or twice, is
counted once), COMPLETED when that fill completes it, CANCELLED (expired: reason "expired") or REJECTED at its end.
Reports of orders it does not track (placed by another process on the same account) are ignored, and a finished
order changes no more.

A fill's price is the quote value filled since the last report over its quantity; its fee is the venue's
`fee_rate` of that value (what ccxt reports of fees differs by exchange and by source: per trade, per order,
in either asset). It is a maker fill when ccxt's trades say so, else when the order was a limit order already
resting (reported open and unfilled) before it.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from hive_core.market.types import Fill, Order, OrderStatus, OrderType, OrderUpdate, Side, UpdateKind

MAX_DONE_ORDERS_KEPT = 10_000
_ENDS = {"canceled": (OrderStatus.CANCELLED, UpdateKind.CANCELLED, None),
         "expired": (OrderStatus.CANCELLED, UpdateKind.CANCELLED, "expired"),
         "rejected": (OrderStatus.REJECTED, UpdateKind.REJECTED, "rejected by the venue")}


class OrderTracker:
    """The tracked orders by client order id; see the module docstring."""

    def __init__(self, fee_rate: float, now: Callable[[], float]) -> None:
        self.fee_rate = fee_rate
        self._now = now
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}      # reported by the venue and not done
        self._resting: set[str] = set()        # limit orders reported open with nothing filled
        self._done: deque[str] = deque()
        self.exchange_ids: dict[str, str] = {}  # client order id -> the venue's order id

    def track(self, client_id: str, pair: str, side: Side, order_type: OrderType, amount: float,
              price: float | None) -> None:
        """An order being placed: reports about it count from now on (the same one sent again: no change)."""
        known = self._orders.get(client_id)
        if known is not None and not known.status.is_done:
            return
        now = self._now()
        self._orders[client_id] = Order(client_id, pair, side, order_type, amount, price, now, updated_at=now)

    def forget(self, client_id: str) -> None:
        """An order the venue refused: dropped silently unless the venue reported it already."""
        order = self._orders.get(client_id)
        if order is not None and client_id not in self._open and not order.status.is_done:
            del self._orders[client_id]
            self.exchange_ids.pop(client_id, None)

    def lost(self, client_id: str, reason: str) -> list[OrderUpdate]:
        """An order the venue says it never got: REJECTED, unless it reported the order before."""
        order = self._orders.get(client_id)
        if order is None or client_id in self._open or order.status.is_done:
            return []
        return self._end(order, self._now(), OrderStatus.REJECTED, UpdateKind.REJECTED, reason)

    def get(self, client_id: str) -> Order | None:
        order = self._orders.get(client_id)
        return order.copy() if order is not None else None

    def open_orders(self, trading_pair: str | None = None) -> list[Order]:
        return [order.copy() for order in self._open.values()
                if trading_pair is None or order.trading_pair == trading_pair]

    def apply(self, report: Mapping[str, Any]) -> list[OrderUpdate]:
        """The updates one ccxt order report amounts to (see the module docstring)."""
        client_id = str(report.get("clientOrderId") or "")
        order = self._orders.get(client_id)
        if order is None or order.status.is_done:
            return []
        if report.get("id") is not None:
            self.exchange_ids[client_id] = str(report["id"])
        status = report.get("status")
        when = _seconds(report.get("lastUpdateTimestamp") or report.get("lastTradeTimestamp")
                        or report.get("timestamp")) or self._now()
        order.updated_at = when
        if status == "rejected" and client_id not in self._open:
            return self._end(order, when, *_ENDS["rejected"])
        updates = []
        if client_id not in self._open:
            self._open[client_id] = order
            updates.append(OrderUpdate(UpdateKind.CREATED, order.copy(), when))
        updates += self._fill(order, report, status, when)
        if order.status.is_done:
            return updates
        if status == "closed":  # its fills counted before (or it filled less than asked, by rounding): done
            if order.filled_amount > 0:
                return updates + self._end(order, when, OrderStatus.FILLED, UpdateKind.COMPLETED)
            return updates + self._end(order, when, OrderStatus.CANCELLED, UpdateKind.CANCELLED, "closed unfilled")
        if status in _ENDS:
            return updates + self._end(order, when, *_ENDS[status])
        if status == "open" and order.order_type is OrderType.LIMIT and order.filled_amount == 0:
            self._resting.add(client_id)
        return updates

    def _fill(self, order: Order, report: Mapping[str, Any], status: Any, when: float) -> list[OrderUpdate]:
        reported = _number(report.get("filled"))
        if reported is None or reported - order.filled_amount <= order.amount * 1e-9:
            return []
        filled = min(reported, order.amount)
        amount = filled - order.filled_amount
        cost = _number(report.get("cost"))
        if cost is not None and cost > order.filled_quote:
            quote = cost - order.filled_quote
        else:
            quote = amount * (_number(report.get("average")) or _number(report.get("price")) or order.price or 0.0)
        fee = quote * self.fee_rate
        order.filled_amount = filled
        order.filled_quote += quote
        order.fee_quote += fee
        done = status == "closed" or order.filled_amount >= order.amount * (1 - 1e-9)
        trades = report.get("trades") or []
        last = trades[-1] if trades and isinstance(trades[-1], Mapping) else {}
        taker_or_maker = last.get("takerOrMaker")
        maker = taker_or_maker == "maker" if taker_or_maker else order.client_order_id in self._resting
        trade_id = str(last.get("id") or f"{order.client_order_id}@{order.filled_amount:.12g}")
        fill = Fill(order.client_order_id, order.trading_pair, order.side, order.order_type, quote / amount, amount,
                    fee, self.fee_rate, when, maker, trade_id)
        order.status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
        updates = [OrderUpdate(UpdateKind.FILLED, order.copy(), when, fill)]
        if done:
            updates += self._end(order, when, OrderStatus.FILLED, UpdateKind.COMPLETED)
        return updates

    def _end(self, order: Order, when: float, status: OrderStatus, kind: UpdateKind,
             reason: str | None = None) -> list[OrderUpdate]:
        order.status = status
        order.updated_at = when
        self._finished(order.client_order_id)
        return [OrderUpdate(kind, order.copy(), when, reason=reason)]

    def _finished(self, client_id: str) -> None:
        """Keep the last MAX_DONE_ORDERS_KEPT finished orders for `get`; forget older ones."""
        self._open.pop(client_id, None)
        self._resting.discard(client_id)
        done = self._done
        done.append(client_id)
        while len(done) > MAX_DONE_ORDERS_KEPT:
            old = done.popleft()
            self._orders.pop(old, None)
            self.exchange_ids.pop(old, None)


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _seconds(milliseconds: Any) -> float:
    number = _number(milliseconds)
    return number / 1000.0 if number else 0.0
