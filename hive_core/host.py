"""Hosts the strategies of one instance: one StrategySlot each, and their lifecycle.

One strategy at a time, while the others keep trading: start, stop, resume, add, remove, reload;
start_all/stop_all for the whole instance, and what happens when the scheduler quarantines one.
Each takes a strategy id (or its StrategySlot); a bad request raises StrategyError naming the field.
The host also keeps the instance config as it stands (entries added, removed or given new params).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from hive_core import protocol
from hive_core.clock import Clock
from hive_core.config import InstanceConfig, StrategyEntry
from hive_core.context import EventsAPI, MarketView, StrategyContext
from hive_core.delivery import Delivery
from hive_core.loader import ResolvedStrategy, StrategyLoader, StrategyLoadError
from hive_core.market.venue import Venue
from hive_core.orders.handle import OrderHandle
from hive_core.orders.manager import OrderManager
from hive_core.orders.paper import PaperAccount
from hive_core.remote.link import BridgeLink
from hive_core.scheduler import ERROR, RUNNING, STOPPED, Job, Scheduler
from hive_core.strategy import Strategy, overrides
from hive_core.validation import describe_validation_error

if TYPE_CHECKING:
    from hive_core.reports import SchedulingSummary


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
        self.scheduling_summary: SchedulingSummary | None = None   # the reports' figures of the last samples

    @property
    def cls(self) -> type[Strategy]:
        return self.resolved.spec.cls


def add_job(clock: Clock, scheduler: Scheduler, job: Job, interval: float, phase: float = -1.0) -> int:
    """The clock picks the slot id (reusing released ones); the scheduler files the job under it."""
    slot = clock.add(interval, phase)
    job.interval = interval
    scheduler.add(job, slot)
    return slot


class StrategyHost:
    """The strategies of one instance, by id, and everything that changes which of them run."""

    def __init__(self, config: InstanceConfig, loader: StrategyLoader, *, clock: Clock, scheduler: Scheduler,
                 orders: OrderManager, venue: Venue, delivery: Delivery, link: BridgeLink,
                 slots: dict[str, StrategySlot]) -> None:
        self.config = config
        self.loader = loader
        self.clock = clock
        self.scheduler = scheduler
        self.orders = orders
        self.venue = venue
        self.delivery = delivery
        self.link = link
        self.slots = slots      # shared with the delivery and the reports, which only read it
        self.logger = logging.getLogger("hive.runtime")

    # ---- hosting ------------------------------------------------------------------------------

    def add_slot(self, item: ResolvedStrategy) -> StrategySlot:
        """A slot for a resolved entry: its paper account, order handle, job (paused) and context."""
        entry = item.entry
        logger = logging.getLogger(f"hive.strategy.{entry.id}")
        account = PaperAccount(item.trading_pair, self.config.paper.balances)
        handle = OrderHandle(entry.id, item.trading_pair, self.venue, account, self.delivery.route_update,
                             self.clock.now, logger, manager=self.orders)
        job = Job(entry.id, _not_started, logger, status=STOPPED, priority=entry.priority, interval=entry.interval)
        market = MarketView(self.venue, item.trading_pair)
        settings = self.config.mqtt_bridge
        events = EventsAPI(enabled=settings.mqtt_external_events,
                           prefix=protocol.topic_prefix(settings.mqtt_namespace, self.config.instance_id),
                           publisher=self.link.publish, topic_subscriber=self.link.subscribe_topic)
        ctx = StrategyContext(strategy_id=entry.id, strategy_name=entry.strategy, params=item.params,
                              trading_pair=item.trading_pair, orders=handle, account=account, market=market,
                              metrics=job, now=self.clock.now, events=events)
        add_job(self.clock, self.scheduler, job, entry.interval)
        self.clock.pause(job.slot)
        slot = StrategySlot(item, ctx, job, handle, account)
        self.slots[entry.id] = slot
        return slot

    def slot(self, strategy: StrategySlot | str) -> StrategySlot:
        """The slot of a strategy id; StrategyError naming the known ids when there is none."""
        if isinstance(strategy, StrategySlot):
            return strategy
        slot = self.slots.get(strategy)
        if slot is None:
            known = ", ".join(self.slots) or "none"
            raise StrategyError(f"strategy: unknown strategy id {strategy!r}; known: {known}")
        return slot

    def chosen(self, strategy_id: str | None) -> list[StrategySlot]:
        """The addressed strategy, or every one when no id is given."""
        return list(self.slots.values()) if strategy_id is None else [self.slot(strategy_id)]

    @property
    def running(self) -> list[StrategySlot]:
        return [slot for slot in self.slots.values() if slot.job.status == RUNNING]

    # ---- lifecycle ----------------------------------------------------------------------------

    def start_strategy(self, strategy: StrategySlot | str) -> bool:
        """(Re)create the strategy object and call on_start; a failure puts only this one in error."""
        slot = self.slot(strategy)
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
        slot = self.slot(strategy)
        job = slot.job
        if job.status == RUNNING:
            instance = slot.strategy
            if instance is not None:
                self.scheduler.guard(job, lambda _arg: instance.on_stop(), None, "on_stop")
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
        slot = self.slot(strategy)
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
        index = len(self.config.strategies)
        # The new entry alone is validated and checked against the others (validating the whole config again made
        # adding the n-th strategy cost O(n): 1,000 added one by one took 25 s).
        try:
            new_entry = entry if isinstance(entry, StrategyEntry) else StrategyEntry.model_validate(entry)
            self.config.check_entry(index, new_entry, {item.id for item in self.config.strategies})
        except ValidationError as problem:
            raise StrategyError(describe_validation_error(problem)) from None
        except ValueError as problem:
            raise StrategyError(str(problem).removeprefix(f"strategies.{index}.")) from None
        config = self.config.model_copy(update={"strategies": [*self.config.strategies, new_entry]})
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
        slot = self.add_slot(ResolvedStrategy(new_entry, spec, params, config.pair_of(new_entry)))
        self.logger.info("added strategy %s (%s)", slot.id, spec.name)
        if start:
            self.start_strategy(slot)
            self.delivery.drain()
        return slot

    def remove_strategy(self, strategy: StrategySlot | str, cancel_orders: bool = True) -> None:
        """Stop it (on_stop, cancel its orders), then forget it: no more ticks, reports or metrics."""
        slot = self.slot(strategy)
        self.stop_strategy(slot, cancel_orders)    # cancels go to the manager first (queued ones withdrawn)
        self.orders.remove_strategy(slot.id)       # its queued cancels still go; new orders are withdrawn
        self.delivery.drain()
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
        slot = self.slot(strategy)
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
        self.delivery.drain()
        slot.resolved = ResolvedStrategy(slot.resolved.entry, spec, params, slot.resolved.trading_pair)
        slot.ctx.params = params
        if not keep_state:
            slot.ctx.state = {}
        if reset_metrics:
            job.reset_metrics()
            slot.scheduling_summary = None
        slot.ctx.logger.info("reloaded %s from %s", slot.id, spec.path)
        started = self.start_strategy(slot) if restart else True
        self.delivery.drain()
        return started

    def update_params(self, slot: StrategySlot, changes: dict[str, Any], params: BaseModel) -> None:
        """New param values (`changes`, already validated as `params`): read by the strategy from its
        next hook on, and kept in its config entry."""
        entry = slot.resolved.entry.model_copy(update={"params": {**slot.resolved.entry.params, **changes}})
        slot.resolved = ResolvedStrategy(entry, slot.resolved.spec, params, slot.resolved.trading_pair)
        slot.ctx.params = params
        self.config = self.config.model_copy(update={"strategies": [
            entry if item.id == slot.id else item for item in self.config.strategies]})

    def start_all(self) -> int:
        """Start every strategy not running; the number that started."""
        return sum(1 for slot in list(self.slots.values())
                   if slot.job.status != RUNNING and self.start_strategy(slot))

    def stop_all(self, cancel_orders: bool = True) -> None:
        for slot in list(self.slots.values()):
            self.stop_strategy(slot, cancel_orders)
        self.delivery.drain()

    def quarantined(self, job: Job) -> None:
        """The scheduler put `job` in error: no more ticks, its orders cancelled, the operator told."""
        self.clock.pause(job.slot)
        slot = self.slots.get(job.name)
        if slot is not None:
            slot.handle.cancel_all()
            self.link.notify(f"strategy {job.name} is in error: {job.last_error}")


def _not_started(_now: float) -> None:
    raise RuntimeError("strategy ticked before it was started")
