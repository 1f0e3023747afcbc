"""The remote controller: every command of the protocol (hive_core.protocol), on one instance's strategies.

Called on the loop thread by the bridge's CommandRouter, between batches of ticks. Each command
returns the reply's data fields (`ok(...)` / `error(...)`); a bad field or an unknown strategy id is
a 400 naming the field (`data.strategy: unknown strategy id 'x'; known: a, b`). With
`async_backend` true (the default) a command that takes long is acknowledged at once and done on
the next turn of the loop, its outcome going to P/notify; in virtual time it is done inline.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hive_core.clock import Clock
from hive_core.config import ConfigError, read_yaml
from hive_core.delivery import Delivery
from hive_core.host import StrategyError, StrategyHost, StrategySlot
from hive_core.loader import StrategyLoadError
from hive_core.orders.paper import PaperAccount
from hive_core.protocol import (
    BalanceLimitRequest,
    BalancePaperRequest,
    ConfigRequest,
    HistoryRequest,
    ImportRequest,
    JournalRequest,
    StartRequest,
    StatusRequest,
    StopRequest,
    StrategyAddRequest,
    StrategyReloadRequest,
    StrategyRemoveRequest,
    StrategyRequest,
)
from hive_core.remote.commands import error, ok
from hive_core.remote.link import BridgeLink
from hive_core.reports import Reports
from hive_core.scheduler import ERROR, RUNNING

# Live settings of the instance ("client") the config command may change.
CLIENT_KEYS = ("log_level",)
# The exchange names balance/limit accepts: the paper accounts of this instance's venue.
EXCHANGE_NAMES = ("sim", "sim_paper_trade", "paper_trade")
_PAST = {"stop": "stopped", "start": "started", "remove": "removed", "reload": "reloaded", "resume": "resumed"}


class RemoteController:
    """Implements hive_core.remote.commands.Controller on a StrategyHost."""

    def __init__(self, host: StrategyHost, *, delivery: Delivery, reports: Reports, link: BridgeLink, clock: Clock,
                 config_dir: Path | None = None) -> None:
        self.host = host
        self.delivery = delivery
        self.reports = reports
        self.link = link
        self.clock = clock
        self.config_dir = config_dir   # where `import` finds <name>.yml
        self.logger = logging.getLogger("hive.runtime")

    # ---- start, stop, status ------------------------------------------------------------------

    def command_start(self, request: StartRequest) -> dict:
        """async_backend true (the default): checks now, acknowledges, starts on the next loop turn
        (the outcome goes to P/notify); false: starts, then replies with the outcome."""
        host = self.host
        if request.log_level:
            logging.getLogger("hive").setLevel(request.log_level)
        if request.strategy is not None:
            if not request.async_backend or not self._in_loop():
                return self._one_strategy(request.strategy, "start", self._start_one)
            try:
                slot = host.slot(request.strategy)
                if slot.job.status == RUNNING:
                    raise StrategyError(f"strategy: {slot.id!r} is already running")
            except StrategyError as problem:
                return error(f"data.{problem}")
            self._later(lambda: self._one_strategy(slot.id, "start", self._start_one))
            return ok(strategy=slot.id, strategy_status="starting")
        if host.running:
            return error("Strategy is already running: " + ", ".join(slot.id for slot in host.running))
        if not host.slots:
            return error("No strategy is imported and no script given: import one first")
        if request.script:
            self.logger.info("start: ignoring script %r; hive_core runs the strategies of its config", request.script)
        if request.async_backend and self._in_loop():
            self._later(self._start_everything)
            return ok()
        return self._start_everything()

    def _start_everything(self) -> dict:
        host = self.host
        started = host.start_all()
        self.delivery.drain()
        failed = [slot.id for slot in host.slots.values() if slot.job.status == ERROR]
        if started == 0:
            reason = "no strategy could be started: " + "; ".join(
                f"{slot.id}: {slot.job.last_error}" for slot in host.slots.values())
            self.link.notify(reason)
            return error(reason)
        self.link.notify(f"started {started} strateg{'y' if started == 1 else 'ies'}"
                         + (f"; in error: {', '.join(failed)}" if failed else ""))
        return ok("" if not failed else f"started {started}; in error: {', '.join(failed)}")

    def _start_one(self, slot: StrategySlot) -> bool:
        if slot.job.status == RUNNING:
            raise StrategyError(f"strategy: {slot.id!r} is already running")
        return self.host.start_strategy(slot)

    def command_stop(self, request: StopRequest) -> dict:
        host = self.host
        cancel = not request.skip_order_cancellation
        if request.strategy is not None:
            if not request.async_backend or not self._in_loop():
                return self._one_strategy(request.strategy, "stop", lambda slot: host.stop_strategy(slot, cancel))
            try:
                slot = host.slot(request.strategy)
            except StrategyError as problem:
                return error(f"data.{problem}")
            self._later(lambda: self._one_strategy(slot.id, "stop", lambda one: host.stop_strategy(one, cancel)))
            return ok(strategy=slot.id, strategy_status="stopping")
        if request.async_backend and self._in_loop():
            self._later(lambda: self._stop_everything(cancel))
            return ok()
        return self._stop_everything(cancel)

    def _stop_everything(self, cancel: bool) -> dict:
        was_running = len(self.host.running)
        self.host.stop_all(cancel_orders=cancel)
        if was_running:
            self.link.notify(f"stopped {was_running} strateg{'y' if was_running == 1 else 'ies'}")
        return ok()

    def command_status(self, request: StatusRequest) -> dict:
        """Sync: the status text in `data`. async_backend true: acknowledged with an empty `data`, the
        text follows on P/notify (as Hummingbot prints it to its notifier)."""
        try:
            chosen = self.host.chosen(request.strategy)
        except StrategyError as problem:
            return error(f"data.{problem}")
        if not any(slot.job.status == RUNNING for slot in chosen):
            return error("No strategy is currently running!")
        ids = {slot.id for slot in chosen}
        if request.async_backend and self._in_loop():
            self._later(lambda: self.link.notify(self.reports.status_text(ids)))
            return ok(data="")
        return ok(data=self.reports.status_text(ids))

    # ---- history and config -------------------------------------------------------------------

    def command_history(self, request: HistoryRequest) -> dict:
        """`trades`: the fills of the last `days` (0: all), oldest first; `precision` rounds prices and
        amounts; `verbose` adds fees and maker flags. async_backend true: `trades` is sent all the same
        (building it never blocks), and a summary goes to P/notify."""
        try:
            chosen = self.host.chosen(request.strategy)
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
            self._later(lambda: self.link.notify(f"history: {count} trade{'' if count == 1 else 's'}"
                                                 + (f" in the last {request.days:g} days" if request.days else "")))
        return ok(trades=trades)

    def command_config(self, request: ConfigRequest) -> dict:
        """Read (empty `params`) or change settings. Keys: a param of the addressed strategy (`strategy`,
        or the only one), `<strategy id>.<param>`, or a client key (log_level). All keys are checked
        before anything changes; unknown ones -> 400 "Invalid param key(s): [...]"."""
        host = self.host
        try:
            chosen = host.chosen(request.strategy)
        except StrategyError as problem:
            return error(f"data.{problem}")
        single = chosen[0] if len(chosen) == 1 else None
        plan: dict[str, dict[str, Any]] = {}      # strategy id -> params to change
        sent_as: list[tuple[str, str, str]] = []   # (key as sent, strategy id, param)
        client: dict[str, Any] = {}
        invalid = []
        for key, value in request.params:
            if key in CLIENT_KEYS:
                client[key] = value
                continue
            target, _, name = key.rpartition(".")
            slot = host.slots.get(target) if target else single
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
        for slot_id, wanted in plan.items():
            slot = host.slots[slot_id]
            merged = {**slot.resolved.entry.params, **wanted}
            try:
                validated[slot_id] = slot.resolved.spec.validate_params(merged, "data.params")
            except StrategyLoadError as problem:
                return error(str(problem))
        changes: list[list[Any]] = []
        if level is not None:
            logging.getLogger("hive").setLevel(level.upper())
            changes.append(["log_level", level.upper()])
        for slot_id, params in validated.items():
            host.update_params(host.slots[slot_id], plan[slot_id], params)
        for key, slot_id, name in sent_as:
            changes.append([key, getattr(validated[slot_id], name)])
        if changes:
            self.logger.info("config changed: %s", changes)
        return ok(changes=changes, config=self._config_view(chosen, single))

    def _config_view(self, chosen: list[StrategySlot], single: StrategySlot | None) -> dict:
        config = self.host.config
        client = {"log_level": logging.getLevelName(logging.getLogger("hive").getEffectiveLevel()),
                  "instance_id": config.instance_id}
        client.update({key: value for key, value in config.mqtt_bridge.model_dump().items()
                       if key != "mqtt_password"})
        strategy: dict[str, Any]
        if single is not None:
            strategy = {"id": single.id, "strategy": single.resolved.spec.name, **single.ctx.params.model_dump()}
        else:
            strategy = {slot.id: {"strategy": slot.resolved.spec.name, **slot.ctx.params.model_dump()}
                        for slot in chosen}
        return {"client": client, "strategy": strategy}

    # ---- import and balances ------------------------------------------------------------------

    def command_import(self, request: ImportRequest) -> dict:
        """Load `<strategy>.yml` from the config dir: an instance config fragment with `strategies:`
        (entries as in the instance config). Each is added stopped (`start` starts it); an entry whose
        id exists replaces that strategy when it is not running."""
        host = self.host
        if self.config_dir is None:
            return error("data.strategy: this instance has no config dir to import from")
        path = self.config_dir / f"{request.strategy}.yml"
        if not path.is_file():
            return error(f"data.strategy: {path.name} not found in {self.config_dir}")
        try:
            fragment = read_yaml(path)
        except ConfigError as problem:
            return error(f"data.strategy: {problem}")
        entries = fragment.get("strategies") if isinstance(fragment, dict) else None
        if not isinstance(entries, list) or not entries:
            return error(f"data.strategy: {path.name}: strategies: expected a non-empty list of strategy entries")
        ids = [entry.get("id") for entry in entries if isinstance(entry, dict)]
        busy = [slot_id for slot_id in ids if slot_id in host.slots and host.slots[slot_id].job.status == RUNNING]
        if busy:
            return error(f"data.strategy: {path.name}: strategies {busy} are running; stop them first")
        imported: list[str] = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                return error(f"data.strategy: {path.name}: strategies.{index}: expected a mapping")
            if entry.get("id") in host.slots:
                host.remove_strategy(entry["id"])
            try:
                imported.append(host.add_strategy(entry, start=False).id)
            except StrategyError as problem:
                return error(f"data.strategy: {path.name}: strategies.{index}.{problem}",
                             imported=imported)
        self.link.notify(f"imported {path.name}: {', '.join(imported)}")
        return ok(f"imported {', '.join(imported)}; start to run", imported=imported)

    def command_balance_limit(self, request: BalanceLimitRequest) -> dict:
        """Cap how much of `asset` the paper accounts (or the addressed strategy's) may use for orders."""
        if request.exchange not in EXCHANGE_NAMES:
            return error(f"data.exchange: unknown exchange {request.exchange!r}; this instance trades on "
                         f"{', '.join(EXCHANGE_NAMES)}")
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
            chosen = self.host.chosen(strategy_id)
        except StrategyError as problem:
            return error(f"data.{problem}")
        for slot in chosen:
            change(slot.account)
        text = f"{text} ({', '.join(slot.id for slot in chosen)})"
        self.logger.info("%s", text)
        return ok(data=text)

    # ---- one strategy at a time (hive extensions) ---------------------------------------------

    def command_strategy_add(self, request: StrategyAddRequest) -> dict:
        try:
            slot = self.host.add_strategy(request.entry(), start=request.start)
        except StrategyError as problem:
            return error(f"data.{problem}")
        if slot.job.status == ERROR:
            return error(f"added {slot.id}, but it failed to start: {slot.job.last_error}", strategy=slot.id)
        self.link.notify(f"strategy {slot.id} added" + (" and started" if slot.job.status == RUNNING else ""))
        return ok(strategy=slot.id, strategy_status=slot.job.status)

    def command_strategy_remove(self, request: StrategyRemoveRequest) -> dict:
        cancel = not request.skip_order_cancellation
        return self._one_strategy(request.strategy, "remove", lambda slot: self.host.remove_strategy(slot, cancel))

    def command_strategy_reload(self, request: StrategyReloadRequest) -> dict:
        return self._one_strategy(request.strategy, "reload", lambda slot: self.host.reload_strategy(
            slot, keep_state=request.keep_state, reset_metrics=request.reset_metrics,
            cancel_orders=request.cancel_orders))

    def command_strategy_resume(self, request: StrategyRequest) -> dict:
        return self._one_strategy(request.strategy, "resume", self.host.resume_strategy)

    def _one_strategy(self, strategy_id: str, verb: str, action: Callable[[StrategySlot], Any]) -> dict:
        """Run one lifecycle action for one strategy and turn the outcome into a reply."""
        try:
            slot = self.host.slot(strategy_id)
            outcome = action(slot)
        except StrategyError as problem:
            return error(f"data.{problem}")
        self.delivery.drain()
        if outcome is False:
            return error(f"{verb} {slot.id} failed: {slot.job.last_error}", strategy=slot.id,
                         strategy_status=slot.job.status)
        self.link.notify(f"strategy {slot.id} {_PAST[verb]}")
        return ok(strategy=slot.id, strategy_status=slot.job.status if verb != "remove" else "removed")

    # ---- the journal (hive extension) ---------------------------------------------------------

    def command_journal(self, request: JournalRequest) -> dict:
        """Records of `run` (the current one when absent) from `since` on, in order and bounded (`limit`, and
        about 256 KiB); with the runs on disk and this run's head, so that a caller knows when it has caught up."""
        journal = self.link.journal
        if journal is None:
            return error("this instance keeps no journal (journal.enabled is false, or it runs without MQTT)")
        runs = journal.runs()
        run = request.run or journal.run
        if run != journal.run and run not in {entry["run"] for entry in runs}:
            return error(f"data.run: no journal of run {run!r} is left; runs: "
                         + ", ".join(entry["run"] for entry in runs), runs=runs, current=journal.head())
        records = journal.read(run, request.since, request.limit) if request.limit else []
        return ok(run=run, records=[{"seq": r.seq, "topic": r.topic, "payload": r.payload} for r in records],
                  runs=runs, current=journal.head())

    # ---- background work of async_backend commands --------------------------------------------

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
                self.link.notify(outcome.get("msg", "command failed"))
        asyncio.get_running_loop().call_soon(run)
