"""One strategy inside a running instance: stop, resume, change its params, hot-reload a version of its code.

Each action is one command to the bot (hive_core's `stop` with `strategy`, `strategy/resume`, `config`,
`strategy/reload`), audited with the strategy id (command_audit.py), so the strategy's history is its audit rows.
What the operator chose outlives the process: a params change is written into the instance's stored spec, and a
reload pins the library version it loaded (`spec.pinned`, per library strategy, since the instance's folder holds
one file per library strategy), so a later start writes that version rather than the latest. The reload keeps the
strategy's state, paper account, open orders and metrics (its PnL), as hive_core's reload does by default.
"""
from __future__ import annotations

import logging
from typing import Any

from backend.domain.instances import InstanceCreate, StrategyActionOut
from backend.errors import Conflict, InvalidInput, not_found
from backend.orchestrator.instances import InstanceService
from backend.store import InstanceRow
from backend.store.repositories.instances import InstanceRepository

log = logging.getLogger(__name__)


class StrategyControl:
    def __init__(self, instances: InstanceService) -> None:
        self.instances = instances

    # --- the actions ---------------------------------------------------------------------------
    def stop(self, name: str, strategy: str, actor: str) -> StrategyActionOut:
        """Stop one strategy (its open orders cancelled); the others keep running."""
        self._entry(name, strategy)
        reply = self._send(name, strategy, "stop", {}, actor, f"stop for {strategy}")
        return StrategyActionOut(instance=name, strategy=strategy, strategy_status=reply.get("strategy_status"),
                                 detail=f"stop for {strategy}")

    def resume(self, name: str, strategy: str, actor: str) -> StrategyActionOut:
        self._entry(name, strategy)
        reply = self._send(name, strategy, "strategy/resume", {}, actor, f"strategy/resume for {strategy}")
        return StrategyActionOut(instance=name, strategy=strategy, strategy_status=reply.get("strategy_status"),
                                 detail=f"strategy/resume for {strategy}")

    def set_params(self, name: str, strategy: str, params: dict[str, Any], actor: str) -> StrategyActionOut:
        """New param values, read by the strategy from its next hook on and stored for its later starts."""
        _spec, entry = self._entry(name, strategy)
        words = f"config for {strategy}: " + ", ".join(
            f"{key} {_shown(entry.params.get(key))} → {_shown(value)}" for key, value in params.items())
        reply = self._send(name, strategy, "config", {"params": [[key, value] for key, value in params.items()]},
                           actor, words[:2000])
        applied = {key: value for key, value in reply.get("changes", []) if key in params}
        stored = self._store(name, lambda row: _with_params(row, strategy, applied))
        return StrategyActionOut(instance=name, strategy=strategy, detail=words, params=stored)

    def reload(self, name: str, strategy: str, version: int | None, actor: str) -> StrategyActionOut:
        """Load the strategy's code again (the library `version` of an uploaded strategy, the latest when None)
        without restarting the instance; the version is pinned for the instance's later starts."""
        spec, entry = self._entry(name, strategy)
        library = entry.strategy
        running = self._running_version(name, strategy)
        if library in self.instances.library.shipped_names():
            if version is not None:
                raise InvalidInput("shipped_strategy", f"{library!r} is a shipped example: it has no versions to "
                                                       "choose from (leave the version out to reload it)")
            reply = self._send(name, strategy, "strategy/reload", {}, actor, f"strategy/reload for {strategy}")
            return StrategyActionOut(instance=name, strategy=strategy, strategy_status=reply.get("strategy_status"),
                                     detail=f"strategy/reload for {strategy}")
        chosen = version or self.instances.library.get(library).version
        if chosen is None:  # neither shipped nor uploaded: gone from the library since the instance was made
            raise not_found("strategy", library)
        source = self.instances.library.version(library, chosen).source  # 404 for a version it does not have
        if not self.instances.runtimes[spec.runtime].reads_live_folder(spec):
            raise Conflict("folder_not_shared",
                           f"instance {name!r} runs on the remote Docker host {spec.host!r}, which has a copy of its "
                           "folder made at its start: a new version reaches it only by a restart")
        words = f"strategy/reload for {strategy}: {library} version {_shown(running)} → {chosen}"
        files = self.instances.files
        with self.instances._lock:
            before = files.strategy_source(name, library)
            files.write_strategy(name, library, source)
        try:
            reply = self._send(name, strategy, "strategy/reload", {}, actor, words)
        except BaseException:
            self._put_back(name, library, before)
            raise
        self._store(name, lambda row: _with_version(row, strategy, library, chosen))
        return StrategyActionOut(instance=name, strategy=strategy, strategy_status=reply.get("strategy_status"),
                                 detail=words, version=chosen)

    # --- helpers -------------------------------------------------------------------------------
    def _entry(self, name: str, strategy: str) -> tuple[InstanceCreate, Any]:
        """The instance's stored spec and its entry for `strategy`; 404 for either unknown, 409 for an external bot."""
        with self.instances.store.session() as session:
            row = self.instances._row(session, name)
            spec = InstanceCreate.model_validate(row.spec["create"])
        for entry in spec.strategies:
            if entry.id == strategy:
                return spec, entry
        raise not_found(f"strategy of instance {name!r}", strategy)

    def _running_version(self, name: str, strategy: str) -> int | None:
        return next((item.version for item in self.instances.queries.get(name).strategies if item.id == strategy),
                    None)

    def _send(self, name: str, strategy: str, command: str, data: dict[str, Any], actor: str,
              words: str) -> dict[str, Any]:
        """Send the command; a bot's refusal is a 409 in its words (the audit row says it was refused)."""
        reply = self.instances.audit.request(actor, name, command, {**data, "strategy": strategy}, words=words)
        if reply.get("status") != 200:
            raise Conflict("command_refused", f"{name} refused {command} for {strategy}: {reply.get('msg') or reply}")
        return reply

    def _put_back(self, name: str, library: str, before: str | None) -> None:
        """The reload failed (the bot refused the file, or did not answer): its folder holds the code it runs."""
        if before is None:
            return
        with self.instances._lock:
            self.instances.files.write_strategy(name, library, before)
        log.info("instance %s: %s.py put back as it was before the refused reload", name, library)

    def _store(self, name: str, change: Any) -> Any:
        with self.instances._lock, self.instances.store.session() as session:
            row = InstanceRepository(session).get(name)
            if row is None:  # deleted meanwhile
                return None
            return change(row)


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "–" if value is None else str(value)


def _with_params(row: InstanceRow, strategy: str, applied: dict[str, Any]) -> dict[str, Any]:
    """Write the applied values into the stored spec; return the strategy's params as stored now."""
    create = dict(row.spec["create"])
    strategies = [dict(item) for item in create["strategies"]]
    entry = next(item for item in strategies if item["id"] == strategy)
    entry["params"] = {**entry.get("params", {}), **applied}
    create["strategies"] = strategies
    row.spec = {**row.spec, "create": create}
    return entry["params"]


def _with_version(row: InstanceRow, strategy: str, library: str, version: int) -> None:
    """The version runs now for `strategy`, and is the one every start writes for `library` from now on; the
    instance's other strategies of `library` keep the class they loaded until their own reload or the next start."""
    spec = dict(row.spec)
    before = spec.get("versions", {}).get(library)
    running = dict(spec.get("strategy_versions", {}))
    for item in spec["create"]["strategies"]:
        if item["strategy"] == library and item["id"] != strategy:
            running.setdefault(item["id"], before)
    running[strategy] = version
    spec["pinned"] = {**spec.get("pinned", {}), library: version}
    spec["versions"] = {**spec.get("versions", {}), library: version}
    spec["strategy_versions"] = running
    row.spec = spec
