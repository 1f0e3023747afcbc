"""What an instance reports about itself: P/performance, P/metrics, the status text and Prometheus.

The per-strategy figures come from the metrics registry's collectors; the built-in ones (scheduling,
trading, orders per strategy; totals per instance) are registered here. Prices are looked up once
per pair and report (`_mid`), since a report of 1,000 strategies would otherwise ask the venue
1,000 times for the same mid.
"""
from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from hive_core import build_info, metrics
from hive_core.clock import Clock
from hive_core.host import StrategySlot
from hive_core.market.venue import Venue
from hive_core.orders.manager import ORDER_METRICS, OrderManager
from hive_core.remote import messages
from hive_core.scheduler import ERROR, RUNNING, STOPPED, Scheduler

# Strategies reported per turn of the event loop (P/performance built and encoded; a Prometheus snapshot taken):
# about 1 ms of the loop each at 1,000 strategies, so that ticks due meanwhile wait at most that long.
PERFORMANCE_BATCH = 25
SNAPSHOT_BATCH = 100
MAX_OPEN_ORDERS_REPORTED = 20   # open orders listed per strategy in P/performance (the count is exact)


class SchedulingSummary(NamedTuple):
    """A strategy's derived scheduling figures, as of `lag_count` lag and `run_time_count` run-time samples.

    Percentiles, maxima and run time only change with new samples: recomputed then, else reused.
    """

    lag_count: int
    run_time_count: int
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    run_time_total_s: float
    run_time_max_ms: float
    run_time_p99_ms: float


class Reports:
    """Builds the report payloads of the strategies in `slots` and of the instance."""

    def __init__(self, registry: metrics.MetricsRegistry, slots: Mapping[str, StrategySlot], *, clock: Clock,
                 scheduler: Scheduler, orders: OrderManager, venue: Venue) -> None:
        self.registry = registry
        self.slots = slots
        self.clock = clock
        self.scheduler = scheduler
        self.orders = orders
        self.venue = venue
        self._mids: dict[str, float] | None = None    # mid per pair while one report is built
        self._started_at = time.monotonic()
        # The built-in strategy collectors write into the report's dict (no dict of their own each time).
        registry.add_strategy_collector("scheduling", self.scheduling_fields, fills=True)
        registry.add_strategy_collector("trading", self.trading_fields, fills=True)
        registry.add_instance_collector("instance", self.instance_fields)
        registry.add_strategy_collector("orders", self.order_fields, describe=ORDER_METRICS, fills=True)
        registry.add_instance_collector("orders", orders.venue_figures, describe=ORDER_METRICS)

    # ---- the payloads -------------------------------------------------------------------------

    def performance_report(self) -> dict[str, Any]:
        """The P/performance payload: one controller entry per strategy (the instance's figures are in P/metrics)."""
        self._mids = {}
        try:
            return {slot.id: self._performance_entry(slot) for slot in self.slots.values()}
        finally:
            self._mids = None

    def performance_json_parts(self, batch: int = PERFORMANCE_BATCH) -> Iterator[str]:
        """P/performance as JSON text in parts of `batch` strategies: `'"id": {...}, "id2": {...}'` each.

        `"{" + ", ".join(parts) + "}"` is the text of `performance_report()`. The bridge takes one part
        per turn of the event loop, so a report of 1,000 strategies never holds the tick loop for more
        than one part's worth (about 1 ms) at a time. Strategies added meanwhile wait for the next report.
        """
        slots = list(self.slots.values())
        encode = messages.to_json
        for first in range(0, len(slots), batch):
            self._mids = {}
            try:
                yield ", ".join(f"{encode(slot.id)}: {encode(self._performance_entry(slot))}"
                                for slot in slots[first:first + batch] if slot.id in self.slots)
            finally:
                self._mids = None

    def pnl_points(self) -> dict[str, dict[str, float]]:
        """Each strategy's PnL figures now, as P/performance names them (the P/pnl payload's `strategies`)."""
        self._mids = {}
        try:
            points = {}
            for slot in self.slots.values():
                account = slot.account
                unrealized = account.unrealized_pnl(self._mid(slot.ctx.trading_pair))
                points[slot.id] = {"realized_pnl_quote": account.realized_pnl, "unrealized_pnl_quote": unrealized,
                                   "global_pnl_quote": account.realized_pnl + unrealized,
                                   "volume_traded": account.volume_quote}
            return points
        finally:
            self._mids = None

    def metrics_report(self) -> dict[str, Any]:
        """The P/metrics payload (hive extension): the instance-level figures, once per performance interval."""
        return {"timestamp": int(time.time() * 1000), "instance": self.registry.instance_fields()}

    def metrics_snapshot(self) -> metrics.MetricsSnapshot:
        """Every figure now, taken on the loop; rendering it for Prometheus may run on a worker thread."""
        self._mids = {}
        try:
            return self.registry.snapshot(self.slots)
        finally:
            self._mids = None

    async def metrics_snapshot_sliced(self, batch: int = SNAPSHOT_BATCH) -> metrics.MetricsSnapshot:
        """Like metrics_snapshot, taken `batch` strategies per turn of the event loop, so that a scrape of 1,000
        strategies never holds the ticks up for more than one slice. The slices are a few ms apart: each
        strategy's figures are consistent, the strategies' between them as of their slice."""
        slots = list(self.slots.items())
        fields: list[tuple[str, Any]] = []
        for first in range(0, len(slots), batch):
            self._mids = {}
            try:
                fields.extend((slot_id, self.registry.strategy_fields(slot))
                              for slot_id, slot in slots[first:first + batch] if slot_id in self.slots)
            finally:
                self._mids = None
            await asyncio.sleep(0)
        return self.registry.snapshot_of(fields)

    def status_text(self, ids: set[str]) -> str:
        """One line per strategy of `ids`, as the status command tells it."""
        lines = []
        for slot_id, entry in self.performance_report().items():
            if slot_id not in ids:
                continue
            perf, info = entry["performance"], entry["custom_info"]
            lines.append(f"{slot_id} ({info['strategy']}, {info['trading_pair']}): {entry['status']}, "
                         f"pnl {perf['global_pnl_quote']:.4f}, position {info['position']:.6g}, "
                         f"open orders {info['open_orders_count']}, ticks {info['ticks']}, errors {info['errors']}")
        return "\n".join(lines)

    def _performance_entry(self, slot: StrategySlot) -> dict[str, Any]:
        account = slot.account
        job = slot.job
        info: dict[str, Any] = {
            "strategy": slot.resolved.spec.name,
            "trading_pair": slot.ctx.trading_pair,
            "position": account.position,
            "average_cost": account.average_cost,
            "mid_price": self._mid(slot.ctx.trading_pair),
            "open_orders": slot.handle.open_order_dicts(MAX_OPEN_ORDERS_REPORTED),
            "open_orders_count": 0,
            "balances": dict(account.balances),
        }
        self.registry.strategy_fields(slot, info)
        get = info.get
        entry: dict[str, Any] = {
            "performance": {
                "realized_pnl_quote": get("realized_pnl_quote", account.realized_pnl),
                "unrealized_pnl_quote": get("unrealized_pnl_quote", 0.0),
                "global_pnl_quote": get("global_pnl_quote", account.realized_pnl),
                "volume_traded": account.volume_quote,
                "close_type_counts": {},
                "fees_quote": account.fees_paid,
                "fills": account.fill_count,
            },
            "custom_info": info,
            "status": job.status,
        }
        if job.status == ERROR:
            entry["error"] = job.last_error or "error"
        return entry

    # ---- the built-in collectors --------------------------------------------------------------

    def scheduling_fields(self, slot: StrategySlot, into: dict[str, Any]) -> dict[str, Any]:
        job = slot.job
        lag, run_time = job.lag, job.run_time
        summary = slot.scheduling_summary
        if summary is None or summary.lag_count != lag.count or summary.run_time_count != run_time.count:
            ms = metrics.ms
            summary = slot.scheduling_summary = SchedulingSummary(
                lag_count=lag.count, run_time_count=run_time.count, lag_p50_ms=ms(lag.percentile(0.5)),
                lag_p99_ms=ms(lag.percentile(0.99)), lag_max_ms=ms(lag.max),
                run_time_total_s=round(job.busy_time, 6), run_time_max_ms=ms(job.max_tick_time),
                run_time_p99_ms=ms(run_time.percentile(0.99)))
        into["status"] = job.status
        into["ticks"] = job.ticks
        into["errors"] = job.errors
        into["overruns"] = self.clock.overruns(job.slot)
        into["budget_overruns"] = job.budget_overruns
        into["starvation"] = job.starvation
        into["skipped"] = job.skipped
        into["deferred"] = job.deferred
        into["quarantines"] = job.quarantines
        into["lag_p50_ms"] = summary.lag_p50_ms
        into["lag_p99_ms"] = summary.lag_p99_ms
        into["lag_max_ms"] = summary.lag_max_ms
        into["run_time_total_s"] = summary.run_time_total_s
        into["run_time_max_ms"] = summary.run_time_max_ms
        into["run_time_p99_ms"] = summary.run_time_p99_ms
        into["interval"] = slot.resolved.entry.interval
        into["priority"] = job.priority
        return into

    def trading_fields(self, slot: StrategySlot, into: dict[str, Any]) -> dict[str, Any]:
        account = slot.account
        unrealized = account.unrealized_pnl(self._mid(slot.ctx.trading_pair))
        into["position"] = account.position
        into["open_orders_count"] = slot.handle.open_orders_count()
        into["realized_pnl_quote"] = account.realized_pnl
        into["unrealized_pnl_quote"] = unrealized
        into["global_pnl_quote"] = account.realized_pnl + unrealized
        into["volume_traded_quote"] = account.volume_quote
        into["fills"] = account.fill_count
        return into

    def order_fields(self, slot: StrategySlot, into: dict[str, Any]) -> dict[str, Any]:
        return self.orders.strategy_figures(slot.id, into)

    def instance_fields(self) -> dict[str, Any]:
        running = stopped = in_error = 0
        ticks = errors = budget_overruns = starvation = skipped = deferred = 0
        for slot in self.slots.values():
            job = slot.job
            status = job.status
            if status == RUNNING:
                running += 1
            elif status == STOPPED:
                stopped += 1
            elif status == ERROR:
                in_error += 1
            ticks += job.ticks
            errors += job.errors
            budget_overruns += job.budget_overruns
            starvation += job.starvation
            skipped += job.skipped
            deferred += job.deferred
        lag = self.scheduler.lag
        return {"strategies": len(self.slots), "running": running, "stopped": stopped, "in_error": in_error,
                "ticks": ticks, "errors": errors, "overruns": self.clock.total_overruns,
                "budget_overruns": budget_overruns, "starvation": starvation, "skipped": skipped,
                "deferred": deferred, "quarantines": self.scheduler.total_quarantines,
                "lag_p50_ms": metrics.ms(lag.percentile(0.5)), "lag_p99_ms": metrics.ms(lag.percentile(0.99)),
                "lag_p50_ms_all": metrics.ms(lag.percentile(0.5, recent=False)),
                "lag_p99_ms_all": metrics.ms(lag.percentile(0.99, recent=False)),
                "batches": self.scheduler.batches, "policy": self.scheduler.policy_name,
                "clock_compiled": int(build_info.clock.COMPILED and build_info.scheduler.COMPILED),
                "uptime_s": round(time.monotonic() - self._started_at, 3)}

    def _mid(self, trading_pair: str) -> float:
        """The pair's mid (NaN before its first book: reported as null), once per pair and report."""
        mids = self._mids
        if mids is None:
            try:
                return self.venue.mid_price(trading_pair)
            except LookupError:
                return math.nan
        mid = mids.get(trading_pair)
        if mid is None:
            try:
                mid = self.venue.mid_price(trading_pair)
            except LookupError:
                mid = math.nan
            mids[trading_pair] = mid
        return mid
