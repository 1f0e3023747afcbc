"""Bots and containers as Hummingbot API shows them, read from the fleet and the instances."""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Any

from backend.errors import HiveError
from backend.orchestrator.fleet import Fleet
from backend.orchestrator.instances import InstanceService
from backend.orchestrator.lifecycle import ACTIVE, State
from backend.orchestrator.runs import HIVE_IMAGE
from backend.store import LogRow, Store
from backend.store.repositories.instances import InstanceRepository
from backend.store.repositories.telemetry import TelemetryRepository
from hive_core.protocol import COMMAND_TIMEOUTS

log = logging.getLogger(__name__)

RECENT = 30.0  # s: a bot heard within this long is active (Hummingbot API's discovery window)
LOG_LINES = 50  # general and error log lines in a bot's status


class Bots:
    def __init__(self, store: Store, fleet: Fleet, instances: InstanceService) -> None:
        self.store = store
        self.fleet = fleet
        self.instances = instances
        self._archiving: set[str] = set()
        self._lock = threading.Lock()

    # --- which bots exist ------------------------------------------------------------------------
    def _rows(self) -> dict[str, tuple[str, float]]:
        """Instances created here: name -> (state, created_at)."""
        with self.store.session() as session:
            return {row.name: (row.state, row.created_at) for row in InstanceRepository(session).all()}

    def active(self) -> dict[str, str]:
        """Active bots -> source: 'docker' for instances whose process runs here (a container, in Hummingbot's
        words), 'mqtt' for any other bot heard on the broker within RECENT seconds."""
        now = time.time()
        bots = {name: "docker" for name, (state, _) in self._rows().items() if state in {s.value for s in ACTIVE}}
        for name in self.fleet.known_bots():
            view = self.fleet.bot(name)
            if name not in bots and view is not None and now - (view.last_seen or 0.0) < RECENT:
                bots[name] = "mqtt"
        with self._lock:
            return {name: source for name, source in bots.items() if name not in self._archiving}

    # --- status ----------------------------------------------------------------------------------
    def status(self, name: str) -> dict[str, Any]:
        """One bot's status: per strategy (controller) performance, logs, and whether it was heard lately."""
        with self._lock:
            if name in self._archiving:
                return {"status": "stopping", "message": "Bot is currently being stopped and archived",
                        "performance": {}, "error_logs": [], "general_logs": [], "recently_active": False}
        view = self.fleet.bot(name)
        performance = {}
        for strategy_id, strategy in sorted((view.strategies if view else {}).items()):
            entry = {"status": "error" if strategy.status == "error" else "running",
                     "performance": strategy.performance, "custom_info": strategy.custom_info}
            if strategy.error:
                entry["error"] = strategy.error
            performance[strategy_id] = entry
        recently_active = view is not None and time.time() - (view.last_seen or 0.0) < RECENT
        general, errors = self._logs(name)
        state = "running" if performance and recently_active else "idle" if performance else "stopped"
        return {"status": state, "performance": performance, "error_logs": errors, "general_logs": general,
                "recently_active": recently_active}

    def all_status(self) -> dict[str, dict[str, Any]]:
        return {name: self.status(name) | {"source": source} for name, source in sorted(self.active().items())}

    def _logs(self, name: str) -> tuple[list[dict], list[dict]]:
        with self.store.session() as session:
            row = InstanceRepository(session).get(name)
            if row is None:
                return [], []  # an external bot: its log lines are not stored
            telemetry = TelemetryRepository(session)
            general = telemetry.newest_logs(row.id, LOG_LINES)
            errors = telemetry.newest_logs(row.id, LOG_LINES, min_level=logging.ERROR)
            return [_log_out(line) for line in reversed(general)], [_log_out(line) for line in reversed(errors)]

    # --- commands --------------------------------------------------------------------------------
    def command(self, name: str, command: str, data: dict[str, Any], timeout: float | None = None,
                actor: str = "hummingbot-api") -> dict[str, Any]:
        """Send a command (docs/protocol.md) for `actor` to an active bot: {"success": bool}, "message" and the
        reply's fields. One that acts is audited."""
        if name not in self.active():
            return {"success": False, "message": f"Bot {name} not found"}
        timeout = COMMAND_TIMEOUTS.get(command, 10.0) if timeout is None else timeout
        try:
            reply = self.instances.audit.request(actor, name, command, data, timeout)
        except HiveError as error:
            if error.code != "command_timeout":
                raise
            return {"success": False, "message": f"No response received from {name} within {timeout:g} seconds",
                    "timeout": True}
        if reply.get("status") != 200:
            return {"success": False, "message": str(reply.get("msg") or f"the bot answered {reply.get('status')}")}
        return {"success": True, "data": reply} if command == "history" else {"success": True}

    # --- stop and archive ------------------------------------------------------------------------
    def stop_and_archive(self, name: str, skip_order_cancellation: bool, archive_locally: bool,
                         actor: str = "hummingbot-api") -> dict[str, Any]:
        """Start stopping `name` in the background: the stop command, then (for an instance run here) its
        process, then its deletion with its folder archived. Answers at once, as Hummingbot API does."""
        active = self.active()
        details = {"input_name": name, "actual_bot_name": name, "container_name": name}
        if name not in active:
            return {"status": "error", "message": f"Bot '{name}' not found in active bots. Active bots: "
                                                  f"{sorted(active)}. Cannot perform graceful shutdown.",
                    "details": details | {"active_bots": sorted(active),
                                          "reason": "Bot must be actively managed via MQTT for graceful shutdown"}}
        final_status = self.status(name)
        with self._lock:
            self._archiving.add(name)
        threading.Thread(target=self._stop_and_archive, name=f"archive-{name}", daemon=True,
                         args=(name, active[name] == "docker", skip_order_cancellation, archive_locally,
                               final_status, actor)).start()
        what = ("stopped, archived and removed" if active[name] == "docker"
                else "sent the stop command (it runs elsewhere, so it is not archived or removed)")
        return {"status": "success", "message": f"Stop and archive process started for bot {name}",
                "details": details | {"process": f"The bot will be gracefully {what} in the background."}}

    def _stop_and_archive(self, name: str, ours: bool, skip_order_cancellation: bool, archive_locally: bool,
                          final_status: dict[str, Any], actor: str) -> None:
        try:
            try:
                self.instances.audit.request(actor, name, "stop", {"skip_order_cancellation": skip_order_cancellation,
                                                                   "async_backend": False})
            except HiveError as error:
                log.warning("stop-and-archive %s: the stop command was not answered (%s); stopping the process",
                            name, error.detail)
            if ours:
                self.remove(name, archive_locally, final_status)
        except Exception:
            log.exception("stop-and-archive of %s failed", name)
        finally:
            with self._lock:
                self._archiving.discard(name)

    def remove(self, name: str, archive: bool, final_status: dict[str, Any] | None = None) -> None:
        """Stop the instance if it runs (Docker removes with force), then delete it, archiving its folder."""
        if self.instances.queries.get(name).state in {s.value for s in ACTIVE} | {State.ERROR.value}:
            self.instances.stop(name, wait=self.instances.settings.stop_grace + 5)
        self.instances.delete(name, archive=archive, final_status=final_status or self.status(name))

    # --- containers ------------------------------------------------------------------------------
    def containers(self, running: bool, name_filter: str | None) -> list[dict[str, str]]:
        """Instances run here, as Docker containers: the running ones, or the exited (stopped / failed) ones."""
        wanted = {s.value for s in ACTIVE} if running else {State.STOPPED.value, State.ERROR.value}
        out = []
        for name, (state, created_at) in sorted(self._rows().items()):
            if state in wanted and (not name_filter or name_filter.lower() in name.lower()):
                out.append({"id": hashlib.sha256(f"{name}:{created_at}".encode()).hexdigest(), "name": name,
                            "status": "running" if running else "exited", "image": HIVE_IMAGE})
        return out

    def clean_exited(self) -> None:
        """Docker's prune: remove every exited container; here the folders are archived, and the runs kept."""
        for container in self.containers(running=False, name_filter=None):
            try:
                self.instances.delete(container["name"], archive=True, final_status=self.status(container["name"]))
            except HiveError as error:  # started or deleted meanwhile
                log.info("clean-exited-containers: kept %s (%s)", container["name"], error.detail)


def _log_out(line: LogRow) -> dict[str, Any]:
    return {"timestamp": line.ts, "msg": line.msg, "level_name": line.level_name, "level_no": line.level_no,
            "logger_name": line.logger_name}
