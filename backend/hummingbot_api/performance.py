"""Controller performance: each strategy of each bot is a controller. The latest figures come from what the
fleet last heard (or the last stored snapshot of a stopped instance); the history from the stored PnL
snapshots, sampled to one point per controller per interval."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from backend.errors import BadRequest
from backend.orchestrator.fleet import Fleet
from backend.store import PnlSnapshotRow, Store
from backend.store.repositories.telemetry import TelemetryRepository

INTERVALS = {"5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400, "12h": 43200, "1d": 86400}
INTERVAL_PATTERN = "^(" + "|".join(INTERVALS) + ")$"


class Performance:
    def __init__(self, store: Store, fleet: Fleet) -> None:
        self.store = store
        self.fleet = fleet

    def latest(self, bot_name: str | None = None) -> list[dict[str, Any]]:
        snapshots: dict[tuple[str, str], dict[str, Any]] = {}
        for name in self.fleet.known_bots():
            view = self.fleet.bot(name)
            if view is None or (bot_name and name != bot_name):
                continue
            for strategy_id, strategy in view.strategies.items():
                snapshots[(name, strategy_id)] = {
                    "bot_name": name, "controller_id": strategy_id, "timestamp": _iso(strategy.at),
                    "status": (strategy.status or "running").upper(), "performance": strategy.performance}
        with self.store.session() as session:
            for point, name in TelemetryRepository(session).latest_pnl_per_strategy(bot_name or None):
                snapshots.setdefault((name, point.strategy), _stored(point, name) | {"status": "STOPPED"})
        return [snapshots[key] for key in sorted(snapshots)]

    def history(self, *, bot_name: str | None, controller_id: str | None, limit: int, cursor: str | None,
                start_time: str | None, end_time: str | None, interval: str) -> tuple[list[dict], str | None, bool]:
        """Oldest first; the cursor continues after the last row returned."""
        start = _epoch(start_time) if start_time else None
        end = _epoch(end_time) if end_time else None
        after = _cursor(cursor) if cursor else None
        with self.store.session() as session:
            rows = TelemetryRepository(session).sampled_pnl(
                bot_name=bot_name or None, strategy=controller_id or None, start=start, end=end,
                bucket_seconds=INTERVALS[interval], after=after, limit=limit + 1)
        has_more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = f"{rows[-1][0].ts!r}:{rows[-1][0].id}" if has_more else None
        return [_stored(point, name) for point, name in rows], next_cursor, has_more


def _stored(point: PnlSnapshotRow, name: str) -> dict[str, Any]:
    return {"bot_name": name, "controller_id": point.strategy, "timestamp": _iso(point.ts),
            "performance": {"realized_pnl_quote": point.realized, "unrealized_pnl_quote": point.unrealized,
                            "global_pnl_quote": point.total, "volume_traded": point.volume}}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _epoch(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise BadRequest("bad_request", f"Invalid datetime format: {error}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _cursor(text: str) -> tuple[float, int]:
    try:
        ts, row_id = text.rsplit(":", 1)
        return float(ts), int(row_id)
    except ValueError:
        raise BadRequest("bad_request", f"cursor {text!r} is not one this API returned; "
                                            "start again without a cursor") from None
