"""The fleet listing's rules, as pure functions over the instances as the API shows them (or anything with the
same figures: Listed): sorting and paging, the unit of a PnL, and the fleet's totals."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from backend.domain.instances import FleetTotals, InstanceQuery, PnlSummary


class Figures(Protocol):
    @property
    def realized(self) -> float: ...
    @property
    def unrealized(self) -> float: ...
    @property
    def total(self) -> float: ...
    @property
    def volume(self) -> float: ...


class Listed(Protocol):
    """What the listing sorts, filters and sums an instance by (InstanceOut has it all)."""

    @property
    def name(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def late(self) -> bool: ...
    @property
    def runtime(self) -> str: ...
    @property
    def host(self) -> str | None: ...
    @property
    def pnl(self) -> Figures: ...
    @property
    def pnl_unit(self) -> str | None: ...
    @property
    def trade_count(self) -> int: ...
    @property
    def uptime_s(self) -> float | None: ...
    @property
    def last_heartbeat_age_s(self) -> float | None: ...
    @property
    def cpu_percent(self) -> float | None: ...
    @property
    def memory_bytes(self) -> int | None: ...
    @property
    def network_rx_bytes(self) -> int | None: ...
    @property
    def network_tx_bytes(self) -> int | None: ...
    @property
    def strategy_count(self) -> int: ...
    @property
    def created_at(self) -> float: ...


L = TypeVar("L", bound=Listed)

MIXED = "mixed"
STATE_ORDER = {"error": 0, "starting": 1, "stopping": 2, "running": 3, "created": 4, "stopped": 5}

_SORT_KEYS: dict[str, Callable[[Listed], Any]] = {
    "name": lambda i: i.name,
    "state": lambda i: STATE_ORDER.get(i.state, 9),
    "runtime": lambda i: i.runtime,
    "host": lambda i: i.host,
    "pnl": lambda i: i.pnl.total,
    "realized": lambda i: i.pnl.realized,
    "unrealized": lambda i: i.pnl.unrealized,
    "volume": lambda i: i.pnl.volume,
    "trades": lambda i: i.trade_count,
    "uptime": lambda i: i.uptime_s,
    "heartbeat": lambda i: i.last_heartbeat_age_s,
    "cpu": lambda i: i.cpu_percent,
    "memory": lambda i: i.memory_bytes,
    "strategies": lambda i: i.strategy_count,
    "created": lambda i: i.created_at,
}


def page(instances: Sequence[L], query: InstanceQuery) -> tuple[list[L], int]:
    """`instances` (sorted by name) in the query's order, the query's page of them, and how many there are.

    Instances without the sort key's value (no heartbeat yet, no CPU figure) come last in either direction; ties
    keep the name order."""
    descending = query.sort.startswith("-")
    key = _SORT_KEYS[query.sort.lstrip("-")]
    known = [item for item in instances if key(item) is not None]
    unknown = [item for item in instances if key(item) is None]
    ordered = sorted(known, key=key, reverse=descending) + unknown
    end = None if query.limit is None else query.offset + query.limit
    return ordered[query.offset:end], len(ordered)


def quote_asset(pair: str) -> str:
    """The quote asset of a trading pair as hive_core writes them (BTC-USDT -> USDT)."""
    return pair.rsplit("-", 1)[-1].upper()


def pnl_unit(pairs: Iterable[str]) -> str | None:
    """The one unit of PnL and volume over `pairs`: their common quote asset, MIXED, or None without pairs."""
    quotes = {quote_asset(pair) for pair in pairs}
    return None if not quotes else quotes.pop() if len(quotes) == 1 else MIXED


def totals(instances: Sequence[Listed], unreachable: str) -> FleetTotals:
    """The sums over `instances`; `unreachable` is how the reason of a running instance the broker cannot reach
    begins (those are counted apart)."""
    units = {item.pnl_unit for item in instances if item.pnl_unit is not None}
    return FleetTotals(
        instances=len(instances),
        by_state=dict(Counter(item.state for item in instances)),
        strategies=sum(item.strategy_count for item in instances),
        pnl=PnlSummary(realized=sum(i.pnl.realized for i in instances),
                       unrealized=sum(i.pnl.unrealized for i in instances),
                       total=sum(i.pnl.total for i in instances), volume=sum(i.pnl.volume for i in instances)),
        pnl_unit=None if not units else units.pop() if len(units) == 1 else MIXED,
        trades=sum(item.trade_count for item in instances),
        cpu_percent=round(sum(item.cpu_percent or 0.0 for item in instances), 1),
        memory_bytes=sum(item.memory_bytes or 0 for item in instances),
        network_rx_bytes=sum(item.network_rx_bytes or 0 for item in instances),
        network_tx_bytes=sum(item.network_tx_bytes or 0 for item in instances),
        broker_unreachable=sum(1 for i in instances if i.state == "running" and i.reason.startswith(unreachable)),
        late=sum(1 for item in instances if item.late),
    )
