"""Shipped example: a moving-average crossover trend follower."""
from __future__ import annotations

from collections import deque
from typing import cast

from pydantic import Field, model_validator

from hive_core.market.types import Side, UpdateKind
from hive_core.strategy import Strategy


class Momentum(Strategy):
    """Follows the trend of the mid price with a moving-average crossover, using market orders.

    Every tick it samples the mid price. When the fast average is above the slow one it holds a
    long position worth order_amount_quote, when below a short one of the same size (selling
    inventory the account holds); it trades with a market order each time the averages cross.

    It also listens to external events (e.g. a TradingView alert published to
    P/external/event/...): an event whose data has "action" (or "side") "buy" or "sell" trades
    order_amount_quote that way at once, when follow_signals is on.
    """

    class Params(Strategy.Params):
        fast_window: int = Field(4, ge=1, description="ticks in the fast moving average")
        slow_window: int = Field(12, ge=2, description="ticks in the slow moving average")
        order_amount_quote: float = Field(30.0, gt=0, description="size of the position to hold, in the quote asset")
        threshold_bps: float = Field(0.0, ge=0, description="the averages must differ by this much to count as crossed")
        follow_signals: bool = Field(True, description="trade on external events carrying action buy/sell")

        @model_validator(mode="after")
        def _fast_below_slow(self):
            if self.fast_window >= self.slow_window:
                raise ValueError("fast_window must be smaller than slow_window")
            return self

    @property
    def params(self) -> Momentum.Params:
        """ctx.params, typed (read anew each time: the config command may replace it)."""
        return cast(Momentum.Params, self.ctx.params)

    def on_start(self) -> None:
        self._prices: deque[float] = deque(maxlen=self.params.slow_window)
        self._signal = 0

    def on_tick(self, now: float) -> None:
        p = self.params
        self._prices.append(self.ctx.market.mid_price())
        if len(self._prices) < p.slow_window:
            return
        prices = list(self._prices)
        fast = sum(prices[-p.fast_window:]) / p.fast_window
        slow = sum(prices) / len(prices)
        gap_bps = (fast - slow) / slow * 1e4
        signal = 1 if gap_bps > p.threshold_bps else -1 if gap_bps < -p.threshold_bps else 0
        if signal == 0 or signal == self._signal:
            return
        self._signal = signal
        mid = prices[-1]
        target = signal * p.order_amount_quote / mid
        delta = target - self.ctx.account.position
        self.ctx.logger.info("fast MA %s slow MA (%.2f bps): target position %.6g %s",
                             "above" if signal > 0 else "below", gap_bps, target, self.ctx.base)
        if abs(delta) * mid >= p.order_amount_quote * 0.01:
            self.ctx.orders.place_market(Side.BUY if delta > 0 else Side.SELL, abs(delta))

    def on_order_update(self, update) -> None:
        if update.kind is UpdateKind.FILLED and update.fill is not None:
            fill = update.fill
            self.ctx.logger.info("%s filled %.6g %s @ %.6g (pnl %.4f %s)", fill.side.value, fill.amount,
                                 self.ctx.base, fill.price, self.ctx.account.global_pnl, self.ctx.quote)
        elif update.kind is UpdateKind.REJECTED:
            self._signal = 0  # try again on the next crossing check

    def on_event(self, event) -> None:
        action = str(event.data.get("action") or event.data.get("side") or "").lower()
        p = self.params
        if not p.follow_signals or action not in ("buy", "sell"):
            return
        amount = p.order_amount_quote / self.ctx.market.mid_price()
        self.ctx.logger.info("external signal %s: %s %.6g %s", event.name, action, amount, self.ctx.base)
        self.ctx.orders.place_market(Side.BUY if action == "buy" else Side.SELL, amount)
