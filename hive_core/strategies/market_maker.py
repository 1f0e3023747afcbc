"""Shipped example: a simple two-sided market maker."""
from __future__ import annotations

from typing import cast

from pydantic import Field

from hive_core.market.types import Side, UpdateKind
from hive_core.strategy import Strategy


class MarketMaker(Strategy):
    """Quotes a bid and an ask around the mid price and refreshes them every few ticks.

    Each refresh cancels the previous quotes and places a buy at mid x (1 - spread) and a sell at
    mid x (1 + spread). With inventory skew on, both quotes shift against the position (a long
    position lowers both prices, so the ask fills sooner and the bid later), and the side that
    would grow the position past max_position_quote is not quoted.
    """

    class Params(Strategy.Params):
        spread_bps: float = Field(10.0, gt=0, le=5000,
                                  description="distance of each quote from the mid price, in basis points")
        order_amount_quote: float = Field(20.0, gt=0, description="size of each quote, in the quote asset")
        refresh_ticks: int = Field(1, ge=1, description="re-quote every this many ticks")
        inventory_skew: bool = Field(True, description="shift the quotes against the position")
        max_position_quote: float = Field(
            200.0, gt=0, description="stop quoting the side that would grow the position past this value")

    @property
    def params(self) -> MarketMaker.Params:
        """ctx.params, typed (read anew each time: the config command may replace it)."""
        return cast(MarketMaker.Params, self.ctx.params)

    def on_start(self) -> None:
        self._ticks = 0
        p = self.params
        self.ctx.logger.info("quoting %s at +/-%.1f bps, %.2f %s per side", self.ctx.trading_pair,
                             p.spread_bps, p.order_amount_quote, self.ctx.quote)

    def on_tick(self, now: float) -> None:
        self._ticks += 1
        p = self.params
        if (self._ticks - 1) % p.refresh_ticks:
            return
        self.ctx.orders.cancel_all()
        mid = self.ctx.market.mid_price()
        exposure = self.ctx.account.position * mid / p.max_position_quote   # -1 .. 1 at the limits
        skew = max(-1.0, min(1.0, exposure)) if p.inventory_skew else 0.0
        spread = p.spread_bps / 1e4
        amount = p.order_amount_quote / mid
        bid = mid * (1 - spread - skew * spread)
        ask = mid * (1 + spread - skew * spread)
        if not (p.inventory_skew and exposure >= 1.0):
            self.ctx.orders.place_limit(Side.BUY, amount, bid)
        if not (p.inventory_skew and exposure <= -1.0):
            self.ctx.orders.place_limit(Side.SELL, amount, ask)

    def on_order_update(self, update) -> None:
        if update.kind is UpdateKind.FILLED and update.fill is not None:
            fill = update.fill
            self.ctx.logger.info("%s filled %.6g %s @ %.6g (position %.6g, pnl %.4f %s)", fill.side.value,
                                 fill.amount, self.ctx.base, fill.price, self.ctx.account.position,
                                 self.ctx.account.global_pnl, self.ctx.quote)

    def on_stop(self) -> None:
        self.ctx.logger.info("stopping; realized pnl %.4f %s", self.ctx.account.realized_pnl, self.ctx.quote)
