"""Instances: creating, starting, stopping and deleting them, and keeping their state derived (state.py).

`evaluate` gathers the facts of one instance (its process, what the fleet heard, the broker) and applies
the derived outcome through the transition table; it runs for every instance on each supervisor tick,
and right after operator actions. When the process of a starting or running instance ends without an
operator's stop, its restart policy decides (restarts.py) whether and when the supervisor starts it again.
Reading is InstanceQueries', storing what the fleet heard is the FleetRecorder's, the instance's folder
is InstanceFiles'.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from anyio import to_thread
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.broker.manager import BrokerManager
from backend.credentials.service import CredentialService
from backend.domain.alerts import AlertKind
from backend.domain.instances import InstanceCreate, InstanceOut, StateChange
from backend.domain.startup import Startup
from backend.errors import BotRefused, Conflict, HiveError, InvalidInput, NotFound, Unavailable, not_found
from backend.feed.manager import FeedManager
from backend.orchestrator.alerts import AlertService
from backend.orchestrator.command_audit import CommandAudit
from backend.orchestrator.fleet import Fleet
from backend.orchestrator.handle import ProcessHandle
from backend.orchestrator.instance_files import InstanceFiles
from backend.orchestrator.lifecycle import ACTIVE, TRANSITIONS, State, record_creation, transition
from backend.orchestrator.queries import InstanceQueries
from backend.orchestrator.recorder import FleetRecorder
from backend.orchestrator.resource_history import ResourceHistory
from backend.orchestrator.restarts import (
    GIVE_UP_LOG_LINES,
    Action,
    decide_restart,
    restart_words,
    restarts_after,
    with_log_lines,
)
from backend.orchestrator.runs import BotRuns, Deployment
from backend.orchestrator.startup import StartupFacts, startup_of
from backend.orchestrator.state import Facts, Thresholds, broker_down, derive_state
from backend.runtimes.base import ProcessState, Resources, Runtime
from backend.settings import Settings
from backend.store import InstanceRow, Store
from backend.store.repositories.instances import InstanceRepository
from backend.strategies.library import StrategyLibrary
from hive_core.protocol import CLIENT_ID_PREFIX, COMMAND_TIMEOUTS, only_reads

log = logging.getLogger(__name__)

STOP_WAIT = 5.0  # s: how long a stop request waits for the process before answering 'stopping'
MAX_REFUSAL = 2_000  # characters of a bot's error reply passed on


class InstanceService:
    def __init__(self, settings: Settings, store: Store, fleet: Fleet, broker: BrokerManager,
                 runtimes: dict[str, Runtime], library: StrategyLibrary, credentials: CredentialService,
                 feed: FeedManager | None = None) -> None:
        """`feed`: the host's market-data service, whose address instances are given where their runtime reaches it
        (Runtime.feed_address)."""
        self.settings = settings
        self.credentials = credentials
        self.feed = feed
        self.store = store
        self.fleet = fleet
        self.broker = broker
        self.runtimes = runtimes
        self.library = library
        # (a PnL point per performance report, 1 s, when the setting is 0)
        self.files = InstanceFiles(settings.data_dir, library, settings.namespace(),
                                   settings.heartbeat_interval, settings.pnl_snapshot_interval or 1.0,
                                   {name: (where.stream_url, where.api_url)
                                    for name, where in settings.venue_endpoints.items()})
        self.audit = CommandAudit(store, fleet.connection, fleet.heard_reply)
        self.recorder = FleetRecorder(store, fleet, settings.log_lines_per_instance, self.audit,
                                      settings.external_rows_per_bot)
        self._resources: dict[str, Resources] = {}
        self.resource_history = ResourceHistory()
        self.queries = InstanceQueries(store, fleet, self.recorder, broker, Thresholds.of(settings),
                                       settings.external_gone_after, self._resources)
        self._lock = threading.RLock()
        self.alerts = AlertService(store, fleet.connection, settings.alert_webhook_url, settings.alert_webhook_timeout)
        self._raised: list[tuple[str, AlertKind, str]] = []  # alerts to send once the transaction that saw them ends

    def _row(self, session: Session, name: str) -> InstanceRow:
        """The row of an instance created here; 409 for an external bot, 404 for an unknown name."""
        row = InstanceRepository(session).get(name)
        if row is None:
            if self.fleet.heard(name):
                raise Conflict("external_instance",
                               f"{name!r} is an external bot (heard on the broker, not created by this backend), so "
                               f"its process cannot be started, stopped or deleted from here; send it commands "
                               f"instead (POST /instances/{name}/commands/start or .../stop)")
            raise not_found("instance", name)
        return row

    def _runtime(self, row: InstanceRow) -> Runtime:
        return self.runtimes[row.runtime]

    def _alive(self, row: InstanceRow) -> bool:
        """Its process is not known to have ended, and the runtime says it is alive."""
        handle = ProcessHandle.from_json(row.handle)
        return handle is not None and handle.live and self._runtime(row).poll(handle.locator).alive

    # =============================================================================================
    # remote control (docs/protocol.md request/reply)
    # =============================================================================================
    def command(self, name: str, command: str, data: dict[str, Any], strategy: str | None = None,
                timeout: float | None = None, actor: str = "backend") -> dict[str, Any]:
        """Send one command to the bot over MQTT for `actor` and return its reply (`status`, `msg`, fields);
        one that acts is audited (command_audit.py). A reply with an error status (Hummingbot answers 400 to a
        command it cannot carry out) is raised as BotRefused, in the bot's words."""
        if command not in COMMAND_TIMEOUTS:
            raise NotFound("unknown_command",
                           f"unknown command {command!r}; known: {', '.join(sorted(COMMAND_TIMEOUTS))}")
        if not self.fleet.heard(name) and not self._exists(name):
            raise not_found("instance", name)  # neither created here nor heard on the broker
        return self._accepted(name, command, self.audit.request(actor, name, command, _with(data, strategy), timeout))

    async def command_async(self, name: str, command: str, data: dict[str, Any], strategy: str | None = None,
                            timeout: float | None = None, actor: str = "backend") -> dict[str, Any]:
        """command() for a caller on the event loop: a read (status, history...: what the dashboard waits on most) is
        awaited there without a worker thread; a command that acts (audited in the store) runs on one, of the pool the
        server's own sync routes use (40 at a time)."""
        if command not in COMMAND_TIMEOUTS or not only_reads(command, _with(data, strategy)):
            return await to_thread.run_sync(self.command, name, command, data, strategy, timeout, actor)
        if not self.fleet.heard(name) and not await to_thread.run_sync(self._exists, name):
            raise not_found("instance", name)  # neither created here nor heard on the broker
        return self._accepted(name, command, await self.audit.read(name, command, _with(data, strategy), timeout))

    @staticmethod
    def _accepted(name: str, command: str, reply: dict[str, Any]) -> dict[str, Any]:
        """The reply, or BotRefused in the bot's words when its status is an error."""
        status = reply.get("status")
        if status != 200:
            msg = str(reply.get("msg") or "(no message)")
            raise BotRefused("bot_refused", f"{name} answered {command} with status {status}: "
                                            f"{msg if len(msg) <= MAX_REFUSAL else msg[:MAX_REFUSAL] + '…'}")
        return reply

    # =============================================================================================
    # creating and deleting
    # =============================================================================================
    def create(self, spec: InstanceCreate, deployment: Deployment | None = None) -> InstanceOut:
        """Create (and by default start) an instance; `deployment` is what its bot-runs record says of it."""
        if self._exists(spec.name):
            raise Conflict("duplicate_name", f"an instance named {spec.name!r} already exists; choose another name")
        if not self.broker.is_running():
            raise Conflict("broker_not_running",
                           "the MQTT broker is not running, so the instance could not report. "
                           "Start the broker on the Broker page first")
        ids = [s.id for s in spec.strategies]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise InvalidInput("duplicate_strategy_id",
                               f"strategy ids must be unique within an instance; repeated: {', '.join(duplicates)}")
        available = self.library.names()
        unknown = sorted({s.strategy for s in spec.strategies} - set(available))
        if unknown:
            raise InvalidInput("unknown_strategy",
                               f"unknown strateg{'y' if len(unknown) == 1 else 'ies'}: {', '.join(unknown)}; "
                               f"available: {', '.join(available) or 'none'}")
        if spec.credential is not None and spec.credential not in (stored := self.credentials.names()):
            raise InvalidInput("unknown_credential",
                               f"unknown credential {spec.credential!r}; stored: {', '.join(stored) or 'none'} "
                               "(add it under Credentials first)")
        if spec.venue.live and (held := self.credentials.get(cast(str, spec.credential)).venue) != spec.venue.name:
            raise InvalidInput("credential_venue",
                               f"credential {spec.credential!r} is stored for {held}, not for {spec.venue.name}: "
                               f"choose one stored for {spec.venue.name}")
        runtime = self.runtimes[spec.runtime]
        spec = runtime.check(spec)
        self.files.check(spec, runtime.broker_address(spec, self.broker.address()))
        with self._lock:
            if self._exists(spec.name):
                raise Conflict("duplicate_name", f"an instance named {spec.name!r} already exists")
            self.files.remove(spec.name)  # left over from an instance whose row is gone: not anyone's
            try:
                self._store_new(spec, deployment or _deployment_of(spec))
            except IntegrityError:
                self.files.remove(spec.name)
                raise Conflict("duplicate_name", f"an instance named {spec.name!r} already exists") from None
            except BaseException:
                self.files.remove(spec.name)
                raise
            try:
                self.broker.instance_login(spec.name)  # its own broker login, known to the broker before it starts
            except HiveError as error:  # made at its start then; the start says what is wrong
                log.warning("instance %s: its broker login could not be made now: %s", spec.name, error.detail)
            if spec.start:
                try:
                    return self.start(spec.name)
                except HiveError as error:
                    log.warning("instance %s created but not started: %s", spec.name, error.detail)
                    with self.store.session() as session:
                        self._row(session, spec.name).reason = f"created, not started: {error.detail}"
        return self.queries.get(spec.name)

    def _store_new(self, spec: InstanceCreate, deployment: Deployment) -> None:
        folder = self.files.folder(spec.name)
        runtime = self.runtimes[spec.runtime]
        config_path, versions = self.files.write(spec, folder, runtime.broker_address(spec, self.broker.address()),
                                                 root=runtime.instance_root(folder))
        with self.store.session() as session:
            row = InstanceRow(
                name=spec.name, runtime=spec.runtime,
                spec={"create": spec.model_dump(mode="json"), "versions": versions},
                config_path=str(config_path), state=State.CREATED.value, reason="", state_since=time.time(),
                created_at=time.time(),
            )
            InstanceRepository(session).add(row)
            record_creation(session, row, "created by operator")
            BotRuns.record(session, spec.name, deployment, row.created_at)

    def _exists(self, name: str) -> bool:
        with self.store.session() as session:
            return InstanceRepository(session).exists(name)

    def delete(self, name: str, archive: bool = False, final_status: dict[str, Any] | None = None) -> Path | None:
        """Delete a stopped instance and its history; with `archive`, its folder is kept under <data>/archived
        (returned). Its bot-runs record stays, with how it ended and `final_status`."""
        with self._lock:
            with self.store.session() as session:
                row = self._row(session, name)
                state = State(row.state)
                if state in ACTIVE:
                    raise Conflict("instance_running", f"instance {name!r} is {state.value}; stop it first")
                if self._alive(row):
                    raise Conflict("instance_running",
                                   f"the process of instance {name!r} (pid {row.pid}) is still alive; stop it first")
                handle = ProcessHandle.from_json(row.handle)
                if handle is not None:
                    self._runtime(row).remove(handle.locator)  # a container that ended: gone with its instance
                self.files.remove_credentials(name)
                archived = self.files.archive(name) if archive else None
                self.resource_history.forget(row.id)
                BotRuns.finish(session, row, time.time(), final_status, archived)
                InstanceRepository(session).delete(row)
            self.files.remove(name)
            self.broker.forget_instance(name)  # its broker login is refused from now on
            self.fleet.forget(name)
            self._resources.pop(name, None)
            return archived

    def forget_gone(self, name: str) -> None:
        """Forget an external bot of the gone list (queries.gone): what was heard of it, its journal's place. It comes
        back to the listing when it speaks again."""
        if not self.fleet.heard(name):
            raise not_found("bot", name)
        if name not in {bot.name for bot in self.queries.gone()}:
            raise Conflict("not_gone", f"{name!r} is not in the gone list (an instance created here, or an external "
                                       f"bot heard within {self.settings.external_gone_after:.0f} s), so it is kept")
        self.fleet.forget(name)

    # =============================================================================================
    # operator actions
    # =============================================================================================
    def start(self, name: str) -> InstanceOut:
        with self._lock:
            with self.store.session() as session:
                row = self._row(session, name)
                current = State(row.state)
                if current == State.ERROR and self._alive(row):
                    raise Conflict("invalid_transition",
                                   f"the process of instance {name!r} (pid {row.pid}) is still alive; "
                                   "stop or restart it instead")
                if State.STARTING not in TRANSITIONS[current]:
                    raise Conflict("invalid_transition",
                                   f"instance {name!r} is {current.value}; it cannot be started now"
                                   + (" (stop it first, or restart it)" if current in ACTIVE else ""))
                if not self.broker.is_running():
                    raise Conflict("broker_not_running",
                                   "the MQTT broker is not running; start the broker on the Broker page first")
                row.restarts, row.next_restart_at = 0, None  # the operator's start begins a new count
                self._launch(session, row)
        return self.queries.get(name)

    def _launch(self, session: Session, row: InstanceRow, cause: str | None = None) -> None:
        """Write its files and start its process: created/stopped/error -> starting (-> error when it cannot).

        `cause` leads the reason: None for the operator's start, the restart in words for the supervisor's."""
        folder = self.files.folder(row.name)
        spec = InstanceCreate.model_validate(row.spec["create"])
        # Handed only to a process that signs orders with it: a simulated or paper instance gets none.
        credentials = self.credentials.for_instance(spec.credential) \
            if spec.credential is not None and spec.venue.live else None
        runtime = self._runtime(row)
        pinned = row.spec.get("pinned") or {}
        feed = runtime.feed_address(spec, self.feed.address) if self.feed is not None else None
        config_path, versions = self.files.write(spec, folder, runtime.broker_address(spec, self.broker.address()),
                                                 credentials, self.broker.instance_login(row.name),
                                                 root=runtime.instance_root(folder), pinned=pinned, feed=feed)
        row.spec = {"create": row.spec["create"], "versions": versions} | ({"pinned": pinned} if pinned else {})
        row.config_path = str(config_path)
        try:
            locator = runtime.start(row.name, folder, config_path, spec)
        except HiveError:  # the runtime refused (its engine does not answer...): nothing started, nothing changed
            self.files.remove_credentials(row.name)
            raise
        except OSError as error:
            self.files.remove_credentials(row.name)
            transition(session, row, State.STARTING, cause or "start requested by operator")
            transition(session, row, State.ERROR, f"could not start the process: {error}")
            return
        now = time.time()
        row.handle, row.pid = ProcessHandle(locator).to_json(), runtime.pid(locator)
        row.started_at, row.stop_requested_at = now, None
        started = f"process started (pid {row.pid}); waiting for its first heartbeat"
        transition(session, row, State.STARTING, f"{cause}; {started}" if cause else started, now=now)

    def stop(self, name: str, wait: float = STOP_WAIT) -> InstanceOut:
        with self._lock:
            with self.store.session() as session:
                row = self._row(session, name)
                current = State(row.state)
                if current in (State.STARTING, State.RUNNING) or (current == State.ERROR and self._alive(row)):
                    transition(session, row, State.STOPPING, "stop requested by operator (SIGTERM sent)")
                    row.stop_requested_at = time.time()
                    handle = ProcessHandle.from_json(row.handle)
                    if handle is not None:
                        self._runtime(row).terminate(handle.locator)
                elif current == State.ERROR:
                    row.next_restart_at = None  # a pending restart is called off
                    transition(session, row, State.STOPPED, "stopped by operator (its process had already ended)")
                    return self.queries.out(session, row)
                elif current != State.STOPPING:
                    return self.queries.out(session, row)  # created / stopped: nothing to stop
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            with self.store.session() as session:
                row = self._row(session, name)
                if row.state != State.STOPPING or not self._alive(row):
                    break
            time.sleep(0.1)
        self.evaluate(name)
        return self.queries.get(name)

    def restart(self, name: str) -> InstanceOut:
        out = self.stop(name, wait=self.settings.stop_grace)
        if out.state == State.STOPPING:
            with self._lock, self.store.session() as session:
                row = self._row(session, name)
                handle = ProcessHandle.from_json(row.handle)
                if handle is not None:
                    self._runtime(row).kill(handle.locator)
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and self.evaluate(name) == State.STOPPING:
                time.sleep(0.1)
        return self.start(name)

    def startup(self, name: str, since: float | None = None) -> Startup:
        """Its start in steps (startup.py): the first start at or after `since`, or the latest one."""
        with self.store.session() as session:
            row = self._row(session, name)
            changes = [StateChange.model_validate(change, from_attributes=True)
                       for change in reversed(InstanceRepository(session).state_changes(row.id))]
            handle = ProcessHandle.from_json(row.handle)
            facts = StartupFacts(name=row.name, runtime=row.runtime, state=State(row.state), reason=row.reason,
                                 changes=changes, started_at=row.started_at, pid=row.pid,
                                 locator=handle.locator if handle is not None else {})
            runtime = self._runtime(row)

        def last_lines(count: int) -> list[str]:
            try:
                return runtime.last_lines(facts.locator, count)
            except (HiveError, OSError) as error:  # its log is gone (a container removed, an engine away)
                return [f"(its log cannot be read: {error.detail if isinstance(error, HiveError) else error})"]

        return startup_of(facts, last_lines, since)

    # =============================================================================================
    # deriving the state
    # =============================================================================================
    def adopt_all(self) -> None:
        """On backend start: find the processes of active instances again, or record that they are gone; and say
        in the log what a runtime runs for this backend under a name no instance has (it is not touched)."""
        with self._lock, self.store.session() as session:
            for row in InstanceRepository(session).with_handle():
                handle = ProcessHandle.from_json(row.handle)
                if handle is None or not handle.live:
                    continue
                runtime = self._runtime(row)
                try:
                    if runtime.adopt(handle.locator):
                        log.info("re-adopted instance %s (pid %s)", row.name, row.pid)
                        continue
                    state = runtime.poll(handle.locator)
                except HiveError as error:  # its engine does not answer now: the supervisor asks again later
                    log.warning("cannot tell whether instance %s still runs: %s", row.name, error.detail)
                    continue
                detail = state.detail if not state.alive else "its process is no longer the one the backend started"
                exit_state = ProcessState(False, state.exit_code, detail + " (while the backend was down)")
                self._exited(row, handle, exit_state)
                if row.state == State.STOPPING:
                    transition(session, row, State.STOPPED, "stopped by operator (ended while the backend was down)")
                elif row.state in (State.STARTING, State.RUNNING):
                    transition(session, row, State.ERROR, self._failed(row, handle, exit_state, time.time()))
            known = set(InstanceRepository(session).names())
        self._send_alerts()
        for runtime in self.runtimes.values():
            for stray in runtime.strays(known):
                log.warning("%s runtime: %s belongs to this backend but to no instance (its row is gone); left "
                            "as it is: remove it by hand when it is not needed", runtime.name, stray)

    def tick(self) -> None:
        """One supervisor round: store what the fleet heard, note the bots whose client left the broker, then
        re-evaluate every instance."""
        self.recorder.flush()
        self._note_departures()
        with self.store.session() as session:
            names = InstanceRepository(session).names_in([s.value for s in ACTIVE] + [State.ERROR.value])
        for name in names:
            try:
                self.evaluate(name)
            except HiveError:
                continue  # deleted meanwhile
            except Exception:
                log.exception("cannot evaluate instance %s", name)

    def _note_departures(self) -> None:
        """Hand the fleet the bots whose MQTT client the broker's log says left (a clean DISCONNECT or a lost
        connection), so that they are flagged before their heartbeats are missed."""
        try:
            departures = self.broker.left_clients()
        except Exception:  # its log cannot be read now (a Docker engine away): the heartbeats still count
            log.debug("cannot read who left the broker", exc_info=True)
            return
        for client_id, at in departures:
            if client_id.startswith(CLIENT_ID_PREFIX):
                self.fleet.disconnected(client_id.removeprefix(CLIENT_ID_PREFIX), at)

    def evaluate(self, name: str, now: float | None = None) -> State:
        """Derive the instance's state from its process, its heartbeats and the broker, and store it; then raise the
        alerts of what happened (a crash, an error, a restart, restarts used up)."""
        try:
            return self._evaluate(name, now)
        finally:
            self._send_alerts()

    def _alert(self, name: str, kind: AlertKind, message: str) -> None:
        with self._lock:
            self._raised.append((name, kind, message))

    def _send_alerts(self) -> None:
        with self._lock:
            raised, self._raised = self._raised, []
        for name, kind, message in raised:
            try:
                self.alerts.raise_alert(name, kind, message)
            except Exception:  # an alert that cannot be stored must not stop the supervision
                log.exception("cannot raise the %s alert of instance %s", kind, name)

    def _evaluate(self, name: str, now: float | None) -> State:
        with self._lock, self.store.session() as session:
            row = self._row(session, name)
            now = time.time() if now is None else now
            state = State(row.state)
            handle = ProcessHandle.from_json(row.handle)
            if handle is None or state in (State.CREATED, State.STOPPED):
                return state
            runtime = self._runtime(row)
            exited_now = False
            unreachable = ""  # why its runtime cannot tell (a Docker host that does not answer): heartbeats decide
            if not handle.live:
                process = handle.exit_state()
            else:
                locator = dict(handle.locator)
                try:
                    process = runtime.poll(locator)  # may learn the bot's pid, which it notes in the locator
                except Unavailable as error:
                    process, unreachable = ProcessState(alive=True), error.detail
                if locator != handle.locator:
                    handle = replace(handle, locator=locator)
                    row.handle = handle.to_json()
                if not process.alive:
                    self._exited(row, handle, process)
                    exited_now = True
                elif not unreachable:
                    if runtime.pid(locator) != row.pid:
                        row.pid = runtime.pid(locator)
                    self._resources[name] = runtime.resources(locator)
                    self.resource_history.note(session, row.id, self._resources[name], now)
            connection = self.fleet.connection
            down = broker_down(connection.connected, connection.disconnected_since, now)
            outcome = derive_state(Facts(
                state=state, reason=row.reason, state_since=row.state_since, started_at=row.started_at or 0.0,
                stop_requested_at=row.stop_requested_at, killed=handle.killed, pid=row.pid, process=process,
                view=self.fleet.bot(name), broker_down=down,
                listening_since=self.fleet.silence_counts_from(), broker=self.queries.broker_words(),
                connected=connection.connected,
            ), Thresholds.of(self.settings), now)
            if outcome.kill and not unreachable:
                runtime.kill(handle.locator)
                row.handle = replace(handle, killed=True).to_json()
            if exited_now and outcome.state == State.ERROR:
                outcome = replace(outcome, reason=self._failed(row, handle, process, now))
            elif outcome.state == State.ERROR and state != State.ERROR:
                self._alert(name, "error", outcome.reason)
            if unreachable and outcome.state != state:
                outcome = replace(outcome, reason=f"{outcome.reason}; {unreachable}")
            if outcome.state != state:
                transition(session, row, outcome.state, outcome.reason, now=now)
            elif outcome.reason != row.reason:
                row.reason = outcome.reason
            restarts = restarts_after(row.restarts, State(row.state), row.state_since, now)
            if restarts != row.restarts:
                row.restarts = restarts
            if row.state == State.ERROR and row.next_restart_at is not None and now >= row.next_restart_at \
                    and self.broker.is_running():  # without a broker it waits: it could not report
                self._restart(session, row)
            return State(row.state)

    def _failed(self, row: InstanceRow, handle: ProcessHandle, process: ProcessState, now: float) -> str:
        """The process ended while the instance was starting or running: note whether and when it restarts,
        and return the error's reason (the exit, what happens next, and on giving up the log's last lines)."""
        policy = InstanceCreate.model_validate(row.spec["create"]).restart_policy
        decision = decide_restart(policy, row.restarts, now, now, process.detail,
                                  operator_stopped=row.stop_requested_at is not None)
        row.next_restart_at = decision.at
        if decision.action == Action.GIVE_UP:
            self._alert(row.name, "gave_up", decision.reason)
            return with_log_lines(decision.reason, self._runtime(row).last_lines(handle.locator, GIVE_UP_LOG_LINES))
        self._alert(row.name, "crash", decision.reason)
        return decision.reason

    def _restart(self, session: Session, row: InstanceRow) -> None:
        """The supervisor's restart of a crashed instance: error -> starting, its reason saying which restart."""
        handle = ProcessHandle.from_json(row.handle)
        code = handle.exited.code if handle is not None and handle.exited is not None else None
        row.restarts, row.next_restart_at = row.restarts + 1, None
        policy = InstanceCreate.model_validate(row.spec["create"]).restart_policy
        log.info("restarting instance %s (restart %d of %d)", row.name, row.restarts, policy.max_retries)
        self._alert(row.name, "restart", restart_words(row.restarts, policy, code))
        try:
            self._launch(session, row, restart_words(row.restarts, policy, code))
        except (HiveError, OSError) as error:  # its files could not be written: retrying each second would not help
            detail = error.detail if isinstance(error, HiveError) else str(error)
            row.reason = f"{row.reason}; could not restart: {detail}"

    def _exited(self, row: InstanceRow, handle: ProcessHandle, process: ProcessState) -> None:
        row.handle = handle.ended(process).to_json()
        self.files.remove_credentials(row.name)
        self._resources.pop(row.name, None)


def _with(data: dict[str, Any], strategy: str | None) -> dict[str, Any]:
    """A command's data, with the strategy it addresses."""
    return data if strategy is None else {**data, "strategy": strategy}


def _deployment_of(spec: InstanceCreate) -> Deployment:
    """The bot-runs record of an instance created through Hive's own API."""
    names = list(dict.fromkeys(s.strategy for s in spec.strategies))
    return Deployment(strategy_type="script" if len(spec.strategies) == 1 else "controller",
                      strategy_name=",".join(names), deployment_config=spec.model_dump(mode="json"))
