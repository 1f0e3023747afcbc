"""Test doubles for the order manager: a recording transport and a virtual-time manager factory."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hive_core.config import RateLimitRule, StrategyQuota
from hive_core.orders import requests
from hive_core.orders.manager import BackoffPolicy, OrderManager
from hive_core.orders.timers import VirtualTimers


class Sent:
    __slots__ = ("method", "params", "on_reply", "at")

    def __init__(self, method: str, params: dict, on_reply: Callable, at: float) -> None:
        self.method, self.params, self.on_reply, self.at = method, params, on_reply, at

    @property
    def client_order_id(self) -> str:
        return self.params.get("newClientOrderId") or self.params.get("origClientOrderId")


class RecordingTransport:
    """Records every frame; answers 200 at once (`auto=True`) or when the test calls `answer()`."""

    def __init__(self, clock: Callable[[], float], auto: bool = True) -> None:
        self.clock = clock
        self.auto = auto
        self.sent: list[Sent] = []
        self.unanswered: list[Sent] = []
        self.script: list[dict] = []         # answers to give, in order, before falling back to 200
        self.fail_next = 0

    def send(self, method: str, params: dict, on_reply: Callable[[Any], None]) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("socket not writable")
        frame = Sent(method, dict(params), on_reply, self.clock())
        self.sent.append(frame)
        if self.auto:
            on_reply(self.script.pop(0) if self.script else {"status": 200, "result": {}})
        else:
            self.unanswered.append(frame)

    def answer(self, reply: dict | None = None) -> Sent:
        frame = self.unanswered.pop(0)
        frame.on_reply(reply or {"status": 200, "result": {}})
        return frame

    def ids(self) -> list[str]:
        return [frame.client_order_id for frame in self.sent]

    def owners(self) -> list[str]:
        return [requests.owner_of(frame.client_order_id) for frame in self.sent]


def rules(*items: tuple[str, float, int]) -> list[RateLimitRule]:
    return [RateLimitRule(limit_type=kind, interval_s=interval, limit=limit) for kind, interval, limit in items]


BINANCE = rules(("REQUEST_WEIGHT", 60, 6000), ("ORDERS", 10, 100), ("ORDERS", 86_400, 200_000))
BIG_QUOTA = StrategyQuota(orders_per_second=1000, weight_per_minute=60_000)


def quota(orders_per_second: float = 5.0, weight_per_minute: float = 1200.0, weight: float = 1.0) -> StrategyQuota:
    return StrategyQuota(orders_per_second=orders_per_second, weight_per_minute=weight_per_minute, weight=weight)


def virtual_manager(limits=BINANCE, *, auto: bool = True, start: float = 1000.0, **options) -> tuple:
    """(manager, transport, timers) in virtual time starting at `start`."""
    timers = VirtualTimers(start)
    transport = RecordingTransport(timers.now, auto=auto)
    options.setdefault("backoff", BackoffPolicy())
    options.setdefault("headroom", 0.0)          # exact figures; the default keeps 5% below the limits
    manager = OrderManager(transport, limits, clock=timers.now, timers=timers, wall_clock=timers.now, **options)
    return manager, transport, timers


class Counter:
    """Client order ids per strategy: next_id('a') -> 'a-000001', ..."""

    def __init__(self) -> None:
        self.seq: dict[str, int] = {}

    def next_id(self, strategy_id: str) -> str:
        self.seq[strategy_id] = self.seq.get(strategy_id, 0) + 1
        return f"{strategy_id}-{self.seq[strategy_id]:06d}"

    def limit(self, strategy_id: str, price: float = 100.0, amount: float = 0.01, **kw) -> requests.OrderRequest:
        return requests.place_limit(self.next_id(strategy_id), "BTC-USDT", "BUY", amount, price, **kw)


def jain(values: list[float]) -> float:
    total = sum(values)
    squares = sum(value * value for value in values)
    return total * total / (len(values) * squares) if squares else 1.0
