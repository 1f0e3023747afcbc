"""Wires an instance together: config -> venue -> paper accounts -> strategies -> clock/scheduler -> bridge.

Everything runs on one asyncio loop in one thread. The clock says which slots are due; slot 0 is
the venue, the others are strategies. In realtime the venue is a network venue (`venue.url`, or the
embedded SimServer on 127.0.0.1:<free port>, which steps its market every `step_interval`): one
multiplexed stream connection and one WS API connection for all strategies (VenueClient), and
slot 0 hands the books and trades received since its last run to the strategies. In virtual time
slot 0 steps the in-process engine. Venue
callbacks for a strategy (order updates, books, trades, external events) are queued and delivered
after the current batch of ticks, so a strategy is never re-entered from inside its own hook.

Orders: ONE `OrderManager` per venue (`self.orders`, built from the config's venue limits and every
strategy's priority and quota) is the only way orders reach the venue. Realtime: its transport is
the VenueClient's WS API connection (`VenueApiTransport`), so orders really travel over the socket
and the venue's enforced limits apply, and updates come back as executionReports on the user data
stream of that same connection; its timers are asyncio timers. Virtual time: it serves the
in-process engine (`InProcessTransport`) and its timers (`VirtualTimers`) fire in step with the
clock. Updates are attributed to strategies by client order id prefix (`_route_update`).

`run()` is the realtime mode used by `python -m hive_core run`; `run_virtual()` runs the same
wiring in virtual time (no bridge) for tests and backtests.
"""
from __future__ import annotations

import asyncio
import gc
import json
import logging
import math
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hive_core import build_info, metrics, protocol
from hive_core.clock import Clock
from hive_core.config import InstanceConfig, StrategyEntry
from hive_core.context import EventQueue, EventsAPI, MarketView, StrategyContext, TopicMessage
from hive_core.loader import ResolvedStrategy, StrategyLoader, StrategyLoadError
from hive_core.market.sim_exchange import SimExchange
from hive_core.market.sim_server import SimServer
from hive_core.market.venue_client import VENUE_METRICS, VenueClient
from hive_core.market.types import ExternalEvent, OrderBook, OrderUpdate, Trade
from hive_core.orders.handle import OrderHandle, owner_of
from hive_core.orders.manager import ORDER_METRICS, OrderManager
from hive_core.orders.timers import LoopTimers, VirtualTimers
from hive_core.orders.transport import InProcessTransport, VenueApiTransport
from hive_core.orders.paper import PaperAccount
from hive_core.remote import messages
from hive_core.remote.bridge import BRIDGE_METRICS, MqttBridge
from hive_core.protocol import (
    BalanceLimitRequest,
    BalancePaperRequest,
    ConfigRequest,
    HistoryRequest,
    ImportRequest,
    StartRequest,
    StatusRequest,
    StopRequest,
    StrategyAddRequest,
    StrategyReloadRequest,
    StrategyRemoveRequest,
    StrategyRequest,
)
from hive_core.remote.commands import CommandRouter, error, ok
from hive_core.scheduler import ERROR, INF, RUNNING, STOPPED, Job, Scheduler
from hive_core.strategy import Strategy, overrides

MAX_CONSECUTIVE_FAILURES = 5
MAX_DELIVERIES_PER_DRAIN = 100_000
MAX_IDLE_SLEEP = 0.2
PERFORMANCE_BATCH = 100         # strategies encoded per turn of the event loop for P/performance
MAX_OPEN_ORDERS_REPORTED = 20   # open orders listed per strategy in P/performance (the count is exact)
BATCH_SLICE = 0.1          # realtime: seconds one batch of ticks may take before the rest is deferred
VENUE_SYNC_TIMEOUT = 5.0   # seconds run() waits for the venue's books before starting strategies
VENUE_CANCEL_WAIT = 1.0    # seconds shutdown waits for a remote venue to confirm the cancels
ORDER_DRAIN_WAIT = 2.0     # seconds shutdown waits for the order manager to send its queue (the cancels)
SYSTEM_PRIORITY = 1 << 40  # the venue job goes first under every policy


class StrategyError(ValueError):
    """A lifecycle request that cannot be done; the message starts with the field it is about."""


class StrategySlot:
    """One configured strategy instance: its context, job, order handle and current object."""

    def __init__(self, resolved: ResolvedStrategy, ctx: StrategyContext, job: Job, handle: OrderHandle,
                 account: PaperAccount) -> None:
        self.resolved = resolved
        self.id = resolved.entry.id
        self.ctx = ctx
        self.job = job
        self.handle = handle
        self.account = account
        self.strategy: Strategy | None = None
        self.wants_books = False
        self.wants_trades = False
        self.wants_events = False
        self.started = False          # on_start returned (reset by stop and by a failed start)
        self.percentiles: tuple = (-1, -1)   # report cache: (lag count, run-time count, derived figures...)

    @property
    def cls(self) -> type[Strategy]:
        return self.resolved.spec.cls


class Runtime:
    """Hosts the strategies of one instance config."""

    def __init__(self, config: InstanceConfig, resolved: list[ResolvedStrategy], *, realtime: bool = True,
                 start_time: float | None = None, max_failures: int | None = None,
                 loader: StrategyLoader | None = None) -> None:
        self.config = config
        self.logger = logging.getLogger("hive.runtime")
        self.loader = loader if loader is not None else StrategyLoader(config.strategy_dirs)
        self.clock = Clock(realtime=realtime, start_time=time.time() if start_time is None else start_time)
        sched = config.scheduler
        self.scheduler = Scheduler(
            max_failures=sched.max_consecutive_failures if max_failures is None else max_failures,
            on_quarantine=self._on_quarantine, policy=sched.policy, tick_budget=sched.tick_budget_ms / 1000.0,
            max_overruns=sched.max_consecutive_overruns, batch_slice=BATCH_SLICE if realtime else INF,
            realtime=realtime)
        self.metrics = metrics.MetricsRegistry(config.instance_id)
        self._report_mids: dict[str, float] | None = None    # mid per pair while one report is built
        self.metrics_server: metrics.MetricsServer | None = None
        self._started_at = time.monotonic()
        self._register_metrics()
        # The venue. Virtual time: the in-process engine, stepped by slot 0. Realtime: a network venue
        # (the embedded SimServer around this same engine when venue.url is None, started by run()),
        # reached through one VenueClient: one stream connection + one WS API connection for all
        # strategies; orders go over that WS API connection in both cases.
        self.exchange = SimExchange(config.venue, self.clock.now)   # the engine (embedded or virtual)
        self.venue: SimExchange | VenueClient = self.exchange
        self.sim_server: SimServer | None = None
        self.venue_client: VenueClient | None = None
        self.market_data: SimExchange | VenueClient = self.venue
        if realtime:
            embedded = config.venue.url is None
            client = VenueClient(config.venue.trading_pairs, fee_rate=config.venue.fee_rate, now=self.clock.now,
                                 url=config.venue.url, fallback=self.exchange if embedded else None)
            self.venue_client = self.market_data = self.venue = client
            transport: Any = VenueApiTransport(client, on_send=client.track_request, on_answer=client.forget_refused)
            self.timers: LoopTimers | VirtualTimers = LoopTimers(time.monotonic)
            order_clock: Callable[[], float] = time.monotonic
            self.metrics.add_instance_collector("venue", client.metrics, describe=VENUE_METRICS)
        else:
            self.exchange.add_market_listener(self._on_market)
            transport = InProcessTransport(self.exchange)
            self.timers = VirtualTimers(self.clock.now())
            order_clock = self.clock.now
        self.venue.add_order_listener(self._route_update)
        # The single submission path of this venue: limits, quotas, priorities, fair queuing, back-off.
        self.orders = OrderManager.from_config(config.venue, config.strategies, transport, clock=order_clock,
                                               timers=self.timers, logger=logging.getLogger("hive.orders"))
        self.metrics.add_strategy_collector("orders", self._order_fields, describe=ORDER_METRICS, fills=True)
        self.metrics.add_instance_collector("orders", self.orders.venue_figures, describe=ORDER_METRICS)
        self.bridge: MqttBridge | None = None
        self._pending: deque[tuple[Job, Callable[[Any], None], Any, str]] = deque()
        self._stop_requested = False
        self._log_handler: logging.Handler | None = None
        self.config_dir: Path | None = None   # where `import` finds <name>.yml (set by the CLI)

        venue_job = Job("venue", self._step_venue, logging.getLogger("hive.venue"), priority=SYSTEM_PRIORITY,
                        interval=config.venue.step_interval, system=True)
        self._add_job(venue_job, config.venue.step_interval, phase=0.0)
        self.slots: dict[str, StrategySlot] = {}
        for item in resolved:
            self._add_strategy(item)

    # ---- building -----------------------------------------------------------------------------

    def _add_job(self, job: Job, interval: float, phase: float = -1.0) -> int:
        """The clock picks the slot id (reusing released ones); the scheduler files the job under it."""
        slot = self.clock.add(interval, phase)
        job.interval = interval
        self.scheduler.add(job, slot)
        return slot

    def _add_strategy(self, item: ResolvedStrategy) -> StrategySlot:
        entry = item.entry
        logger = logging.getLogger(f"hive.strategy.{entry.id}")
        account = PaperAccount(item.trading_pair, self.config.paper.balances)
        handle = OrderHandle(entry.id, item.trading_pair, self.venue, account, self._route_update,
                             self.clock.now, logger, manager=self.orders)
        job = Job(entry.id, _not_started, logger, status=STOPPED, priority=entry.priority, interval=entry.interval)
        market = MarketView(self.market_data, item.trading_pair)
        settings = self.config.mqtt_bridge
        events = EventsAPI(enabled=settings.mqtt_external_events,
                           prefix=protocol.topic_prefix(settings.mqtt_namespace, self.config.instance_id),
                           publisher=self._publish_external, topic_subscriber=self._subscribe_topic)
        ctx = StrategyContext(strategy_id=entry.id, strategy_name=entry.strategy, params=item.params,
                              trading_pair=item.trading_pair, orders=handle, account=account, market=market,
                              metrics=job, now=self.clock.now, events=events)
        self._add_job(job, entry.interval)
        self.clock.pause(job.slot)
        slot = StrategySlot(item, ctx, job, handle, account)
        self.slots[entry.id] = slot
        return slot

    # ---- strategy lifecycle -------------------------------------------------------------------
    # One strategy at a time, while the others keep trading: start, stop, resume, add, remove, reload.
    # Each takes a strategy id (or its StrategySlot); a bad request raises StrategyError naming the field.

    def _slot(self, strategy: StrategySlot | str) -> StrategySlot:
        if isinstance(strategy, StrategySlot):
            return strategy
        slot = self.slots.get(strategy)
        if slot is None:
            known = ", ".join(self.slots) or "none"
            raise StrategyError(f"strategy: unknown strategy id {strategy!r}; known: {known}")
        return slot

    def start_strategy(self, strategy: StrategySlot | str) -> bool:
        """(Re)create the strategy object and call on_start; a failure puts only this one in error."""
        slot = self._slot(strategy)
        job = slot.job
        self.scheduler.resume(job)
        slot.started = False
        slot.ctx.events.clear()      # a new object registers its own listeners (in on_start)
        try:
            instance = slot.cls(slot.ctx)
            slot.strategy = instance
            job.callback = instance.on_tick
            instance.on_start()
        except Exception as exc:
            self.scheduler.record_failure(job, exc, "on_start")
            if job.status == RUNNING:
                self.scheduler.quarantine(job, f"failed to start: {job.last_error}")
            return False
        slot.started = True
        slot.wants_books = overrides(instance, "on_order_book")
        slot.wants_trades = overrides(instance, "on_trade")
        slot.wants_events = overrides(instance, "on_event")
        self.clock.resume(job.slot)
        slot.ctx.logger.info("started %s (%s) on %s every %gs", slot.id, slot.resolved.spec.name,
                             slot.ctx.trading_pair, slot.resolved.entry.interval)
        return True

    def stop_strategy(self, strategy: StrategySlot | str, cancel_orders: bool = True) -> None:
        """on_stop (isolated), then cancel its open orders; an errored strategy keeps status 'error'."""
        slot = self._slot(strategy)
        job = slot.job
        if job.status == RUNNING:
            if slot.strategy is not None:
                self.scheduler.guard(job, lambda _arg: slot.strategy.on_stop(), None, "on_stop")
            if job.status == RUNNING:
                job.status = STOPPED
            slot.started = False
            slot.ctx.logger.info("stopped %s", slot.id)
        self.clock.pause(job.slot)
        if cancel_orders:
            slot.handle.cancel_all()

    def resume_strategy(self, strategy: StrategySlot | str) -> bool:
        """Back to running: a quarantined strategy keeps its object (no hooks called, counters of
        failures/overruns in a row cleared); a stopped one, or one that failed to start, is started."""
        slot = self._slot(strategy)
        job = slot.job
        if job.status == RUNNING:
            raise StrategyError(f"strategy: {slot.id!r} is already running")
        if job.status == ERROR and slot.started and slot.strategy is not None:
            self.scheduler.resume(job)
            self.clock.resume(job.slot)
            slot.ctx.logger.info("resumed %s after quarantine", slot.id)
            return True
        return self.start_strategy(slot)

    def add_strategy(self, entry: StrategyEntry | dict[str, Any], start: bool = True) -> StrategySlot:
        """Validate an entry like the config's (ids unique, pair traded, quota possible), resolve its
        strategy and params, and host it; with `start`, start it at once (its ticks join the clock)."""
        data = entry.model_dump() if isinstance(entry, StrategyEntry) else dict(entry)
        current = [item.model_dump() for item in self.config.strategies]
        index = len(current)
        try:
            config = InstanceConfig.model_validate({**self.config.model_dump(), "strategies": [*current, data]})
        except ValidationError as problem:
            raise StrategyError(_entry_problem(problem, index)) from None
        new_entry = config.strategies[index]
        try:
            spec = self.loader.resolve(new_entry.strategy)
        except StrategyLoadError as problem:
            raise StrategyError(f"strategy: {problem}") from None
        try:
            params = spec.validate_params(new_entry.params, "params")
        except StrategyLoadError as problem:
            raise StrategyError(str(problem)) from None
        self.config = config
        self.orders.add_strategy(new_entry.id, priority=new_entry.priority, quota=new_entry.quota)
        slot = self._add_strategy(ResolvedStrategy(new_entry, spec, params, config.pair_of(new_entry)))
        self.logger.info("added strategy %s (%s)", slot.id, spec.name)
        if start:
            self.start_strategy(slot)
            self._drain()
        return slot

    def remove_strategy(self, strategy: StrategySlot | str, cancel_orders: bool = True) -> None:
        """Stop it (on_stop, cancel its orders), then forget it: no more ticks, reports or metrics."""
        slot = self._slot(strategy)
        self.stop_strategy(slot, cancel_orders)    # cancels go to the manager first (queued ones withdrawn)
        self.orders.remove_strategy(slot.id)       # its queued cancels still go; new orders are withdrawn
        self._drain()
        self.scheduler.remove(slot.job.slot)
        self.clock.release(slot.job.slot)
        del self.slots[slot.id]
        self.config = self.config.model_copy(
            update={"strategies": [entry for entry in self.config.strategies if entry.id != slot.id]})
        self.logger.info("removed strategy %s", slot.id)

    def reload_strategy(self, strategy: StrategySlot | str, *, keep_state: bool = True, reset_metrics: bool = False,
                        cancel_orders: bool = False) -> bool:
        """Hot reload: load the strategy's file again (a new version gives a new class), validate its
        params against it, call on_stop on the old object and on_start on a new one. ctx.state, the
        paper account, open orders and metrics are kept unless told otherwise. A file that does not
        load or params the new class refuses leave the old version running (StrategyError).
        A stopped strategy only gets the new class; a running or errored one is (re)started."""
        slot = self._slot(strategy)
        try:
            spec = self.loader.reload(slot.resolved.spec)
        except StrategyLoadError as problem:
            raise StrategyError(f"strategy: cannot reload {slot.id!r}: {problem}") from None
        try:
            params = spec.validate_params(slot.resolved.entry.params, "params")
        except StrategyLoadError as problem:
            raise StrategyError(f"strategy: the new version of {slot.id!r} refuses its params: {problem}") from None
        job = slot.job
        restart = job.status in (RUNNING, ERROR)
        if job.status == RUNNING:
            self.stop_strategy(slot, cancel_orders)
        elif cancel_orders:
            slot.handle.cancel_all()
        self._drain()
        slot.resolved = ResolvedStrategy(slot.resolved.entry, spec, params, slot.resolved.trading_pair)
        slot.ctx.params = params
        if not keep_state:
            slot.ctx.state = {}
        if reset_metrics:
            job.reset_metrics()
            slot.percentiles = (-1, -1)
        slot.ctx.logger.info("reloaded %s from %s", slot.id, spec.path)
        started = self.start_strategy(slot) if restart else True
        self._drain()
        return started

    def start_all(self) -> int:
        return sum(1 for slot in list(self.slots.values())
                   if slot.job.status != RUNNING and self.start_strategy(slot))

    def stop_all(self, cancel_orders: bool = True) -> None:
        for slot in list(self.slots.values()):
            self.stop_strategy(slot, cancel_orders)
        self._drain()

    def _on_quarantine(self, job: Job) -> None:
        self.clock.pause(job.slot)
        slot = self.slots.get(job.name)
        if slot is not None:
            slot.handle.cancel_all()
            if self.bridge is not None:
                self.bridge.notify(f"strategy {job.name} is in error: {job.last_error}")

    @property
    def running(self) -> list[StrategySlot]:
        return [slot for slot in self.slots.values() if slot.job.status == RUNNING]

    # ---- venue and event delivery -------------------------------------------------------------

    def _step_venue(self, _now: float) -> None:
        if self.venue_client is None:
            self.venue.step()                                 # virtual time: step the engine here
        else:
            self.venue_client.drain(self._on_market)          # books/trades received since the last step

    async def start_venue(self, timeout: float = VENUE_SYNC_TIMEOUT) -> None:
        """Realtime: start the embedded venue when no URL is configured, connect, wait for the books."""
        client = self.venue_client
        if client is None or client.mux is not None:
            return
        url = self.config.venue.url
        if url is None:
            self.sim_server = SimServer(self.config.venue, host="127.0.0.1", port=0, time_source=self.clock.now,
                                        exchange=self.exchange)
            await self.sim_server.start()
            url = self.sim_server.url
        synced = await client.start(url, user_data=True, timeout=timeout)
        if not synced:
            self.logger.warning("venue %s: order books not synced after %gs; continuing", url, timeout)
        self.logger.info("venue %s%s: one stream and one API connection for %d strategies", url,
                         " (embedded)" if self.sim_server is not None else "", len(self.slots))

    async def drain_orders(self, timeout: float = ORDER_DRAIN_WAIT) -> bool:
        """Wait (bounded) until the order manager has nothing queued or in flight; True when it got there."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        orders = self.orders
        while orders.queued() or orders.inflight:
            if loop.time() >= deadline:
                self.logger.warning("order manager: %d queued and %d in flight after %gs; closing anyway",
                                    orders.queued(), orders.inflight, timeout)
                return False
            await asyncio.sleep(0.01)
        return True

    async def stop_venue(self) -> None:
        if self.venue_client is not None:
            # Give the cancels sent by stop_all a moment to be confirmed (executionReports).
            loop = asyncio.get_running_loop()
            deadline = loop.time() + VENUE_CANCEL_WAIT
            while self.venue_client.open_orders() and loop.time() < deadline:
                await asyncio.sleep(0.02)
            await self.venue_client.stop()
        if self.sim_server is not None:
            await self.sim_server.stop()
            self.sim_server = None

    def _route_update(self, update: OrderUpdate) -> None:
        """Attribute a venue update to its strategy by the client order id prefix."""
        slot = self.slots.get(owner_of(update.order.client_order_id))
        if slot is None:
            self.logger.warning("order update for unknown order %s", update.order.client_order_id)
            return
        slot.handle.apply_update(update)
        if slot.strategy is not None and slot.job.status == RUNNING:
            self._pending.append((slot.job, slot.strategy.on_order_update, update, "on_order_update"))
        if self.bridge is not None:
            event = messages.order_event(update, slot.id)
            if event is not None:
                self.bridge.publish_event(event[0], event[1], update.timestamp)

    def _on_market(self, book: OrderBook, trades: list[Trade]) -> None:
        for slot in self.slots.values():
            if slot.job.status != RUNNING or slot.ctx.trading_pair != book.trading_pair or slot.strategy is None:
                continue
            if slot.wants_books:
                self._pending.append((slot.job, slot.strategy.on_order_book, book, "on_order_book"))
            if slot.wants_trades:
                for trade in trades:
                    self._pending.append((slot.job, slot.strategy.on_trade, trade, "on_trade"))

    def deliver_event(self, event: ExternalEvent) -> None:
        """An external event goes to every running strategy that implements on_event, and to the
        listeners and queues registered through ctx.events (by name or '*'). Callbacks are queued and
        run after the current batch, isolated like every hook; queues are filled at once."""
        for slot in self.slots.values():
            if slot.job.status != RUNNING or slot.strategy is None:
                continue
            if slot.wants_events:
                self._pending.append((slot.job, slot.strategy.on_event, event, "on_event"))
            for target in slot.ctx.events.targets_for_event(event):
                if isinstance(target, EventQueue):
                    target.put(event)
                else:
                    self._pending.append((slot.job, target, event, f"event {event.name}"))
        self._drain()

    def deliver_topic(self, topic: str, payload: bytes) -> None:
        """A message on a raw topic some strategy subscribed to with ctx.events.on_topic/topic_queue."""
        message: TopicMessage | None = None
        for slot in self.slots.values():
            if slot.job.status != RUNNING or slot.strategy is None:
                continue
            targets = slot.ctx.events.targets_for_topic(topic)
            if not targets:
                continue
            if message is None:
                message = TopicMessage(topic, _decode_payload(payload), time.time())
            for target in targets:
                if isinstance(target, EventQueue):
                    target.put(message)
                else:
                    self._pending.append((slot.job, target, message, f"topic {topic}"))
        self._drain()

    def _publish_external(self, suffix: str, payload: dict) -> bool:
        bridge = self.bridge
        return bridge is not None and bridge.publish(suffix, payload)

    def _subscribe_topic(self, topic: str) -> None:
        if self.bridge is not None:
            self.bridge.subscribe_topic(topic)

    def raw_topics(self) -> set[str]:
        """Every raw topic the strategies listen on (the bridge subscribes to them on each connect)."""
        return {topic for slot in self.slots.values() for topic in slot.ctx.events.topics()}

    def _drain(self) -> None:
        delivered = 0
        pending = self._pending
        guard = self.scheduler.guard
        while pending and delivered < MAX_DELIVERIES_PER_DRAIN:
            job, hook, arg, where = pending.popleft()
            guard(job, hook, arg, where)
            delivered += 1

    def _run_batch(self, due: list, now: float, scheduled: list | None = None) -> None:
        self.scheduler.run_due(due, now, scheduled)
        self._drain()

    # ---- realtime mode ------------------------------------------------------------------------

    async def run(self, *, install_signal_handlers: bool = True) -> None:
        """Run until SIGTERM/SIGINT (or request_stop()); then stop strategies, cancel orders, go offline."""
        loop = asyncio.get_running_loop()
        if install_signal_handlers:
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self.request_stop)
        settings = self.config.mqtt_bridge
        # As in Hummingbot, mqtt_autostart says whether the bridge starts with the bot; hive_core has
        # no console to start it later, so with it off the instance runs without MQTT.
        if settings.mqtt_autostart:
            self.bridge = MqttBridge(settings, self.config.instance_id, router=CommandRouter(self),
                                     performance=self.performance_report, metrics=self.metrics_report,
                                     performance_parts=self.performance_json_parts,
                                     on_external_event=self.deliver_event,
                                     on_topic_message=self.deliver_topic, raw_topics=self.raw_topics)
            if settings.mqtt_logger:
                self._log_handler = self.bridge.log_handler()
                logging.getLogger("hive").addHandler(self._log_handler)
            self.metrics.add_instance_collector("mqtt", self.bridge.backlog_figures, describe=BRIDGE_METRICS)
            self.bridge.start(loop)
        if self.config.metrics_port is not None:
            self.metrics_server = metrics.MetricsServer(self.prometheus_text, self.config.metrics_port)
            try:
                await self.metrics_server.start()
            except OSError as problem:
                self.logger.error("metrics_port %s: cannot listen on 127.0.0.1 (%s); running without /metrics",
                                  self.config.metrics_port, problem.strerror or problem)
                self.metrics_server = None
        for warning in build_info.stale_warnings():
            self.logger.warning("%s", warning)
        await self.start_venue()
        self.clock.start()
        self.start_all()
        self._drain()
        # What start-up built lives as long as the instance: keep it out of the cyclic GC's full
        # collections (~100 ms pauses of the tick loop at 1,000 strategies otherwise).
        gc.collect()
        gc.freeze()
        self.logger.info("instance %s running %d strategies (%d started); clock %s", self.config.instance_id,
                         len(self.slots), len(self.running), build_info.describe(build_info.clock))
        try:
            await self._tick_loop()
        finally:
            await self._shutdown()
            if install_signal_handlers:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)

    def request_stop(self) -> None:
        self._stop_requested = True

    async def _tick_loop(self) -> None:
        clock = self.clock
        scheduler = self.scheduler
        resolution = clock.resolution
        due: list[int] = []
        scheduled: list[float] = []
        while not self._stop_requested:
            now = clock.now()
            delay = clock.next_due() - now
            if delay > resolution and not scheduler.has_pending:
                await asyncio.sleep(min(delay, MAX_IDLE_SLEEP))
                continue
            due.clear()
            scheduled.clear()
            clock.pop_due(now, due, scheduled)
            self._run_batch(due, now, scheduled)   # ticks deferred by the time slice run next time round
            await asyncio.sleep(0)   # let the bridge and commands in between batches

    async def _shutdown(self) -> None:
        self.logger.info("shutting down: stopping strategies and cancelling their orders")
        self.stop_all(cancel_orders=True)
        await self.drain_orders()          # the cancels reach the venue before its connections close
        self.orders.stop()
        await self.stop_venue()
        if self.metrics_server is not None:
            await self.metrics_server.stop()
        if self.bridge is not None:
            self.bridge.publish_performance()
            if self._log_handler is not None:
                logging.getLogger("hive").removeHandler(self._log_handler)
                self._log_handler = None
            await self.bridge.stop()

    # ---- virtual-time mode --------------------------------------------------------------------

    def run_virtual(self, duration: float) -> None:
        """Run `duration` seconds of virtual time as fast as possible (the clock must be in backtest mode)."""
        if self.clock.realtime:
            raise RuntimeError("run_virtual needs a Runtime built with realtime=False")
        if not self.clock.started:
            self.clock.start()
            self.start_all()
            self._drain()
        clock = self.clock
        timers = self.timers
        end = clock.now() + duration
        due: list[int] = []
        scheduled: list[float] = []
        while True:
            tick_at = clock.next_due()
            timer_at = timers.next_due()
            if timer_at <= tick_at:                # the order manager's timer first (a rate limit let go)
                if timer_at > end:
                    break
                clock.set_time(timer_at)
                timers.run_due(timer_at)
                self._drain()
                continue
            if tick_at > end:
                break
            due.clear()
            scheduled.clear()
            now = clock.advance(due, scheduled)
            self._run_batch(due, now, scheduled)
        clock.set_time(end)
        timers.run_due(end)
        self._drain()

    # ---- reports ------------------------------------------------------------------------------

    def _register_metrics(self) -> None:
        """The built-in collectors: scheduling and trading per strategy, totals per instance."""
        # The built-in strategy collectors write into the report's dict (no dict of their own each time).
        self.metrics.add_strategy_collector("scheduling", self._scheduling_fields, fills=True)
        self.metrics.add_strategy_collector("trading", self._trading_fields, fills=True)
        self.metrics.add_instance_collector("instance", self._instance_fields)

    def _scheduling_fields(self, slot: StrategySlot, into: dict[str, Any]) -> dict[str, Any]:
        job = slot.job
        lag, run_time = job.lag, job.run_time
        # Percentiles, maxima and run time only change with new samples: recomputed then, else cached.
        cache = slot.percentiles
        if cache[0] != lag.count or cache[1] != run_time.count:
            ms = metrics.ms
            cache = slot.percentiles = (lag.count, run_time.count, ms(lag.percentile(0.5)), ms(lag.percentile(0.99)),
                                        ms(lag.max), round(job.busy_time, 6), ms(job.max_tick_time),
                                        ms(run_time.percentile(0.99)))
        into["status"] = job.status
        into["ticks"] = job.ticks
        into["errors"] = job.errors
        into["overruns"] = self.clock.overruns(job.slot)
        into["budget_overruns"] = job.budget_overruns
        into["starvation"] = job.starvation
        into["skipped"] = job.skipped
        into["deferred"] = job.deferred
        into["quarantines"] = job.quarantines
        into["lag_p50_ms"] = cache[2]
        into["lag_p99_ms"] = cache[3]
        into["lag_max_ms"] = cache[4]
        into["run_time_total_s"] = cache[5]
        into["run_time_max_ms"] = cache[6]
        into["run_time_p99_ms"] = cache[7]
        into["interval"] = slot.resolved.entry.interval
        into["priority"] = job.priority
        return into

    def _mid(self, trading_pair: str) -> float:
        mids = self._report_mids
        if mids is None:
            try:
                return self.venue.mid_price(trading_pair)
            except LookupError:
                return math.nan
        mid = mids.get(trading_pair)
        if mid is None:
            try:
                mid = self.venue.mid_price(trading_pair)
            except LookupError:          # no book yet (a remote venue not synced): reported as null
                mid = math.nan
            mids[trading_pair] = mid
        return mid

    def _trading_fields(self, slot: StrategySlot, into: dict[str, Any]) -> dict[str, Any]:
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

    def _order_fields(self, slot: StrategySlot, into: dict[str, Any]) -> dict[str, Any]:
        return self.orders.strategy_figures(slot.id, into)

    def _instance_fields(self) -> dict[str, Any]:
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

    def prometheus_text(self) -> str:
        self._report_mids = {}
        try:
            return self.metrics.prometheus(self.slots)
        finally:
            self._report_mids = None

    def metrics_report(self) -> dict[str, Any]:
        """The P/metrics payload (hive extension): the instance-level figures, once per performance interval."""
        return {"timestamp": int(time.time() * 1000), "instance": self.metrics.instance_fields()}

    def performance_report(self) -> dict[str, Any]:
        """The P/performance payload: one controller entry per strategy (the instance's figures are in P/metrics)."""
        self._report_mids = {}
        try:
            return {slot.id: self._performance_entry(slot) for slot in self.slots.values()}
        finally:
            self._report_mids = None

    def performance_json_parts(self, batch: int = PERFORMANCE_BATCH) -> Iterator[str]:
        """P/performance as JSON text in parts of `batch` strategies: `'"id": {...}, "id2": {...}'` each.

        `"{" + ", ".join(parts) + "}"` is the text of `performance_report()`. The bridge takes one part
        per turn of the event loop, so a report of 1,000 strategies never holds the tick loop for more
        than one part's worth (a few ms) at a time. Strategies added meanwhile wait for the next report.
        """
        slots = list(self.slots.values())
        encode = messages.to_json
        for first in range(0, len(slots), batch):
            self._report_mids = {}
            try:
                yield ", ".join(f"{encode(slot.id)}: {encode(self._performance_entry(slot))}"
                                for slot in slots[first:first + batch] if slot.id in self.slots)
            finally:
                self._report_mids = None

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
        self.metrics.strategy_fields(slot, info)
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

    # ---- remote commands (called on the loop thread by the bridge) ----------------------------

    def command_start(self, request: StartRequest) -> dict:
        """async_backend true (the default): checks now, acknowledges, starts on the next loop turn
        (the outcome goes to P/notify); false: starts, then replies with the outcome."""
        if request.log_level:
            logging.getLogger("hive").setLevel(request.log_level)
        if request.strategy is not None:
            if not request.async_backend or not self._in_loop():
                return self._one_strategy(request.strategy, "start", self._start_one)
            try:
                slot = self._slot(request.strategy)
                if slot.job.status == RUNNING:
                    raise StrategyError(f"strategy: {slot.id!r} is already running")
            except StrategyError as problem:
                return error(f"data.{problem}")
            self._later(lambda: self._one_strategy(slot.id, "start", self._start_one))
            return ok(strategy=slot.id, strategy_status="starting")
        if self.running:
            return error("Strategy is already running: " + ", ".join(slot.id for slot in self.running))
        if not self.slots:
            return error("No strategy is imported and no script given: import one first")
        if request.script:
            self.logger.info("start: ignoring script %r; hive_core runs the strategies of its config", request.script)
        if request.async_backend and self._in_loop():
            self._later(self._start_everything)
            return ok()
        return self._start_everything()

    def _start_everything(self) -> dict:
        started = self.start_all()
        self._drain()
        failed = [slot.id for slot in self.slots.values() if slot.job.status == ERROR]
        if started == 0:
            reason = "no strategy could be started: " + "; ".join(
                f"{slot.id}: {slot.job.last_error}" for slot in self.slots.values())
            self._notify(reason)
            return error(reason)
        self._notify(f"started {started} strateg{'y' if started == 1 else 'ies'}"
                     + (f"; in error: {', '.join(failed)}" if failed else ""))
        return ok("" if not failed else f"started {started}; in error: {', '.join(failed)}")

    def command_stop(self, request: StopRequest) -> dict:
        cancel = not request.skip_order_cancellation
        if request.strategy is not None:
            if not request.async_backend or not self._in_loop():
                return self._one_strategy(request.strategy, "stop", lambda slot: self.stop_strategy(slot, cancel))
            try:
                slot = self._slot(request.strategy)
            except StrategyError as problem:
                return error(f"data.{problem}")
            self._later(lambda: self._one_strategy(slot.id, "stop", lambda one: self.stop_strategy(one, cancel)))
            return ok(strategy=slot.id, strategy_status="stopping")
        if request.async_backend and self._in_loop():
            self._later(lambda: self._stop_everything(cancel))
            return ok()
        return self._stop_everything(cancel)

    def _stop_everything(self, cancel: bool) -> dict:
        was_running = len(self.running)
        self.stop_all(cancel_orders=cancel)
        if was_running:
            self._notify(f"stopped {was_running} strateg{'y' if was_running == 1 else 'ies'}")
        return ok()

    def command_status(self, request: StatusRequest) -> dict:
        """Sync: the status text in `data`. async_backend true: acknowledged with an empty `data`, the
        text follows on P/notify (as Hummingbot prints it to its notifier)."""
        try:
            chosen = self._chosen(request.strategy)
        except StrategyError as problem:
            return error(f"data.{problem}")
        if not any(slot.job.status == RUNNING for slot in chosen):
            return error("No strategy is currently running!")
        ids = {slot.id for slot in chosen}
        if request.async_backend and self._in_loop():
            self._later(lambda: self._notify(self._status_text(ids)))
            return ok(data="")
        return ok(data=self._status_text(ids))

    def _status_text(self, ids: set[str]) -> str:
        lines = []
        for slot_id, entry in self.performance_report().items():
            if slot_id not in ids:
                continue
            perf, info = entry["performance"], entry["custom_info"]
            lines.append(f"{slot_id} ({info['strategy']}, {info['trading_pair']}): {entry['status']}, "
                         f"pnl {perf['global_pnl_quote']:.4f}, position {info['position']:.6g}, "
                         f"open orders {info['open_orders_count']}, ticks {info['ticks']}, errors {info['errors']}")
        return "\n".join(lines)

    def command_history(self, request: HistoryRequest) -> dict:
        """`trades`: the fills of the last `days` (0: all), oldest first; `precision` rounds prices and
        amounts; `verbose` adds fees and maker flags. async_backend true: `trades` is sent all the same
        (building it never blocks), and a summary goes to P/notify."""
        try:
            chosen = self._chosen(request.strategy)
        except StrategyError as problem:
            return error(f"data.{problem}")
        since = self.clock.now() - request.days * 86_400 if request.days else float("-inf")
        digits = request.precision

        def rounded(value: float) -> float:
            return round(value, digits) if digits is not None else value

        trades = []
        for slot in chosen:
            for fill in slot.handle.fills:
                if fill.timestamp >= since:
                    trade = {"trade_id": fill.trade_id, "order_id": fill.order_id, "controller_id": slot.id,
                             "trading_pair": fill.trading_pair, "trade_type": fill.side.value,
                             "order_type": fill.order_type.value, "price": rounded(fill.price),
                             "amount": rounded(fill.amount), "fee_quote": rounded(fill.fee_quote),
                             "timestamp": fill.timestamp}
                    if request.verbose:
                        trade.update({"fee_rate": fill.fee_rate, "is_maker": fill.is_maker,
                                      "quote_amount": rounded(fill.price * fill.amount)})
                    trades.append(trade)
        trades.sort(key=lambda trade: trade["timestamp"])
        if request.async_backend and self._in_loop():
            count = len(trades)
            self._later(lambda: self._notify(f"history: {count} trade{'' if count == 1 else 's'}"
                                             + (f" in the last {request.days:g} days" if request.days else "")))
        return ok(trades=trades)

    # Live settings of the instance ("client") the config command may change.
    CLIENT_KEYS = ("log_level",)

    def command_config(self, request: ConfigRequest) -> dict:
        """Read (empty `params`) or change settings. Keys: a param of the addressed strategy (`strategy`,
        or the only one), `<strategy id>.<param>`, or a client key (log_level). All keys are checked
        before anything changes; unknown ones -> 400 "Invalid param key(s): [...]"."""
        try:
            chosen = self._chosen(request.strategy)
        except StrategyError as problem:
            return error(f"data.{problem}")
        single = chosen[0] if len(chosen) == 1 else None
        plan: dict[str, dict[str, Any]] = {}      # strategy id -> params to change
        sent_as: list[tuple[str, str, str]] = []   # (key as sent, strategy id, param)
        client: dict[str, Any] = {}
        invalid = []
        for key, value in request.params:
            if key in self.CLIENT_KEYS:
                client[key] = value
                continue
            target, _, name = key.rpartition(".")
            slot = self.slots.get(target) if target else single
            if slot is None or (request.strategy is not None and slot is not single) \
                    or name not in slot.cls.Params.model_fields:
                invalid.append(key)
                continue
            plan.setdefault(slot.id, {})[name] = value
            sent_as.append((key, slot.id, name))
        if invalid:
            return error(f"Invalid param key(s): {invalid}")
        level = client.get("log_level")
        if level is not None and (not isinstance(level, str) or level.upper() not in logging.getLevelNamesMapping()):
            return error(f"data.params.log_level: unknown log level {level!r} (use DEBUG, INFO, WARNING or ERROR)")
        validated = {}
        for slot_id, changes in plan.items():
            slot = self.slots[slot_id]
            merged = {**slot.resolved.entry.params, **changes}
            try:
                validated[slot_id] = slot.resolved.spec.validate_params(merged, "data.params")
            except StrategyLoadError as problem:
                return error(str(problem))
        changes: list[list[Any]] = []
        if level is not None:
            logging.getLogger("hive").setLevel(level.upper())
            changes.append(["log_level", level.upper()])
        for slot_id, params in validated.items():
            slot = self.slots[slot_id]
            entry = slot.resolved.entry.model_copy(update={"params": {**slot.resolved.entry.params, **plan[slot_id]}})
            slot.resolved = ResolvedStrategy(entry, slot.resolved.spec, params, slot.resolved.trading_pair)
            slot.ctx.params = params          # read by the strategy from its next hook on
            self.config = self.config.model_copy(update={"strategies": [
                entry if item.id == slot_id else item for item in self.config.strategies]})
        for key, slot_id, name in sent_as:
            changes.append([key, getattr(validated[slot_id], name)])
        if changes:
            self.logger.info("config changed: %s", changes)
        return ok(changes=changes, config=self._config_view(chosen, single))

    def _config_view(self, chosen: list[StrategySlot], single: StrategySlot | None) -> dict:
        client = {"log_level": logging.getLevelName(logging.getLogger("hive").getEffectiveLevel()),
                  "instance_id": self.config.instance_id}
        client.update({key: value for key, value in self.config.mqtt_bridge.model_dump().items()
                       if key != "mqtt_password"})
        if single is not None:
            strategy = {"id": single.id, "strategy": single.resolved.spec.name, **single.ctx.params.model_dump()}
        else:
            strategy = {slot.id: {"strategy": slot.resolved.spec.name, **slot.ctx.params.model_dump()}
                        for slot in chosen}
        return {"client": client, "strategy": strategy}

    def command_import(self, request: ImportRequest) -> dict:
        """Load `<strategy>.yml` from the config dir: an instance config fragment with `strategies:`
        (entries as in the instance config). Each is added stopped (`start` starts it); an entry whose
        id exists replaces that strategy when it is not running."""
        if self.config_dir is None:
            return error("data.strategy: this instance has no config dir to import from")
        path = self.config_dir / f"{request.strategy}.yml"
        try:
            fragment = yaml.safe_load(path.read_text())
        except OSError:
            return error(f"data.strategy: {path.name} not found in {self.config_dir}")
        except yaml.YAMLError as problem:
            return error(f"data.strategy: {path.name} is not valid YAML: {problem}")
        entries = fragment.get("strategies") if isinstance(fragment, dict) else None
        if not isinstance(entries, list) or not entries:
            return error(f"data.strategy: {path.name}: strategies: expected a non-empty list of strategy entries")
        ids = [entry.get("id") for entry in entries if isinstance(entry, dict)]
        busy = [slot_id for slot_id in ids if slot_id in self.slots and self.slots[slot_id].job.status == RUNNING]
        if busy:
            return error(f"data.strategy: {path.name}: strategies {busy} are running; stop them first")
        imported = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                return error(f"data.strategy: {path.name}: strategies.{index}: expected a mapping")
            if entry.get("id") in self.slots:
                self.remove_strategy(entry["id"])
            try:
                imported.append(self.add_strategy(entry, start=False).id)
            except StrategyError as problem:
                return error(f"data.strategy: {path.name}: strategies.{index}.{problem}",
                             imported=imported)
        self._notify(f"imported {path.name}: {', '.join(imported)}")
        return ok(f"imported {', '.join(imported)}; start to run", imported=imported)

    EXCHANGE_NAMES = ("sim", "sim_paper_trade", "paper_trade")

    def command_balance_limit(self, request: BalanceLimitRequest) -> dict:
        """Cap how much of `asset` the paper accounts (or the addressed strategy's) may use for orders."""
        if request.exchange not in self.EXCHANGE_NAMES:
            return error(f"data.exchange: unknown exchange {request.exchange!r}; this instance trades on "
                         f"{', '.join(self.EXCHANGE_NAMES)}")
        return self._set_on_accounts(
            request.strategy, lambda account: account.limits.__setitem__(request.asset, request.amount),
            f"Limit for {request.asset} on {request.exchange} exchange set to {request.amount:g}")

    def command_balance_paper(self, request: BalancePaperRequest) -> dict:
        """Set the paper balance of `asset` (in every strategy's account, or the addressed one's)."""
        return self._set_on_accounts(
            request.strategy, lambda account: account.balances.__setitem__(request.asset, request.amount),
            f"Paper balance for {request.asset} token set to {request.amount:g}")

    def _set_on_accounts(self, strategy_id: str | None, change: Callable[[PaperAccount], None], text: str) -> dict:
        """Apply `change` to the addressed strategy's paper account, or to every one; reply with `text`."""
        try:
            chosen = self._chosen(strategy_id)
        except StrategyError as problem:
            return error(f"data.{problem}")
        for slot in chosen:
            change(slot.account)
        text = f"{text} ({', '.join(slot.id for slot in chosen)})"
        self.logger.info("%s", text)
        return ok(data=text)

    def _chosen(self, strategy_id: str | None) -> list[StrategySlot]:
        return list(self.slots.values()) if strategy_id is None else [self._slot(strategy_id)]

    def _in_loop(self) -> bool:
        """Whether a running event loop can take work for later (realtime); virtual time does it inline."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return self.clock.realtime

    def _later(self, action: Callable[[], Any]) -> None:
        """Background work of an async_backend command: on the loop right after the reply is sent."""
        def run() -> None:
            try:
                outcome = action()
            except Exception:
                self.logger.exception("background command failed")
                return
            if isinstance(outcome, dict) and outcome.get("status") == 400:
                self._notify(outcome.get("msg", "command failed"))
        asyncio.get_running_loop().call_soon(run)

    # hive extensions (PROTOCOL.md): P/strategy/add, P/strategy/remove, P/strategy/reload, P/strategy/resume,
    # and `strategy` in start/stop. A bad field is a 400 naming it (data.<field>: ...).

    def command_strategy_add(self, request: StrategyAddRequest) -> dict:
        try:
            slot = self.add_strategy(request.entry(), start=request.start)
        except StrategyError as problem:
            return error(f"data.{problem}")
        if slot.job.status == ERROR:
            return error(f"added {slot.id}, but it failed to start: {slot.job.last_error}", strategy=slot.id)
        self._notify(f"strategy {slot.id} added" + (" and started" if slot.job.status == RUNNING else ""))
        return ok(strategy=slot.id, strategy_status=slot.job.status)

    def command_strategy_remove(self, request: StrategyRemoveRequest) -> dict:
        cancel = not request.skip_order_cancellation
        return self._one_strategy(request.strategy, "remove", lambda slot: self.remove_strategy(slot, cancel))

    def command_strategy_reload(self, request: StrategyReloadRequest) -> dict:
        return self._one_strategy(request.strategy, "reload", lambda slot: self.reload_strategy(
            slot, keep_state=request.keep_state, reset_metrics=request.reset_metrics,
            cancel_orders=request.cancel_orders))

    def command_strategy_resume(self, request: StrategyRequest) -> dict:
        return self._one_strategy(request.strategy, "resume", self.resume_strategy)

    def _start_one(self, slot: StrategySlot) -> bool:
        if slot.job.status == RUNNING:
            raise StrategyError(f"strategy: {slot.id!r} is already running")
        return self.start_strategy(slot)

    def _one_strategy(self, strategy_id: str, verb: str, action: Callable[[StrategySlot], Any]) -> dict:
        """Run one lifecycle action for one strategy and turn the outcome into a reply."""
        try:
            slot = self._slot(strategy_id)
            outcome = action(slot)
        except StrategyError as problem:
            return error(f"data.{problem}")
        self._drain()
        if outcome is False:
            return error(f"{verb} {slot.id} failed: {slot.job.last_error}", strategy=slot.id,
                         strategy_status=slot.job.status)
        past = {"stop": "stopped", "start": "started", "remove": "removed", "reload": "reloaded",
                "resume": "resumed"}[verb]
        self._notify(f"strategy {slot.id} {past}")
        return ok(strategy=slot.id, strategy_status=slot.job.status if verb != "remove" else "removed")

    def _notify(self, msg: str) -> None:
        if self.bridge is not None:
            self.bridge.notify(msg)


def _entry_problem(problem: ValidationError, index: int) -> str:
    """A validation error of the instance config with one added entry, about that entry's fields."""
    prefix = f"strategies.{index}."
    lines = []
    for item in problem.errors():
        location = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        line = f"{location}: {message}" if location else message
        lines.append(line[len(prefix):] if line.startswith(prefix) else line)
    return "; ".join(lines)


def _decode_payload(payload: bytes) -> Any:
    text = payload.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _not_started(_now: float) -> None:
    raise RuntimeError("strategy ticked before it was started")
