"""Plain data shared by venues, the order handles and strategies: orders, fills, trades, books."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

# The enums stay (str, Enum) rather than StrEnum (ruff UP042): StrEnum would change what str() and
# format() of a member give (the value instead of "Side.BUY"), and with it log lines and messages.


class Side(str, Enum):  # noqa: UP042
    BUY = "BUY"
    SELL = "SELL"


class OrderType(str, Enum):  # noqa: UP042
    LIMIT = "LIMIT"
    MARKET = "MARKET"


class OrderStatus(str, Enum):  # noqa: UP042
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def is_done(self) -> bool:
        return self in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED)


def split_pair(trading_pair: str) -> tuple[str, str]:
    """'BTC-USDT' -> ('BTC', 'USDT')."""
    base, sep, quote = trading_pair.partition("-")
    if not sep or not base or not quote:
        raise ValueError(f"trading pair must look like BASE-QUOTE, got {trading_pair!r}")
    return base, quote


@dataclass(slots=True)
class Order:
    """An order as the venue tracks it. `price` is None for market orders."""

    client_order_id: str
    trading_pair: str
    side: Side
    order_type: OrderType
    amount: float
    price: float | None
    created_at: float
    status: OrderStatus = OrderStatus.OPEN
    filled_amount: float = 0.0
    filled_quote: float = 0.0
    fee_quote: float = 0.0
    updated_at: float = 0.0

    @property
    def remaining(self) -> float:
        return max(self.amount - self.filled_amount, 0.0)

    def record_fill(self, price: float, amount: float, fee_quote: float, now: float) -> bool:
        """Count one fill of `amount` at `price` (its fee in quote); True when it completed the order (what is left
        below a rounding error counts as filled)."""
        self.filled_amount += amount
        self.filled_quote += price * amount
        self.fee_quote += fee_quote
        self.updated_at = now
        done = self.remaining <= self.amount * 1e-12
        if done:
            self.filled_amount = self.amount
        self.status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
        return done

    def copy(self) -> Order:
        return Order(self.client_order_id, self.trading_pair, self.side, self.order_type, self.amount,
                     self.price, self.created_at, self.status, self.filled_amount, self.filled_quote,
                     self.fee_quote, self.updated_at)


@dataclass(frozen=True, slots=True)
class Fill:
    order_id: str
    trading_pair: str
    side: Side
    order_type: OrderType
    price: float
    amount: float
    fee_quote: float
    fee_rate: float
    timestamp: float
    is_maker: bool
    trade_id: str


class UpdateKind(str, Enum):  # noqa: UP042
    CREATED = "created"
    FILLED = "filled"          # a (partial) fill; `fill` is set
    COMPLETED = "completed"    # the last fill made the order fully filled
    CANCELLED = "cancelled"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """What happened to one order; `order` is a snapshot taken at that moment."""

    kind: UpdateKind
    order: Order
    timestamp: float
    fill: Fill | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Trade:
    """A public trade on the venue; `side` is the aggressor's side."""

    trading_pair: str
    price: float
    amount: float
    side: Side
    timestamp: float
    trade_id: str


@dataclass(frozen=True, slots=True)
class OrderBook:
    """A snapshot of one pair's book; levels are (price, size), best first."""

    trading_pair: str
    timestamp: float
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]
    mid_price: float
    sequence: int = 0

    @property
    def best_bid(self) -> float:
        return self.bids[0][0]

    @property
    def best_ask(self) -> float:
        return self.asks[0][0]

    @property
    def spread(self) -> float:
        return self.best_ask - self.best_bid


@dataclass(frozen=True, slots=True)
class ExternalEvent:
    """An event published to P/external/event/<path>; `name` is the path with '/' turned into '.'."""

    name: str
    timestamp: int = 0
    sequence: int = 0
    type: str = "eevent"
    data: dict = field(default_factory=dict)


# How Binance names an order's status (its executionReport `X`, its order answers' `status`).
BINANCE_STATUS = {OrderStatus.OPEN: "NEW", OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
                  OrderStatus.FILLED: "FILLED", OrderStatus.CANCELLED: "CANCELED", OrderStatus.REJECTED: "REJECTED"}
