"""A venue's rules for the orders of one symbol, read from its exchange info (Binance's symbol filters) and applied
before an order leaves, so that a strategy gets a clear local error instead of an order the venue rejects.

Binance's filters (spot API, "Filters"), each rule off when its value is 0:
- PRICE_FILTER: `price >= minPrice`, `price <= maxPrice`, `price % tickSize == 0`;
- LOT_SIZE: `quantity >= minQty`, `quantity <= maxQty`, `(quantity - minQty) % stepSize == 0`;
- NOTIONAL (MIN_NOTIONAL on older symbols): `price * quantity` at least `minNotional` (and at most `maxNotional`).
  For a market order the venue compares the average price over `avgPriceMins`; the price is not known here, so
  only limit orders are checked against it.

An order's price is moved onto the tick away from the book's other side (a buy down, a sell up: never more
aggressive than asked) and its quantity down onto the step (never more than asked); what still breaks a rule is
refused with the rule and the figures in words (`problem`). The simulated venue enforces the same rules
(-1013 "Filter failure: ...").
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any, NamedTuple

from hive_core.market.types import Side

ZERO = Decimal(0)


class Breach(NamedTuple):
    """A rule an order breaks: the filter's name and what is wrong, in words with the figures."""

    filter: str
    words: str


def _decimal(value: Any) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return ZERO
    return number if number.is_finite() and number > 0 else ZERO


def _onto(value: Decimal, step: Decimal, rounding: str, origin: Decimal = ZERO) -> Decimal:
    """`value` moved onto `origin + k * step` (unchanged without a step)."""
    if not step:
        return value
    return origin + ((value - origin) / step).to_integral_value(rounding) * step


def _words(value: Decimal) -> str:
    return format(value.normalize(), "f")


@dataclass(frozen=True)
class SymbolRules:
    symbol: str
    tick_size: Decimal = ZERO
    min_price: Decimal = ZERO
    max_price: Decimal = ZERO
    step_size: Decimal = ZERO
    min_qty: Decimal = ZERO
    max_qty: Decimal = ZERO
    min_notional: Decimal = ZERO
    max_notional: Decimal = ZERO

    @classmethod
    def of(cls, entry: dict[str, Any]) -> SymbolRules:
        """The rules of one `symbols` entry of exchange info (filters it does not know are left out)."""
        fields: dict[str, Decimal] = {}
        for rule in entry.get("filters") or ():
            kind = rule.get("filterType") if isinstance(rule, dict) else None
            if kind == "PRICE_FILTER":
                fields.update(tick_size=_decimal(rule.get("tickSize")), min_price=_decimal(rule.get("minPrice")),
                              max_price=_decimal(rule.get("maxPrice")))
            elif kind == "LOT_SIZE":
                fields.update(step_size=_decimal(rule.get("stepSize")), min_qty=_decimal(rule.get("minQty")),
                              max_qty=_decimal(rule.get("maxQty")))
            elif kind in ("NOTIONAL", "MIN_NOTIONAL"):
                fields.update(min_notional=_decimal(rule.get("minNotional")),
                              max_notional=_decimal(rule.get("maxNotional")))
        return cls(str(entry.get("symbol", "")), **fields)

    def price(self, price: float, side: Side) -> float:
        """`price` on the tick, away from the other side of the book."""
        exact = _decimal(price)
        return float(_onto(exact, self.tick_size, ROUND_FLOOR if side is Side.BUY else ROUND_CEILING))

    def quantity(self, quantity: float) -> float:
        """`quantity` down onto the step (counted from the minimum quantity, as Binance counts it)."""
        exact = _decimal(quantity)
        if exact < self.min_qty:
            return float(exact)
        return float(_onto(exact, self.step_size, ROUND_FLOOR, self.min_qty))

    def problem(self, price: float | None, quantity: float) -> Breach | None:
        """The rule the order breaks, if any; `price` None: a market order."""
        qty, of = _decimal(quantity), f"{self.symbol}'s"
        if self.min_qty and qty < self.min_qty:
            return Breach("LOT_SIZE", f"quantity {_words(qty)} is below {of} minimum {_words(self.min_qty)}")
        if self.max_qty and qty > self.max_qty:
            return Breach("LOT_SIZE", f"quantity {_words(qty)} is above {of} maximum {_words(self.max_qty)}")
        if self.step_size and _onto(qty, self.step_size, ROUND_FLOOR, self.min_qty) != qty:
            return Breach("LOT_SIZE", f"quantity {_words(qty)} is not on {of} step {_words(self.step_size)}")
        if price is None:
            return None
        exact = _decimal(price)
        if self.min_price and exact < self.min_price:
            return Breach("PRICE_FILTER", f"price {_words(exact)} is below {of} minimum {_words(self.min_price)}")
        if self.max_price and exact > self.max_price:
            return Breach("PRICE_FILTER", f"price {_words(exact)} is above {of} maximum {_words(self.max_price)}")
        if self.tick_size and _onto(exact, self.tick_size, ROUND_FLOOR) != exact:
            return Breach("PRICE_FILTER", f"price {_words(exact)} is not on {of} tick {_words(self.tick_size)}")
        worth = exact * qty
        if self.min_notional and worth < self.min_notional:
            return Breach("NOTIONAL", f"the order is worth {_words(worth)}, below {of} minimum notional "
                                      f"{_words(self.min_notional)}")
        if self.max_notional and worth > self.max_notional:
            return Breach("NOTIONAL", f"the order is worth {_words(worth)}, above {of} maximum notional "
                                      f"{_words(self.max_notional)}")
        return None


def rules_of(exchange_info: dict[str, Any]) -> dict[str, SymbolRules]:
    """Every symbol's rules in an exchange info answer, by symbol."""
    symbols = exchange_info.get("symbols") if isinstance(exchange_info, dict) else None
    return {rules.symbol: rules for rules in (SymbolRules.of(entry) for entry in symbols or ()
                                              if isinstance(entry, dict)) if rules.symbol}
