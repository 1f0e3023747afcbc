"""Instances: creating, starting, stopping and deleting them, and deriving their state from what the fleet hears.

State is never "a process exists". It is derived, by `evaluate`, from three facts:
- what the runtime says about the process (alive, or exited with a code and a last output line);
- what the fleet connection heard from the bot over MQTT (heartbeats, online/offline);
- whether the fleet connection itself is up (when the broker is down, nothing can be heard).
`evaluate` runs for every instance on each supervisor tick, and right after operator actions.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import hive_cli
from backend.api.schemas import (
    CommandRequest, InstanceCreate, InstanceOut, LogLine, MarketEvent, Notification, PnlPoint, PnlSummary,
    StateChange, StrategyStatus, Trade,
)
from backend.broker.manager import BrokerManager
from backend.errors import HiveError, not_found
from backend.orchestrator.fleet import BotView, Fleet
from backend.orchestrator.lifecycle import ACTIVE, TRANSITIONS, State, record_creation, transition
from backend.orchestrator.runs import BotRuns, Deployment
from backend.runtimes.base import ProcessState, Resources, Runtime
from backend.runtimes.config_file import build_config, write_instance_files
from backend.settings import Settings
from backend.store import (
    InstanceRow, LogRow, MarketEventRow, NotificationRow, PnlSnapshotRow, StateChangeRow, Store, TradeRow,
)
from backend.strategies.library import StrategyLibrary
from hive_core.protocol import COMMAND_TIMEOUTS

log = logging.getLogger(__name__)

SILENT = "no heartbeat for"
OFFLINE_GRACE = 1.5      # s: an 'offline' is blamed on the connection only if the process does not exit meanwhile
BROKER_DOWN_GRACE = 2.0  # s: a fleet reconnect shorter than this does not put running bots in error
STOP_WAIT = 5.0          # s: how long a stop request waits for the process before answering 'stopping'


class InstanceService:
    def __init__(self, settings: Settings, store: Store, fleet: Fleet, broker: BrokerManager,
                 runtimes: dict[str, Runtime], library: StrategyLibrary) -> None:
        self.settings = settings
        self.store = store
        self.fleet = fleet
        self.broker = broker
        self.runtimes = runtimes
        self.library = library
        self.instances_dir = settings.data_dir / "instances"
        self.started_at = time.time()
        self._lock = threading.RLock()
        self._resources: dict[str, Resources] = {}

    # =============================================================================================
    # reading
    # =============================================================================================
    def list(self) -> list[InstanceOut]:
        """The instances the backend created, and every other bot heard under the namespace (runtime external)."""
        with self.store.session() as session:
            rows = list(session.scalars(select(InstanceRow).order_by(InstanceRow.name)))
            out = [self._out(session, row) for row in rows]
        ours = {row.name for row in rows}
        now = time.time()
        for name in self.fleet.known_bots():
            if name not in ours:
                view = self.fleet.bot(name)
                if view is not None:
                    out.append(self._external_out(name, view, now))
        return sorted(out, key=lambda instance: instance.name)

    def get(self, name: str) -> InstanceOut:
        with self.store.session() as session:
            row = session.scalar(select(InstanceRow).where(InstanceRow.name == name))
            if row is not None:
                return self._out(session, row)
        view = self.fleet.bot(name)
        if view is None:
            raise not_found("instance", name)
        return self._external_out(name, view, time.time())

    def _external_out(self, name: str, view: BotView, now: float) -> InstanceOut:
        """A bot the backend did not create: its state comes from what was heard, and nothing else."""
        state, reason = self._external_state(view, now)
        strategies = []
        for strategy_id, reported in sorted(view.strategies.items()):
            perf = reported.performance
            strategies.append(StrategyStatus(
                id=strategy_id, strategy=strategy_id, params={}, interval=1.0, status=reported.status,
                error=reported.error,
                pnl=PnlSummary(realized=_num(perf.get("realized_pnl_quote")),
                               unrealized=_num(perf.get("unrealized_pnl_quote")),
                               total=_num(perf.get("global_pnl_quote")), volume=_num(perf.get("volume_traded"))),
            ))
        total = PnlSummary(
            realized=sum(s.pnl.realized for s in strategies), unrealized=sum(s.pnl.unrealized for s in strategies),
            total=sum(s.pnl.total for s in strategies), volume=sum(s.pnl.volume for s in strategies),
        )
        heartbeat_age = now - view.last_heartbeat if view.last_heartbeat else None
        first = view.first_seen or view.last_seen or now
        return InstanceOut(
            name=name, runtime="external", state=state, reason=reason,
            state_since=max(t for t in (view.last_alive, view.last_offline, first) if t is not None),
            created_at=first, last_heartbeat_age_s=None if heartbeat_age is None else round(heartbeat_age, 1),
            pnl=total, strategies=strategies,
        )

    def _external_state(self, view: BotView, now: float) -> tuple[str, str]:
        alive_at = view.last_alive
        broker_down = not self.fleet.connected and now - (self.fleet.disconnected_since or now) >= BROKER_DOWN_GRACE
        if broker_down:
            return "error", (f"external bot; {self._broker_words()} is unreachable, so nothing can be heard "
                             f"(last seen {now - (view.last_seen or now):.0f} s ago)")
        if view.last_offline is not None and view.last_offline > (alive_at or 0.0):
            return "stopped", f"external bot; went offline {now - view.last_offline:.0f} s ago"
        if alive_at is None:
            return "running" if now - (view.last_seen or 0.0) < self.settings.heartbeat_timeout else "error", (
                f"external bot; messages heard (last {now - (view.last_seen or now):.0f} s ago) but no heartbeat yet")
        if now - alive_at > self.settings.heartbeat_timeout:
            return "error", f"external bot; {SILENT} {now - alive_at:.0f} s"
        return "running", "external bot; " + (_alive_words(view, now) or "alive")

    def _row(self, session: Session, name: str) -> InstanceRow:
        row = session.scalar(select(InstanceRow).where(InstanceRow.name == name))
        if row is None:
            if self.fleet.bot(name) is not None:
                raise HiveError(409, "external_instance",
                                f"{name!r} is an external bot (heard on the broker, not created by this backend), so "
                                f"its process cannot be started, stopped or deleted from here; send it commands "
                                f"instead (POST /instances/{name}/commands/start or .../stop)")
            raise not_found("instance", name)
        return row

    def _stored(self, session: Session, name: str) -> InstanceRow | None:
        """The row of an instance created here; None for an external bot (nothing stored by row); 404 otherwise."""
        row = session.scalar(select(InstanceRow).where(InstanceRow.name == name))
        if row is None and self.fleet.bot(name) is None:
            raise not_found("instance", name)
        return row

    def _out(self, session: Session, row: InstanceRow) -> InstanceOut:
        now = time.time()
        spec = _spec(row)
        versions = row.spec.get("versions", {})
        view = self.fleet.bot(row.name)
        state = State(row.state)
        strategies = []
        for entry in spec.strategies:
            reported = view.strategies.get(entry.id) if view else None
            if reported is not None:
                perf = reported.performance
                pnl = PnlSummary(realized=_num(perf.get("realized_pnl_quote")),
                                 unrealized=_num(perf.get("unrealized_pnl_quote")),
                                 total=_num(perf.get("global_pnl_quote")), volume=_num(perf.get("volume_traded")))
            else:
                pnl = self._stored_pnl(session, row.id, entry.id)
            strategies.append(StrategyStatus(
                id=entry.id, strategy=entry.strategy, version=versions.get(entry.strategy), params=entry.params,
                interval=entry.interval,
                status=reported.status if reported is not None and state in (State.RUNNING, State.STARTING) else None,
                error=reported.error if reported is not None else None, pnl=pnl,
            ))
        total = PnlSummary(
            realized=sum(s.pnl.realized for s in strategies), unrealized=sum(s.pnl.unrealized for s in strategies),
            total=sum(s.pnl.total for s in strategies), volume=sum(s.pnl.volume for s in strategies),
        )
        live = row.handle is not None and "exited" not in row.handle
        resources = self._resources.get(row.name, Resources()) if live else Resources()
        heartbeat_age = now - view.last_heartbeat if view and view.last_heartbeat else None
        return InstanceOut(
            name=row.name, runtime=row.runtime, state=state.value, reason=self._reason(row, view, now),
            state_since=row.state_since, created_at=row.created_at, pid=row.pid if live else None,
            last_heartbeat_age_s=None if heartbeat_age is None else round(heartbeat_age, 1),
            cpu_percent=resources.cpu_percent, memory_bytes=resources.memory_bytes, pnl=total,
            strategies=strategies,
        )

    def _reason(self, row: InstanceRow, view: BotView | None, now: float) -> str:
        """The stored reason, or for the states that change by the second, the reason as of now."""
        if row.state == State.RUNNING:
            return _alive_words(view, now) or "running; no heartbeat heard yet since the backend started"
        if row.state == State.ERROR and row.reason.startswith(SILENT):
            alive_at = view.last_alive if view else None
            return f"{SILENT} {now - max(alive_at or 0.0, self.started_at, row.started_at or 0.0):.0f} s"
        return row.reason

    @staticmethod
    def _stored_pnl(session: Session, instance_id: int, strategy: str) -> PnlSummary:
        snapshot = session.scalar(
            select(PnlSnapshotRow).where(PnlSnapshotRow.instance_id == instance_id, PnlSnapshotRow.strategy == strategy)
            .order_by(PnlSnapshotRow.ts.desc()).limit(1))
        if snapshot is None:
            return PnlSummary()
        return PnlSummary(realized=snapshot.realized, unrealized=snapshot.unrealized, total=snapshot.total,
                          volume=snapshot.volume)

    def logs(self, name: str, limit: int, strategy: str | None) -> list[LogLine]:
        with self.store.session() as session:
            row = self._stored(session, name)
            if row is None:
                return []
            query = select(LogRow).where(LogRow.instance_id == row.id)
            if strategy:
                query = query.where(LogRow.strategy == strategy)
            lines = list(session.scalars(query.order_by(LogRow.id.desc()).limit(limit)))
        return [LogLine(timestamp=line.ts, level_name=line.level_name, logger_name=line.logger_name, msg=line.msg,
                        strategy=line.strategy) for line in reversed(lines)]

    def performance(self, name: str, since: float | None) -> list[PnlPoint]:
        with self.store.session() as session:
            row = self._stored(session, name)
            if row is None:
                return []
            query = select(PnlSnapshotRow).where(PnlSnapshotRow.instance_id == row.id)
            if since is not None:
                query = query.where(PnlSnapshotRow.ts > since)
            points = session.scalars(query.order_by(PnlSnapshotRow.ts, PnlSnapshotRow.id))
            return [PnlPoint(ts=p.ts, strategy=p.strategy, realized=p.realized, unrealized=p.unrealized, total=p.total,
                             volume=p.volume) for p in points]

    def trades(self, name: str, limit: int) -> list[Trade]:
        with self.store.session() as session:
            row = self._stored(session, name)
            if row is None:
                return []
            trades = session.scalars(select(TradeRow).where(TradeRow.instance_id == row.id)
                                     .order_by(TradeRow.ts.desc(), TradeRow.id.desc()).limit(limit))
            return [Trade(ts=t.ts, strategy=t.strategy, order_id=t.order_id, trading_pair=t.trading_pair, side=t.side,
                          price=t.price, amount=t.amount, fee=t.fee) for t in trades]

    def history(self, name: str) -> list[StateChange]:
        with self.store.session() as session:
            row = self._stored(session, name)
            if row is None:
                return []
            changes = session.scalars(select(StateChangeRow).where(StateChangeRow.instance_id == row.id)
                                      .order_by(StateChangeRow.id.desc()))
            return [StateChange(ts=c.ts, from_state=c.from_state, to_state=c.to_state, reason=c.reason)
                    for c in changes]

    # =============================================================================================
    # remote control (PROTOCOL.md request/reply), notifications and market events
    # =============================================================================================
    def command(self, name: str, command: str, request: CommandRequest) -> dict:
        """Send one command to the bot over MQTT and return its reply (`status`, `msg`, fields)."""
        if command not in COMMAND_TIMEOUTS:
            raise HiveError(404, "unknown_command",
                            f"unknown command {command!r}; known: {', '.join(sorted(COMMAND_TIMEOUTS))}")
        self.get(name)  # 404 when neither created here nor heard on the broker
        data = dict(request.data)
        if request.strategy is not None:
            data["strategy"] = request.strategy
        return self.fleet.request(name, command, data, request.timeout)

    def notifications(self, name: str, limit: int) -> list[Notification]:
        self.get(name)
        self.flush()
        with self.store.session() as session:
            rows = session.scalars(select(NotificationRow).where(NotificationRow.instance == name)
                                   .order_by(NotificationRow.id.desc()).limit(limit))
            return [Notification(ts=r.ts, seq=r.seq, msg=r.msg) for r in rows]

    def market_events(self, name: str, limit: int) -> list[MarketEvent]:
        self.get(name)
        self.flush()
        with self.store.session() as session:
            rows = session.scalars(select(MarketEventRow).where(MarketEventRow.instance == name)
                                   .order_by(MarketEventRow.id.desc()).limit(limit))
            return [MarketEvent(ts=r.ts, type=r.type, data=r.data) for r in rows]

    def known_names(self) -> list[str]:
        with self.store.session() as session:
            ours = set(session.scalars(select(InstanceRow.name)))
        return sorted(ours | set(self.fleet.known_bots()))

    # =============================================================================================
    # creating and deleting
    # =============================================================================================
    def create(self, spec: InstanceCreate, deployment: Deployment | None = None) -> InstanceOut:
        """Create (and by default start) an instance; `deployment` is what its bot-runs record says of it."""
        if self._exists(spec.name):
            raise HiveError(409, "duplicate_name", f"an instance named {spec.name!r} already exists; choose another name")
        if not self.broker.is_running():
            raise HiveError(409, "broker_not_running",
                            "the MQTT broker is not running, so the instance could not report. "
                            "Start the broker on the Broker page first")
        ids = [s.id for s in spec.strategies]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise HiveError(422, "duplicate_strategy_id",
                            f"strategy ids must be unique within an instance; repeated: {', '.join(duplicates)}")
        available = self.library.names()
        unknown = sorted({s.strategy for s in spec.strategies} - set(available))
        if unknown:
            raise HiveError(422, "unknown_strategy",
                            f"unknown strateg{'y' if len(unknown) == 1 else 'ies'}: {', '.join(unknown)}; "
                            f"available: {', '.join(available) or 'none'}")
        self._check(spec)
        instance_dir = self.instances_dir / spec.name
        with self._lock:
            if self._exists(spec.name):
                raise HiveError(409, "duplicate_name", f"an instance named {spec.name!r} already exists")
            if instance_dir.exists():  # left over from an instance whose row is gone: not anyone's
                shutil.rmtree(instance_dir, ignore_errors=True)
            try:
                config_path, versions = self._write_files(spec, instance_dir)
                with self.store.session() as session:
                    row = InstanceRow(
                        name=spec.name, runtime=spec.runtime, spec={"create": spec.model_dump(mode="json"),
                                                                    "versions": versions},
                        config_path=str(config_path), state=State.CREATED.value, reason="", state_since=time.time(),
                        created_at=time.time(),
                    )
                    session.add(row)
                    record_creation(session, row, "created by operator")
                    BotRuns.record(session, spec.name, deployment or _deployment_of(spec), row.created_at)
            except IntegrityError:
                shutil.rmtree(instance_dir, ignore_errors=True)
                raise HiveError(409, "duplicate_name", f"an instance named {spec.name!r} already exists") from None
            except BaseException:
                shutil.rmtree(instance_dir, ignore_errors=True)
                raise
            if spec.start:
                try:
                    return self.start(spec.name)
                except HiveError as error:
                    log.warning("instance %s created but not started: %s", spec.name, error.detail)
                    with self.store.session() as session:
                        self._row(session, spec.name).reason = f"created, not started: {error.detail}"
        return self.get(spec.name)

    def _exists(self, name: str) -> bool:
        with self.store.session() as session:
            return session.scalar(select(InstanceRow.id).where(InstanceRow.name == name)) is not None

    def _check(self, spec: InstanceCreate) -> None:
        """Let hive_core validate the strategies' params on a throw-away copy of the config."""
        with tempfile.TemporaryDirectory(prefix="hive-check-") as directory:
            config_path, _versions = self._write_files(spec, Path(directory))
            try:
                result = hive_cli.check_config(self.settings.core_argv(), config_path)
            except hive_cli.CoreError as error:
                raise HiveError(503, "core_unavailable", f"hive_core cannot check the config: {error}") from None
            if not result.ok:
                message = result.message.replace(f"{config_path}: ", "").replace(str(config_path), "config")
                message = message.replace(f"{directory}/", "").removeprefix("config error: ")
                raise HiveError(422, "invalid_config", f"the instance config is not valid: {message}")

    def _write_files(self, spec: InstanceCreate, instance_dir: Path) -> tuple[Path, dict[str, int]]:
        uploaded = self.library.latest_sources({s.strategy for s in spec.strategies})
        host, port = self.broker.address()
        config = build_config(spec, instance_dir, host, port, self.settings.namespace(),
                              self.settings.heartbeat_interval)
        config_path = write_instance_files(instance_dir, config, {n: src for n, (_v, src) in uploaded.items()})
        return config_path, {n: version for n, (version, _src) in uploaded.items()}

    def delete(self, name: str, archive: bool = False, final_status: dict[str, Any] | None = None) -> Path | None:
        """Delete a stopped instance and its history; with `archive`, its folder is kept under <data>/archived
        (returned). Its bot-runs record stays, with how it ended and `final_status`."""
        with self._lock:
            with self.store.session() as session:
                row = self._row(session, name)
                state = State(row.state)
                if state in ACTIVE:
                    raise HiveError(409, "instance_running", f"instance {name!r} is {state.value}; stop it first")
                if row.handle and "exited" not in row.handle and self._runtime(row).poll(row.handle).alive:
                    raise HiveError(409, "instance_running",
                                    f"the process of instance {name!r} (pid {row.pid}) is still alive; stop it first")
                for table in (LogRow, TradeRow, PnlSnapshotRow, StateChangeRow):
                    session.execute(delete(table).where(table.instance_id == row.id))
                for table in (NotificationRow, MarketEventRow):
                    session.execute(delete(table).where(table.instance == name))
                archived = self._archive(name) if archive else None
                BotRuns.finish(session, row, time.time(), final_status, archived)
                session.delete(row)
            shutil.rmtree(self.instances_dir / name, ignore_errors=True)
            self.fleet.forget(name)
            self._resources.pop(name, None)
            return archived

    def _archive(self, name: str) -> Path:
        """Move the instance's folder (config, strategy sources, process log) to <data>/archived/<name>[-n]."""
        archive_dir = self.settings.data_dir / "archived"
        archive_dir.mkdir(parents=True, exist_ok=True)
        target = archive_dir / name
        suffix = 1
        while target.exists():
            suffix += 1
            target = archive_dir / f"{name}-{suffix}"
        source = self.instances_dir / name
        if source.is_dir():
            shutil.move(str(source), target)
        else:
            target.mkdir()
        return target

    # =============================================================================================
    # operator actions
    # =============================================================================================
    def start(self, name: str) -> InstanceOut:
        with self._lock:
            with self.store.session() as session:
                row = self._row(session, name)
                current = State(row.state)
                if current == State.ERROR and row.handle and "exited" not in row.handle \
                        and self._runtime(row).poll(row.handle).alive:
                    raise HiveError(409, "invalid_transition",
                                    f"the process of instance {name!r} (pid {row.pid}) is still alive; "
                                    "stop or restart it instead")
                if State.STARTING not in _allowed(current):
                    raise HiveError(409, "invalid_transition",
                                    f"instance {name!r} is {current.value}; it cannot be started now"
                                    + (" (stop it first, or restart it)" if current in ACTIVE else ""))
                if not self.broker.is_running():
                    raise HiveError(409, "broker_not_running",
                                    "the MQTT broker is not running; start the broker on the Broker page first")
                spec = _spec(row)
                instance_dir = self.instances_dir / name
                config_path, versions = self._write_files(spec, instance_dir)
                row.spec = {"create": row.spec["create"], "versions": versions}
                row.config_path = str(config_path)
                runtime = self._runtime(row)
                try:
                    handle = runtime.start(name, instance_dir, config_path)
                except OSError as error:
                    transition(session, row, State.STARTING, "start requested by operator")
                    transition(session, row, State.ERROR, f"could not start the process: {error}")
                    return self._out(session, row)
                now = time.time()
                row.handle, row.pid, row.started_at, row.stop_requested_at = handle, runtime.pid(handle), now, None
                transition(session, row, State.STARTING,
                           f"process started (pid {row.pid}); waiting for its first heartbeat", now=now)
        return self.get(name)

    def stop(self, name: str, wait: float = STOP_WAIT) -> InstanceOut:
        with self._lock:
            with self.store.session() as session:
                row = self._row(session, name)
                current = State(row.state)
                live = bool(row.handle) and "exited" not in row.handle and self._runtime(row).poll(row.handle).alive
                if current in (State.STARTING, State.RUNNING) or (current == State.ERROR and live):
                    transition(session, row, State.STOPPING, "stop requested by operator (SIGTERM sent)")
                    row.stop_requested_at = time.time()
                    self._runtime(row).terminate(row.handle)
                elif current == State.ERROR:
                    transition(session, row, State.STOPPED, "stopped by operator (its process had already ended)")
                    return self._out(session, row)
                elif current != State.STOPPING:
                    return self._out(session, row)  # created / stopped: nothing to stop
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with self.store.session() as session:
                row = self._row(session, name)
                if row.state != State.STOPPING or not self._runtime(row).poll(row.handle).alive:
                    break
            time.sleep(0.1)
        self.evaluate(name)
        return self.get(name)

    def restart(self, name: str) -> InstanceOut:
        out = self.stop(name, wait=self.settings.stop_grace)
        if out.state == State.STOPPING:
            with self._lock, self.store.session() as session:
                row = self._row(session, name)
                if row.handle:
                    self._runtime(row).kill(row.handle)
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and self.evaluate(name) == State.STOPPING:
                time.sleep(0.1)
        return self.start(name)

    # =============================================================================================
    # deriving the state
    # =============================================================================================
    def adopt_all(self) -> None:
        """On backend start: find the processes of active instances again, or record that they are gone."""
        with self._lock, self.store.session() as session:
            for row in session.scalars(select(InstanceRow).where(InstanceRow.handle.is_not(None))):
                if "exited" in row.handle:
                    continue
                runtime = self._runtime(row)
                if runtime.adopt(row.handle):
                    log.info("re-adopted instance %s (pid %s)", row.name, row.pid)
                    continue
                state = runtime.poll(row.handle)
                detail = state.detail if not state.alive else "its process is no longer the one the backend started"
                self._exited(row, ProcessState(False, state.exit_code, detail + " (while the backend was down)"))
                if row.state == State.STOPPING:
                    transition(session, row, State.STOPPED, "stopped by operator (ended while the backend was down)")
                elif row.state in (State.STARTING, State.RUNNING):
                    transition(session, row, State.ERROR, row.handle["exited"]["detail"])

    def tick(self) -> None:
        """One supervisor round: store what the fleet heard, then re-evaluate every instance."""
        self.flush()
        with self.store.session() as session:
            names = list(session.scalars(select(InstanceRow.name).where(
                InstanceRow.state.in_([s.value for s in ACTIVE] + [State.ERROR.value]))))
        for name in names:
            try:
                self.evaluate(name)
            except HiveError:
                continue  # deleted meanwhile
            except Exception:
                log.exception("cannot evaluate instance %s", name)

    def flush(self) -> None:
        notes, events = self.fleet.drain_messages()
        if notes or events:
            try:
                with self.store.session() as session:
                    session.add_all(NotificationRow(instance=n["instance"], ts=n["ts"], msg=n["msg"],
                                                    seq=n["seq"] if isinstance(n["seq"], int) else None)
                                    for n in notes)
                    session.add_all(MarketEventRow(instance=e["instance"], ts=e["ts"], type=e["type"][:63],
                                                   data=e["data"]) for e in events)
            except Exception:
                log.exception("cannot store %d notifications and %d market events", len(notes), len(events))
        logs, trades, pnl = self.fleet.drain()
        try:
            self.store.write_batch(logs, trades, pnl, self.settings.log_lines_per_instance)
        except Exception:
            log.exception("cannot store %d log lines, %d trades, %d PnL points; will retry",
                          len(logs), len(trades), len(pnl))
            self.fleet.requeue(logs, trades, pnl)

    def evaluate(self, name: str, now: float | None = None) -> State:
        """Apply the one set of rules that derives the state from process, heartbeats and broker."""
        with self._lock, self.store.session() as session:
            row = self._row(session, name)
            now = time.time() if now is None else now
            state = State(row.state)
            if row.handle is None or state in (State.CREATED, State.STOPPED):
                return state
            runtime = self._runtime(row)
            if "exited" in row.handle:
                process = ProcessState(False, row.handle["exited"].get("code"), row.handle["exited"]["detail"])
            else:
                handle = dict(row.handle)
                process = runtime.poll(handle)  # may learn the bot's pid, which it notes in the handle
                if handle != row.handle:
                    row.handle = handle
                if not process.alive:
                    self._exited(row, process)
                else:
                    if runtime.pid(handle) != row.pid:
                        row.pid = runtime.pid(handle)
                    self._resources[name] = runtime.resources(handle)
            view = self.fleet.bot(name)
            alive_at = view.last_alive if view else None
            offline_at = view.last_offline if view else None
            started_at = row.started_at or 0.0
            heard = alive_at is not None and alive_at >= started_at
            broker_down = not self.fleet.connected and now - (self.fleet.disconnected_since or now) >= BROKER_DOWN_GRACE

            if state == State.STARTING:
                if not process.alive:
                    transition(session, row, State.ERROR, process.detail, now=now)
                elif heard:
                    transition(session, row, State.RUNNING, _alive_words(view, now) or "heartbeat received", now=now)
                elif now - started_at > self.settings.start_timeout:
                    words = f"no heartbeat within {self.settings.start_timeout:.0f} s of start"
                    transition(session, row, State.ERROR, words + ("; the broker is down" if broker_down else ""), now=now)
            elif state == State.RUNNING:
                reference = max(alive_at or 0.0, started_at, self.started_at)
                if not process.alive:
                    transition(session, row, State.ERROR, process.detail, now=now)
                elif broker_down:
                    transition(session, row, State.ERROR, f"broker is down: the backend cannot reach "
                               f"{self._broker_words()}, so no heartbeat can arrive", now=now)
                elif offline_at is not None and offline_at > (alive_at or 0.0) and now - offline_at >= OFFLINE_GRACE:
                    transition(session, row, State.ERROR, "went offline (connection lost, last will)", now=now)
                elif now - reference > self.settings.heartbeat_timeout:
                    transition(session, row, State.ERROR, f"{SILENT} {now - reference:.0f} s", now=now)
            elif state == State.STOPPING:
                if not process.alive:
                    killed = row.handle.get("killed")
                    words = "stopped by operator" + (
                        f" (killed after {self.settings.stop_grace:.0f} s without stopping)" if killed
                        else "" if process.exit_code in (0, None) else f" ({process.detail.split(':')[0]})")
                    transition(session, row, State.STOPPED, words, now=now)
                elif not row.handle.get("killed") and now - (row.stop_requested_at or now) > self.settings.stop_grace:
                    runtime.kill(row.handle)
                    row.handle = {**row.handle, "killed": True}
                elif row.handle.get("killed") and now - (row.stop_requested_at or now) > self.settings.stop_grace + 10:
                    transition(session, row, State.ERROR, f"could not stop: pid {row.pid} survives SIGKILL", now=now)
            elif state == State.ERROR:
                if process.alive and alive_at is not None and alive_at > row.state_since and not broker_down \
                        and (offline_at is None or alive_at > offline_at):
                    transition(session, row, State.RUNNING, "heartbeats again: " + (_alive_words(view, now) or ""), now=now)
                elif not process.alive and not row.reason.startswith(process.detail):
                    row.reason = process.detail  # the exit explains more than the silence before it
            return State(row.state)

    def _exited(self, row: InstanceRow, process: ProcessState) -> None:
        row.handle = {**row.handle, "exited": {"code": process.exit_code, "detail": process.detail}}
        self._resources.pop(row.name, None)

    def _runtime(self, row: InstanceRow) -> Runtime:
        return self.runtimes[row.runtime]

    def _broker_words(self) -> str:
        host, port = self.broker.address()
        return f"the broker at {host}:{port}"


def _allowed(state: State) -> frozenset[State]:
    return TRANSITIONS[state]


def _deployment_of(spec: InstanceCreate) -> Deployment:
    """The bot-runs record of an instance created through Hive's own API."""
    names = list(dict.fromkeys(s.strategy for s in spec.strategies))
    return Deployment(strategy_type="script" if len(spec.strategies) == 1 else "controller",
                      strategy_name=",".join(names), deployment_config=spec.model_dump(mode="json"))


def _spec(row: InstanceRow) -> InstanceCreate:
    return InstanceCreate.model_validate(row.spec["create"])


def _alive_words(view: BotView | None, now: float) -> str:
    if view is None:
        return ""
    if view.last_heartbeat is not None and (view.last_online is None or view.last_heartbeat >= view.last_online):
        return f"heartbeat received {max(0.0, now - view.last_heartbeat):.0f} s ago"
    if view.last_online is not None:
        words = f"came online {max(0.0, now - view.last_online):.0f} s ago"
        return words + ("; no heartbeat yet" if view.last_heartbeat is None else "; heartbeat due")
    return ""


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0
