"""Bot runs: one record per deployment of an instance, kept after the instance is deleted.

While its instance exists, a run's status is derived from the instance's state (never stored twice);
when the instance is deleted, the status it ended in, its final status report and where its files were
archived are written into the run. The records are served in Hummingbot API's bot-runs shape.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from backend.docker.images import HIVE_IMAGE
from backend.errors import NotFound
from backend.store import BotRunRow, InstanceRow, Store
from backend.store.repositories.runs import BotRunRepository

RUN_STATUS = {"created": "CREATED", "starting": "RUNNING", "running": "RUNNING", "stopping": "STOPPED",
              "stopped": "STOPPED", "error": "ERROR"}


@dataclass(frozen=True)
class Deployment:
    """How an instance came to be: what the bot-runs record says about it."""

    strategy_type: str
    strategy_name: str
    account_name: str = "paper"
    image_version: str = HIVE_IMAGE
    config_name: str | None = None
    deployment_config: dict[str, Any] = field(default_factory=dict)


class BotRuns:
    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def record(session: Session, instance_name: str, deployment: Deployment, now: float) -> None:
        BotRunRepository(session).add(BotRunRow(
            instance_name=instance_name, deployed_at=now, strategy_type=deployment.strategy_type,
            strategy_name=deployment.strategy_name, config_name=deployment.config_name,
            account_name=deployment.account_name, image_version=deployment.image_version,
            deployment_status="DEPLOYED", deployment_config=deployment.deployment_config,
        ))

    @staticmethod
    def finish(session: Session, row: InstanceRow, now: float, final_status: dict[str, Any] | None,
               archive_path: Path | None) -> None:
        """The instance `row` is being deleted: freeze its latest run as it ends."""
        run = BotRunRepository(session).latest_of(row.name)
        if run is None:
            return
        run.run_status = RUN_STATUS.get(row.state, "STOPPED")
        run.stopped_at = row.state_since if row.state in ("stopped", "error") else now
        run.final_status = final_status
        if row.state == "error":
            run.error_message = row.reason
        run.deployment_status = "ARCHIVED" if archive_path else "REMOVED"
        run.archive_path = str(archive_path) if archive_path else None

    # --- reading ----------------------------------------------------------------------------------
    def list(self, *, bot_name: str | None = None, account_name: str | None = None,
             strategy_type: str | None = None, strategy_name: str | None = None, run_status: str | None = None,
             deployment_status: str | None = None, limit: int = 100, offset: int = 0,
             include_final_status: bool = False) -> list[dict[str, Any]]:
        filters = {column: value for column, value in (
            ("instance_name", bot_name), ("account_name", account_name), ("strategy_type", strategy_type),
            ("strategy_name", strategy_name), ("deployment_status", deployment_status)) if value is not None}
        with self.store.session() as session:
            live = self._live_states(session)
            runs = [self._out(run, live, include_final_status) for run in BotRunRepository(session).matching(filters)]
        if run_status is not None:
            runs = [run for run in runs if run["run_status"] == run_status.upper()]
        return runs[offset:offset + limit]

    def get(self, run_id: int) -> dict[str, Any]:
        with self.store.session() as session:
            run = BotRunRepository(session).get(run_id)
            if run is None:
                raise NotFound("not_found", f"Bot run {run_id} not found")
            return self._out(run, self._live_states(session), include_final_status=True)

    def delete(self, run_id: int) -> tuple[str, bool]:
        """Delete the record and its archived files; returns (bot name, whether an archive was deleted)."""
        with self.store.session() as session:
            runs = BotRunRepository(session)
            run = runs.get(run_id)
            if run is None:
                raise NotFound("not_found", f"Bot run {run_id} not found")
            name, archive = run.instance_name, run.archive_path
            runs.delete(run)
        if archive and Path(archive).is_dir():
            shutil.rmtree(archive, ignore_errors=True)
            return name, True
        return name, False

    @staticmethod
    def _live_states(session: Session) -> dict[str, tuple[str, float, str, int]]:
        """name -> (state, state_since, reason, id of the instance's latest run) for instances that exist."""
        runs = BotRunRepository(session)
        latest = runs.latest_run_ids()
        return {row.name: (row.state, row.state_since, row.reason, latest.get(row.name, -1))
                for row in runs.instances()}

    @staticmethod
    def _out(run: BotRunRow, live: dict[str, tuple[str, float, str, int]], include_final_status: bool) -> dict:
        run_status, stopped_at, error = run.run_status, run.stopped_at, run.error_message
        current = live.get(run.instance_name)
        if current is not None and current[3] == run.id:  # the run of an instance that still exists
            state, since, reason, _ = current
            run_status = RUN_STATUS.get(state, "STOPPED")
            stopped_at = since if state in ("stopped", "error") else None
            error = reason if state == "error" else None
        return {
            "id": run.id, "bot_name": run.instance_name, "instance_name": run.instance_name,
            "deployed_at": _iso(run.deployed_at), "stopped_at": _iso(stopped_at),
            "strategy_type": run.strategy_type, "strategy_name": run.strategy_name, "config_name": run.config_name,
            "account_name": run.account_name, "image_version": run.image_version,
            "deployment_status": run.deployment_status, "run_status": run_status or "STOPPED",
            "deployment_config": run.deployment_config,
            "final_status": run.final_status if include_final_status else None, "error_message": error,
        }


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()
