"""Per-strategy and per-instance figures: one registry of small collector callables, two outputs.

A *strategy collector* is `fn(slot) -> {field: value}` (called once per strategy); an *instance
collector* is `fn() -> {field: value}`. Whatever they return goes

- into MQTT: a strategy's fields into its entry's `custom_info` in P/performance, the instance's
  fields once per performance interval into P/metrics (`{"timestamp", "instance": {...}}`), and
- into the Prometheus text exposition (`GET /metrics` on `metrics_port`, 127.0.0.1 only): a numeric
  strategy field `f` becomes `hive_strategy_f{instance="...",strategy="..."}`, an instance field
  `hive_instance_f{instance="..."}`; counters get the `_total` suffix; a string field becomes a
  1-valued sample with the string as a label (`hive_strategy_status{...,status="running"} 1`).

Adding a source (the order manager's queue depth, the venue's reconnects, ...) is one call:

    runtime.metrics.add_strategy_collector("orders", lambda slot: {"queued_orders": ...},
                                           describe={"queued_orders": ("gauge", "orders waiting in the queue")})

A collector that raises is logged once and skipped; the others still report.
"""
from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

# `fn(slot) -> fields`, or with `fills=True` `fn(slot, into) -> into` (see add_strategy_collector).
StrategyCollector = Callable[..., Mapping[str, Any]]
InstanceCollector = Callable[[], Mapping[str, Any]]

COUNTER = "counter"
GAUGE = "gauge"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_NAME_RE = re.compile(r"[^a-zA-Z0-9_]")

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
        self._strategy: dict[str, StrategyCollector] = {}
        self._instance: dict[str, InstanceCollector] = {}
        self._descriptions: dict[str, tuple[str, str]] = dict(DESCRIPTIONS)
        self._failed: set[str] = set()
        self._fillers: set[str] = set()
        self._logger = logger or logging.getLogger("hive.metrics")

    # ---- registration -------------------------------------------------------------------------

    def add_strategy_collector(self, name: str, collector: StrategyCollector,
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

    # ---- Prometheus text exposition -----------------------------------------------------------

    def prometheus(self, slots: Mapping[str, Any]) -> str:
        """Text format 0.0.4: one HELP/TYPE block per metric, one sample per strategy."""
        families: dict[str, _Family] = {}
        instance_label = f'instance="{_escape(self.instance_id)}"'
        for field, value in self.instance_fields().items():
            self._sample(families, "hive_instance_", field, instance_label, value)
        for strategy_id, slot in slots.items():
            labels = f'{instance_label},strategy="{_escape(strategy_id)}"'
            for field, value in self.strategy_fields(slot).items():
                self._sample(families, "hive_strategy_", field, labels, value)
        lines: list[str] = []
        for name, (kind, help_text, samples) in families.items():
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            lines.extend(samples)
        return "\n".join(lines) + "\n"

    def _sample(self, families: dict[str, _Family], prefix: str, field: str, labels: str, value: Any) -> None:
        if value is None or isinstance(value, dict | list | tuple):
            return
        kind, help_text = self._descriptions.get(field, (GAUGE, field.replace("_", " ")))
        base = prefix + _NAME_RE.sub("_", field)
        if isinstance(value, str):
            name, kind = base, GAUGE
            sample = f'{name}{{{labels},{_NAME_RE.sub("_", field)}="{_escape(value)}"}} 1'
        else:
            number = float(value)
            name = base + "_total" if kind == COUNTER and not base.endswith("_total") else base
            sample = f"{name}{{{labels}}} {_number(number)}"
        families.setdefault(name, _Family(kind, help_text, [])).samples.append(sample)


class _Family(NamedTuple):
    """One Prometheus metric: its HELP/TYPE lines and its samples."""

    kind: str
    help_text: str
    samples: list[str]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 4)


class MetricsServer:
    """A tiny asyncio HTTP responder: GET /metrics -> the Prometheus text; 127.0.0.1 only."""

    def __init__(self, render: Callable[[], str], port: int = 0, host: str = "127.0.0.1",
                 logger: logging.Logger | None = None) -> None:
        self._render = render
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.scrapes = 0
        self._server: asyncio.AbstractServer | None = None
        self._logger = logger or logging.getLogger("hive.metrics")

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, self.requested_port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._logger.info("Prometheus metrics on http://%s:%d/metrics", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5.0)
            method, _, rest = request.decode("latin-1").partition(" ")
            path = rest.split(" ", 1)[0].split("?", 1)[0]
            if method not in ("GET", "HEAD"):
                status, body, ctype = "405 Method Not Allowed", b"only GET\n", "text/plain"
            elif path != "/metrics":
                status, body, ctype = "404 Not Found", b"try /metrics\n", "text/plain"
            else:
                self.scrapes += 1
                status, body, ctype = "200 OK", self._render().encode(), CONTENT_TYPE
            head = (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                    f"Connection: close\r\n\r\n").encode()
            writer.write(head if method == "HEAD" else head + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except Exception:
            self._logger.exception("metrics request failed")
        finally:
            writer.close()

