"""Paper trading accounts: one per strategy, so each strategy's PnL is its own.

Accounting rules (average-cost method, everything in the quote asset):
- `position` is the base amount bought minus sold since the start; it may go negative (selling
  inventory the account started with counts as a short against the starting holdings).
- Adding to a position moves `average_cost` to the size-weighted mean of the fills.
- Reducing it realizes `closed * (price - average_cost)` (sign flipped for shorts); a fill that
  goes through zero closes the old position and opens the rest at the fill price.
- Fees are paid in quote and are deducted from realized PnL when paid.
- Unrealized PnL marks the open position to the mid: `position * (mid - average_cost)`.
So realized + unrealized always equals the change in the account's value at mid (quote
balance + base balance * mid) since the start.

Open orders reserve funds (quote for buys, base for sells) so a strategy cannot spend the same
balance twice; `available()` is the balance minus reservations.
"""
from __future__ import annotations

from collections.abc import Mapping

from hive_core.market.types import Fill, Side, split_pair

EPSILON = 1e-12


class InsufficientBalance(ValueError):
    """An order needs more of an asset than the account has available."""


class PaperAccount:
    """Balances, reservations, position, average cost and PnL of one strategy on one pair."""

    def __init__(self, trading_pair: str, balances: Mapping[str, float]) -> None:
        self.trading_pair = trading_pair
        self.base, self.quote = split_pair(trading_pair)
        self.balances: dict[str, float] = {asset: float(amount) for asset, amount in balances.items()}
        self.balances.setdefault(self.base, 0.0)
        self.balances.setdefault(self.quote, 0.0)
        self.starting_balances = dict(self.balances)
        self._reserved: dict[str, tuple[str, float]] = {}   # order id -> (asset, amount)
        self.limits: dict[str, float] = {}   # asset -> most of it orders may use (balance/limit command)
        self.position = 0.0
        self.average_cost = 0.0
        self.realized_pnl = 0.0
        self.fees_paid = 0.0
        self.volume_quote = 0.0
        self.fill_count = 0

    # ---- reservations -------------------------------------------------------------------------

    def reserved(self, asset: str) -> float:
        return sum(amount for held, amount in self._reserved.values() if held == asset)

    def available(self, asset: str) -> float:
        balance = self.balances.get(asset, 0.0)
        limit = self.limits.get(asset)
        if limit is not None:
            balance = min(balance, limit)
        return balance - self.reserved(asset)

    def reserve(self, order_id: str, asset: str, amount: float) -> None:
        """Hold `amount` of `asset` for an order, or raise InsufficientBalance."""
        free = self.available(asset)
        if amount > free + EPSILON:
            raise InsufficientBalance(f"needs {amount:.8g} {asset}, {free:.8g} available")
        self._reserved[order_id] = (asset, amount)

    def release(self, order_id: str, amount: float | None = None) -> None:
        """Give back all (or `amount`) of an order's reservation."""
        held = self._reserved.get(order_id)
        if held is None:
            return
        asset, reserved = held
        left = 0.0 if amount is None else reserved - amount
        if left <= EPSILON:
            del self._reserved[order_id]
        else:
            self._reserved[order_id] = (asset, left)

    def reservation(self, order_id: str) -> float:
        held = self._reserved.get(order_id)
        return held[1] if held else 0.0

    # ---- fills --------------------------------------------------------------------------------

    def apply_fill(self, fill: Fill) -> float:
        """Book a fill: balances, fees, position, average cost; returns the PnL it realized."""
        amount, price, fee = fill.amount, fill.price, fill.fee_quote
        signed = amount if fill.side is Side.BUY else -amount
        if fill.side is Side.BUY:
            self.balances[self.base] += amount
            self.balances[self.quote] -= price * amount + fee
        else:
            self.balances[self.base] -= amount
            self.balances[self.quote] += price * amount - fee
        realized = self._move_position(signed, price) - fee
        self.realized_pnl += realized
        self.fees_paid += fee
        self.volume_quote += price * amount
        self.fill_count += 1
        return realized

    def _move_position(self, signed: float, price: float) -> float:
        old = self.position
        new = old + signed
        if old == 0 or (old > 0) == (signed > 0):
            # Opening or adding: weighted average cost.
            self.average_cost = (abs(old) * self.average_cost + abs(signed) * price) / abs(new)
            self.position = new
            return 0.0
        closed = min(abs(signed), abs(old))
        direction = 1.0 if old > 0 else -1.0
        realized = closed * (price - self.average_cost) * direction
        if abs(new) <= EPSILON:
            self.position = 0.0
            self.average_cost = 0.0
        elif (new > 0) != (old > 0):
            self.position = new            # flipped: the rest opens at the fill price
            self.average_cost = price
        else:
            self.position = new            # reduced: the average cost of the rest is unchanged
        return realized

    # ---- figures ------------------------------------------------------------------------------

    def unrealized_pnl(self, mid_price: float) -> float:
        return self.position * (mid_price - self.average_cost) if self.position else 0.0

    def global_pnl(self, mid_price: float) -> float:
        return self.realized_pnl + self.unrealized_pnl(mid_price)

    def equity(self, mid_price: float) -> float:
        """Quote + base valued at mid (other assets are ignored)."""
        return self.balances[self.quote] + self.balances[self.base] * mid_price

    def snapshot(self, mid_price: float) -> dict:
        return {
            "balances": dict(self.balances),
            "available": {asset: self.available(asset) for asset in self.balances},
            "position": self.position,
            "average_cost": self.average_cost,
            "realized_pnl_quote": self.realized_pnl,
            "unrealized_pnl_quote": self.unrealized_pnl(mid_price),
            "global_pnl_quote": self.global_pnl(mid_price),
            "fees_quote": self.fees_paid,
            "volume_traded": self.volume_quote,
            "fills": self.fill_count,
        }
