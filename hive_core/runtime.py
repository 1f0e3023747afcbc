"""Wires an instance together: config -> venue -> paper accounts -> strategies -> clock/scheduler -> bridge,
and runs its loops.

Everything runs on one asyncio loop in one thread. The clock says which slots are due; slot 0 is
the venue, the others are strategies. In realtime the venue is a network venue (`venue.url`, or the
embedded SimServer on 127.0.0.1:<free port>, which steps its market every `step_interval`): one
multiplexed stream connection and one WS API connection for all strategies (VenueClient), and
slot 0 hands the books and trades received since its last run to the strategies. In virtual time
slot 0 steps the in-process engine. Venue
callbacks for a strategy (order updates, books, trades, external events) are queued and delivered
after the current batch of ticks, so a strategy is never re-entered from inside its own hook.

Orders: ONE `OrderManager` per venue (`self.orders`, built from the config's venue limits and every
strategy's priority and quota; in realtime the limits the venue publishes replace the configured ones once it
connects) is the only way orders reach the venue. Realtime: its transport is
the VenueClient's WS API connection (`VenueApiTransport`), so orders really travel over the socket
and the venue's enforced limits apply, and updates come back as executionReports on the user data
stream of that same connection; its timers are asyncio timers. Virtual time: it serves the
in-process engine (`InProcessTransport`) and its timers (`VirtualTimers`) fire in step with the
clock. Updates are attributed to strategies by client order id prefix (`Delivery.route_update`).

The parts: `host` (hive_core.host) keeps the strategies and their lifecycle, `delivery`
(hive_core.delivery) hands them updates and events, `reports` (hive_core.reports) builds the
report payloads, `controller` (hive_core.remote.controller) serves the remote commands, and `link`
reaches the MQTT bridge once run() has started it.

`run()` is the realtime mode used by `python -m hive_core run`; `run_virtual()` runs the same
wiring in virtual time (no bridge) for tests and backtests.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hive_core import build_info, metrics
from hive_core.clock import Clock
from hive_core.config import ConfigError, InstanceConfig, SimVenueConfig
from hive_core.credentials import VenueCredentials
from hive_core.delivery import Delivery
from hive_core.host import StrategyHost, StrategySlot, add_job
from hive_core.loader import ResolvedStrategy, StrategyLoader
from hive_core.market.venue import Venue
from hive_core.market.venue_client import VENUE_METRICS, VenueClient
from hive_core.orders.manager import OrderManager
from hive_core.orders.timers import LoopTimers, VirtualTimers
from hive_core.orders.transport import InProcessTransport, OrderTransport
from hive_core.remote.bridge import BRIDGE_METRICS, MqttBridge
from hive_core.remote.commands import CommandRouter
from hive_core.remote.controller import RemoteController
from hive_core.remote.journal import Journal
from hive_core.remote.link import BridgeLink
from hive_core.reports import Reports
from hive_core.scheduler import INF, Job, Scheduler
from hive_core.sim.exchange import SimExchange
from hive_core.sim.server import SimServer
from hive_core.venues import RealtimeVenue

if TYPE_CHECKING:
    from hive_core.prometheus import MetricsServer

MAX_IDLE_SLEEP = 0.2
BATCH_SLICE = 0.1          # realtime: seconds one batch of ticks may take before the rest is deferred
VENUE_SYNC_TIMEOUT = 5.0   # seconds run() waits for the venue's books before starting strategies
VENUE_CANCEL_WAIT = 1.0    # seconds shutdown waits for a remote venue to confirm the cancels
ORDER_DRAIN_WAIT = 2.0     # seconds shutdown waits for the order manager to send its queue (the cancels)
SYSTEM_PRIORITY = 1 << 40  # the venue job goes first under every policy
# Realtime: how long a worker thread (rendering the Prometheus text) may keep the GIL while the tick loop waits
# for it. Python's default, 5 ms, is what such a thread added to a tick's lag each time the loop woke up.
GIL_SWITCH_INTERVAL = 0.0005


class Runtime:
    """One instance: its parts wired together, and the loops that run them (realtime or virtual time)."""

    def __init__(self, config: InstanceConfig, resolved: list[ResolvedStrategy], *, realtime: bool = True,
                 start_time: float | None = None, max_failures: int | None = None,
                 loader: StrategyLoader | None = None, config_dir: Path | None = None,
                 credentials: VenueCredentials | None = None) -> None:
        """`config_dir`: where the import command finds `<name>.yml` (the CLI passes the config's folder);
        `credentials`: the venue's, which live orders are signed with (hive_core/credentials.py)."""
        self.logger = logging.getLogger("hive.runtime")
        self.clock = Clock(realtime=realtime, start_time=time.time() if start_time is None else start_time)
        sched = config.scheduler
        self.scheduler = Scheduler(
            max_failures=sched.max_consecutive_failures if max_failures is None else max_failures,
            on_quarantine=self._on_quarantine, policy=sched.policy, tick_budget=sched.tick_budget_ms / 1000.0,
            max_overruns=sched.max_consecutive_overruns, batch_slice=BATCH_SLICE if realtime else INF,
            realtime=realtime)
        self.metrics = metrics.MetricsRegistry(config.instance_id)
        self.metrics_server: MetricsServer | None = None
        self.link = BridgeLink()
        slots: dict[str, StrategySlot] = {}     # filled by the host; read by the delivery and the reports
        self.delivery = Delivery(slots, self.scheduler.guard, self.link, self.logger)
        # The venue. Virtual time: the in-process engine, stepped by slot 0 (backtests run on the simulated venue
        # alone). Realtime: a network venue reached through one VenueClient (hive_core/venues.py): one stream
        # connection + one WS API connection for all strategies; orders go over that WS API connection, or, paper
        # trading on a live venue, to the paper venue that matches them here against the live book.
        self.exchange = SimExchange(config.venue, self.clock.now) if isinstance(config.venue, SimVenueConfig) \
            else None   # the engine (embedded or virtual)
        self.realtime_venue: RealtimeVenue | None = None
        if realtime:
            live = self.realtime_venue = RealtimeVenue(config.venue, now=self.clock.now, credentials=credentials,
                                                       engine=self.exchange)
            self.venue_client: VenueClient | None = live.client
            self.venue: Venue = live.venue
            transport: OrderTransport = live.transport
            self.timers: LoopTimers | VirtualTimers = LoopTimers(time.monotonic)
            order_clock: Callable[[], float] = time.monotonic
            if live.client is not None:
                self.metrics.add_instance_collector("venue", live.client.metrics, describe=VENUE_METRICS)
        else:
            if self.exchange is None:
                raise ConfigError(f"venue.kind: {config.venue.kind} trades in realtime only; backtests run on the "
                                  "simulated venue (kind sim)")
            self.venue_client = None
            self.venue = self.exchange
            self.exchange.add_market_listener(self.delivery.on_market)
            transport = InProcessTransport(self.exchange)
            self.timers = VirtualTimers(self.clock.now())
            order_clock = self.clock.now
        self.venue.add_order_listener(self.delivery.route_update)
        # The single submission path of this venue: limits, quotas, priorities, fair queuing, back-off.
        self.orders = OrderManager.from_config(config.venue, config.strategies, transport, clock=order_clock,
                                               timers=self.timers, logger=logging.getLogger("hive.orders"))
        self.reports = Reports(self.metrics, slots, clock=self.clock, scheduler=self.scheduler, orders=self.orders,
                               venue=self.venue)
        self.host = StrategyHost(config, loader if loader is not None else StrategyLoader(config.strategy_dirs),
                                 clock=self.clock, scheduler=self.scheduler, orders=self.orders, venue=self.venue,
                                 delivery=self.delivery, link=self.link, slots=slots)
        self.controller = RemoteController(self.host, delivery=self.delivery, reports=self.reports, link=self.link,
                                           clock=self.clock, config_dir=config_dir)
        self.config_dir = config_dir
        self._stop_requested = False
        self._log_handler: logging.Handler | None = None

        venue_job = Job("venue", self._step_venue, logging.getLogger("hive.venue"), priority=SYSTEM_PRIORITY,
                        interval=config.venue.step_interval, system=True)
        add_job(self.clock, self.scheduler, venue_job, config.venue.step_interval, phase=0.0)
        for item in resolved:
            self.host.add_slot(item)

    @property
    def config(self) -> InstanceConfig:
        """The instance config as it stands (strategies added, removed or given new params included)."""
        return self.host.config

    def _on_quarantine(self, job: Job) -> None:
        self.host.quarantined(job)

    # ---- venue --------------------------------------------------------------------------------

    def _step_venue(self, _now: float) -> None:
        if self.realtime_venue is not None:
            self.realtime_venue.drain(self.delivery.on_market)  # books/trades received since the last step
        elif self.exchange is not None:
            self.exchange.step()                                # virtual time: step the engine here

    @property
    def sim_server(self) -> SimServer | None:
        """The embedded simulated venue, while it runs."""
        return self.realtime_venue.sim_server if self.realtime_venue is not None else None

    async def start_venue(self, timeout: float = VENUE_SYNC_TIMEOUT) -> None:
        """Realtime: start the embedded venue when there is one, connect, wait (bounded) for the books."""
        live = self.realtime_venue
        if live is None or live.started:
            return
        synced = await live.start(timeout)
        self.orders.adopt_limits(live.published_limits)
        if not synced:
            self.logger.warning("venue %s: order books not synced after %gs; continuing", live.name, timeout)
        self.logger.info("venue %s at %s: one connection set for %d strategies", live.name, live.address,
                         len(self.host.slots))

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
        live = self.realtime_venue
        if live is not None:
            # Give the cancels sent by stop_all a moment to be confirmed (executionReports).
            loop = asyncio.get_running_loop()
            deadline = loop.time() + VENUE_CANCEL_WAIT
            while live.open_orders() and loop.time() < deadline:
                await asyncio.sleep(0.02)
            await live.stop()

    # ---- loops -------------------------------------------------------------------------------

    def _run_batch(self, due: list, now: float, scheduled: list | None = None) -> None:
        self.scheduler.run_due(due, now, scheduled)
        self.delivery.drain()

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
            reports, delivery = self.reports, self.delivery
            router = CommandRouter(self.controller, report=self.link.report_command)
            journal = self.link.journal = self._open_journal()
            bridge = self.link.bridge = MqttBridge(
                settings, self.config.instance_id, router=router,
                performance=reports.performance_report, metrics=reports.metrics_report,
                performance_parts=reports.performance_json_parts, on_external_event=delivery.deliver_event,
                on_topic_message=delivery.deliver_topic, raw_topics=delivery.raw_topics,
                journal=journal, pnl_points=reports.pnl_points, pnl_interval=self.config.journal.pnl_interval)
            if settings.mqtt_logger:
                self._log_handler = bridge.log_handler()
                logging.getLogger("hive").addHandler(self._log_handler)
            self.metrics.add_instance_collector("mqtt", bridge.backlog_figures, describe=BRIDGE_METRICS)
            bridge.start(loop)
        if self.config.metrics_port is not None:
            from hive_core.prometheus import MetricsServer  # only here: prometheus_client costs every instance ~1.5 MB
            self.metrics_server = MetricsServer(self.reports.metrics_snapshot_sliced, self.config.metrics_port)
            try:
                await self.metrics_server.start()
            except OSError as problem:
                self.logger.error("metrics_port %s: cannot listen on 127.0.0.1 (%s); running without /metrics",
                                  self.config.metrics_port, problem.strerror or problem)
                self.metrics_server = None
        for warning in build_info.stale_warnings():
            self.logger.warning("%s", warning)
        await self.start_venue()
        # What start-up built lives as long as the instance: keep it out of the cyclic GC's full
        # collections (~100 ms pauses of the tick loop at 1,000 strategies otherwise). The collection
        # itself takes about that long, so it runs before the clock starts, where it delays no tick.
        gc.collect()
        gc.freeze()
        self.clock.start()
        self.host.start_all()
        self.delivery.drain()
        gc.freeze()   # and what the strategies' on_start built (no collection: cheap)
        self.logger.info("instance %s running %d strategies (%d started); clock %s", self.config.instance_id,
                         len(self.host.slots), len(self.host.running), build_info.describe(build_info.clock))
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        try:
            await self._tick_loop()
        finally:
            sys.setswitchinterval(switch_interval)
            await self._shutdown()
            if install_signal_handlers:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)

    def _open_journal(self) -> Journal | None:
        """The journal in the instance's folder (the config's), when enabled and the folder is known."""
        settings = self.config.journal
        if not settings.enabled or self.config_dir is None:
            return None
        journal = Journal(self.config_dir / settings.dir, segment_bytes=settings.segment_bytes,
                          max_bytes=settings.max_bytes, run=self.link.run)
        self.logger.info("journal %s, run %s", journal.directory, journal.run)
        return journal

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
        self.host.stop_all(cancel_orders=True)
        await self.drain_orders()          # the cancels reach the venue before its connections close
        self.orders.stop()
        await self.stop_venue()
        if self.metrics_server is not None:
            await self.metrics_server.stop()
        bridge = self.link.bridge
        if bridge is not None:
            bridge.publish_performance()
            if self._log_handler is not None:
                logging.getLogger("hive").removeHandler(self._log_handler)
                self._log_handler = None
            await bridge.stop()
        if self.link.journal is not None:
            self.link.journal.close()

    # ---- virtual-time mode --------------------------------------------------------------------

    def run_virtual(self, duration: float) -> None:
        """Run `duration` seconds of virtual time as fast as possible (the clock must be in backtest mode)."""
        if self.clock.realtime:
            raise RuntimeError("run_virtual needs a Runtime built with realtime=False")
        if not self.clock.started:
            self.clock.start()
            self.host.start_all()
            self.delivery.drain()
        clock = self.clock
        timers = self.timers
        assert isinstance(timers, VirtualTimers)     # what a Runtime built with realtime=False has
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
                self.delivery.drain()
                continue
            if tick_at > end:
                break
            due.clear()
            scheduled.clear()
            now = clock.advance(due, scheduled)
            self._run_batch(due, now, scheduled)
        clock.set_time(end)
        timers.run_due(end)
        self.delivery.drain()
