"""The Strategy API: one abstract class with a few hooks, and a declared interface version.

A strategy file defines one concrete subclass of `Strategy`. Its docstring is its description;
its nested `Params` (a pydantic model, frozen and strict about unknown keys) declares the
parameters the instance config may set, with types, defaults and descriptions; the dashboard
builds its forms from that schema. Every hook runs on the runtime's event loop and must return
quickly: no blocking I/O, no sleeping. Exceptions are caught, logged and counted by the runtime
(see hive_core.scheduler); they never stop the other strategies.

    class Params(Strategy.Params):
        spread_bps: float = Field(10.0, gt=0, description="distance of each quote from mid")

    def on_tick(self, now: float) -> None:
        mid = self.ctx.market.mid_price()
        self.ctx.orders.buy(0.01, price=mid * (1 - self.ctx.params.spread_bps / 1e4))
"""
from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from hive_core.context import StrategyContext
    from hive_core.market.types import ExternalEvent, OrderBook, OrderUpdate, Trade

INTERFACE_VERSION = 1


class Strategy(ABC):
    """Base class of every strategy (this text is replaced by the subclass's own docstring)."""

    interface_version: ClassVar[int] = INTERFACE_VERSION

    class Params(BaseModel):
        """No parameters."""

        model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, ctx: StrategyContext) -> None:
        self.ctx = ctx

    @classmethod
    def description(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "").strip()

    @classmethod
    def params_schema(cls) -> dict[str, Any]:
        return cls.Params.model_json_schema()

    # ---- hooks: override what you need ---------------------------------------------------------

    def on_start(self) -> None:  # noqa: B027 (an optional hook: empty on purpose)
        """Called once when the strategy starts (and again after a restart)."""

    @abstractmethod
    def on_tick(self, now: float) -> None:
        """Called every `interval` seconds of the instance clock; `now` is seconds since the epoch."""

    def on_order_book(self, book: OrderBook) -> None:  # noqa: B027 (an optional hook: empty on purpose)
        """A new snapshot of the strategy's pair's book (only delivered when overridden)."""

    def on_trade(self, trade: Trade) -> None:  # noqa: B027 (an optional hook: empty on purpose)
        """A public trade on the strategy's pair (only delivered when overridden)."""

    def on_order_update(self, update: OrderUpdate) -> None:  # noqa: B027 (an optional hook: empty on purpose)
        """Something happened to one of this strategy's orders: created, filled, cancelled, rejected."""

    def on_event(self, event: ExternalEvent) -> None:  # noqa: B027 (an optional hook: empty on purpose)
        """An external event (P/external/event/...), e.g. a TradingView alert. For listeners by name,
        queues drained on the tick, raw topics and publishing, see `ctx.events` (hive_core.context.EventsAPI)."""

    def on_stop(self) -> None:  # noqa: B027 (an optional hook: empty on purpose)
        """Called when the strategy stops; its open orders are cancelled right after."""


def overrides(strategy: Strategy, hook: str) -> bool:
    """Whether the strategy's class overrides a hook (so the runtime can skip no-op deliveries)."""
    return getattr(type(strategy), hook) is not getattr(Strategy, hook)
