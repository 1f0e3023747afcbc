"""Per-strategy and per-instance figures: one registry of small collector callables, two outputs.

A *strategy collector* is `fn(slot) -> {field: value}` (called once per strategy); an *instance
collector* is `fn() -> {field: value}`. Whatever they return goes

- into MQTT: a strategy's fields into its entry's `custom_info` in P/performance, the instance's
  fields once per performance interval into P/metrics (`{"timestamp", "instance": {...}}`), and
- into Prometheus (`GET /metrics` on `metrics_port`, 127.0.0.1 only): hive_core/prometheus.py renders a
  `MetricsSnapshot` with prometheus_client, one family per field (`hive_strategy_ticks_total{...}`).

Adding a source (the order manager's queue depth, the venue's reconnects, ...) is one call:

    runtime.metrics.add_strategy_collector("orders", lambda slot: {"queued_orders": ...},
                                           describe={"queued_orders": ("gauge", "orders waiting in the queue")})

A collector that raises is logged once and skipped; the others still report.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

StrategyCollector = Callable[[Any], Mapping[str, Any]]
StrategyFiller = Callable[[Any, dict[str, Any]], Any]
InstanceCollector = Callable[[], Mapping[str, Any]]

COUNTER = "counter"
GAUGE = "gauge"

# What the built-in fields mean (collectors may add their own with `describe`).
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "ticks": (COUNTER, "on_tick calls that returned"),
    "errors": (COUNTER, "exceptions raised by the strategy's hooks"),
    "overruns": (COUNTER, "ticks the clock dropped because the loop was a whole interval or more late"),
    "budget_overruns": (COUNTER, "ticks that took longer than the scheduler's tick budget"),
    "starvation": (COUNTER, "due ticks that waited more than one full interval (late or dropped)"),
    "skipped": (COUNTER, "deferred ticks dropped because the next tick came due first"),
    "deferred": (COUNTER, "times a due tick was deferred to the next batch (time slice used up)"),
    "quarantines": (COUNTER, "times the strategy was quarantined"),
    "lag_p50_ms": (GAUGE, "median tick lag (scheduled vs actual start), recent ticks, ms"),
    "lag_p99_ms": (GAUGE, "99th percentile tick lag, recent ticks, ms"),
    "lag_max_ms": (GAUGE, "largest tick lag since start, ms"),
    "run_time_total_s": (COUNTER, "time spent in on_tick, seconds"),
    "run_time_max_ms": (GAUGE, "longest on_tick, ms"),
    "run_time_p99_ms": (GAUGE, "99th percentile on_tick time, recent ticks, ms"),
    "interval": (GAUGE, "seconds between ticks"),
    "priority": (GAUGE, "scheduling priority"),
    "position": (GAUGE, "base position"),
    "open_orders_count": (GAUGE, "open orders"),
    "realized_pnl_quote": (GAUGE, "realized PnL, quote"),
    "unrealized_pnl_quote": (GAUGE, "unrealized PnL at mid, quote"),
    "global_pnl_quote": (GAUGE, "realized plus unrealized PnL, quote"),
    "volume_traded_quote": (COUNTER, "traded volume, quote"),
    "fills": (COUNTER, "fills"),
    "strategies": (GAUGE, "strategies hosted"),
    "running": (GAUGE, "strategies running"),
    "stopped": (GAUGE, "strategies stopped"),
    "in_error": (GAUGE, "strategies in error (quarantined or failed to start)"),
    "lag_p50_ms_all": (GAUGE, "median tick lag of every strategy tick since start, ms"),
    "lag_p99_ms_all": (GAUGE, "99th percentile tick lag of every strategy tick since start, ms"),
    "batches": (COUNTER, "scheduler batches run"),
    "clock_compiled": (GAUGE, "1 when the clock and scheduler run compiled (Cython)"),
    "uptime_s": (GAUGE, "seconds since the runtime started"),
}


class MetricsRegistry:
    """Named collectors; renders their figures for custom_info and for Prometheus."""

    def __init__(self, instance_id: str, logger: logging.Logger | None = None) -> None:
        self.instance_id = instance_id
        self._strategy: dict[str, Callable[..., Any]] = {}
        self._instance: dict[str, InstanceCollector] = {}
        self._descriptions: dict[str, tuple[str, str]] = dict(DESCRIPTIONS)
        self._failed: set[str] = set()
        self._fillers: set[str] = set()
        self._logger = logger or logging.getLogger("hive.metrics")

    # ---- registration -------------------------------------------------------------------------

    def add_strategy_collector(self, name: str, collector: StrategyCollector | StrategyFiller,
                               describe: Mapping[str, tuple[str, str]] | None = None, *, fills: bool = False) -> None:
        """`fills=True`: the collector is `fn(slot, into) -> into` and writes its fields into the dict
        it is given (no dict of its own per strategy and report; for the built-in hot ones)."""
        self._strategy[name] = collector
        if fills:
            self._fillers.add(name)
        else:
            self._fillers.discard(name)
        self._descriptions.update(describe or {})

    def add_instance_collector(self, name: str, collector: InstanceCollector,
                               describe: Mapping[str, tuple[str, str]] | None = None) -> None:
        self._instance[name] = collector
        self._descriptions.update(describe or {})

    def remove_collector(self, name: str) -> None:
        self._strategy.pop(name, None)
        self._fillers.discard(name)
        self._instance.pop(name, None)

    @property
    def collectors(self) -> list[str]:
        return [*self._strategy, *self._instance]

    # ---- collecting ---------------------------------------------------------------------------

    def strategy_fields(self, slot: Any, into: dict[str, Any] | None = None) -> dict[str, Any]:
        """Every strategy collector's fields for `slot`, added to `into` (a new dict when None)."""
        fields: dict[str, Any] = {} if into is None else into
        fillers = self._fillers
        for name, collector in self._strategy.items():
            if name in fillers:
                try:
                    collector(slot, fields)
                except Exception:
                    self._report_failure(name)
            else:
                fields.update(self._call(name, collector, slot))
        return fields

    def instance_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for name, collector in self._instance.items():
            fields.update(self._call(name, collector))
        return fields

    def _call(self, name: str, collector: Callable, *args: Any) -> Mapping[str, Any]:
        try:
            return collector(*args)
        except Exception:
            self._report_failure(name)
            return {}

    def _report_failure(self, name: str) -> None:
        if name not in self._failed:
            self._failed.add(name)
            self._logger.exception("metrics collector %r failed (reported once; skipped meanwhile)", name)

    # ---- a snapshot for Prometheus ---------------------------------------------------------------

    def snapshot(self, slots: Mapping[str, Any]) -> MetricsSnapshot:
        """Every collector's figures now (call on the loop that owns the slots), as copies to render anywhere."""
        return self.snapshot_of([(strategy_id, self.strategy_fields(slot)) for strategy_id, slot in slots.items()])

    def snapshot_of(self, strategy_fields: list[tuple[str, Mapping[str, Any]]]) -> MetricsSnapshot:
        """A snapshot of strategy fields collected beforehand (in slices), with the instance's fields now."""
        return MetricsSnapshot(self.instance_id, dict(self._descriptions), self.instance_fields(), strategy_fields)


@dataclass(frozen=True)
class MetricsSnapshot:
    """One scrape's figures: copies only (the collectors ran when it was taken), so turning them into text
    (the costly part: about 30,000 samples at 1,000 strategies) may run on a worker thread."""

    instance_id: str
    descriptions: Mapping[str, tuple[str, str]]
    instance_fields: Mapping[str, Any]
    strategy_fields: list[tuple[str, Mapping[str, Any]]]


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 4)
