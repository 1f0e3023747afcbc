"""Plain data shared by venues, the order handles and strategies: orders, fills, trades, books."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Side(str, Enum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(str, Enum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"


class OrderStatus(str, Enum):
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

    @property
    def average_price(self) -> float | None:
        return self.filled_quote / self.filled_amount if self.filled_amount > 0 else None

    def copy(self) -> Order:
        return Order(self.client_order_id, self.trading_pair, self.side, self.order_type, self.amount,
                     self.price, self.created_at, self.status, self.filled_amount, self.filled_quote,
                     self.fee_quote, self.updated_at)

    def to_dict(self) -> dict:
        return {"order_id": self.client_order_id, "trading_pair": self.trading_pair,
                "side": self.side.value, "order_type": self.order_type.value, "amount": self.amount,
                "price": self.price, "filled_amount": self.filled_amount, "status": self.status.value,
                "created_at": self.created_at}


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

    @property
    def quote_amount(self) -> float:
        return self.price * self.amount


class UpdateKind(str, Enum):
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
