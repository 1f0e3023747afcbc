"""Reading instances: the list, one instance, and what is stored of it (logs, trades, PnL, history, messages).

Instances created here are read from the store, with what the fleet hears laid over them; every other bot
heard under the namespace shows as an instance of runtime `external`, derived from what was heard alone, until it
has been silent for `gone_after`: then it is listed apart (gone) until it speaks again or is forgotten.
The listing filters, sorts and pages (InstanceQuery) and sums the fleet up (FleetTotals) from one read of the
store: the instance rows, and one grouped count of the trades (TRADE_COUNT_TTL), whatever the fleet's size. An
external bot is first only marked (ExternalMark: its state and the figures a listing sorts and sums by), read
under the fleet's lock without copying what was heard of it; only the bots on the page get a row built. Building
every bot's row for each listing took hundreds of ms at 2,000 bots; building them in every supervisor round
instead held the interpreter tens of ms a second, which the commands answered meanwhile waited for.
"""
from __future__ import annotations

import bisect
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, Protocol

from sqlalchemy.orm import Session

from backend.domain.instances import (
    MAX_BALANCES,
    MAX_OPEN_ORDERS,
    ErrorLine,
    FleetOrder,
    FleetTotals,
    GoneBot,
    InstanceCreate,
    InstanceOut,
    InstanceQuery,
    LogLine,
    MarketEvent,
    Notification,
    OpenOrder,
    PnlPoint,
    PnlSummary,
    ResourcePoint,
    StateChange,
    StrategyStatus,
    Trade,
)
from backend.errors import not_found
from backend.orchestrator.fleet import BotView, Fleet, ReportedPnl, StrategyView
from backend.orchestrator.handle import ProcessHandle
from backend.orchestrator.lifecycle import State
from backend.orchestrator.listing import page, pnl_unit, totals
from backend.orchestrator.recorder import FleetRecorder
from backend.orchestrator.resource_history import ResourceHistory
from backend.orchestrator.state import BROKER_UNREACHABLE, Thresholds, broker_down, external_state, is_late, reason_now
from backend.runtimes.base import Resources
from backend.store import InstanceRow, Store
from backend.store.repositories.instances import InstanceRepository
from backend.store.repositories.telemetry import Bot, TelemetryRepository

MAX_ERROR_CHARS = 16_000  # of one error line's text (its stack trace included) in GET /errors
TRADE_COUNT_TTL = 2.0  # s a grouped count of the trades is reused (the dashboard lists every couple of seconds)
REPORTED = (State.RUNNING, State.STARTING)  # states in which what the bot last reported still holds
LIVE = (State.STARTING, State.RUNNING, State.STOPPING)  # states in which its process runs


class BrokerAddress(Protocol):
    def address(self) -> tuple[str, int]: ...


class _Marked(NamedTuple):
    """ExternalMark's fields."""

    name: str
    state: str
    reason: str
    late: bool
    state_since: float
    created_at: float
    last_heartbeat_age_s: float | None
    pnl: ReportedPnl
    strategy_count: int
    trade_count: int


class ExternalMark(_Marked):
    """What a listing needs of an external bot to filter, sort, page and sum it (listing.Listed); what is the same
    for every external bot is not a field (a listing makes thousands of marks)."""

    __slots__ = ()
    runtime = "external"
    host = None
    uptime_s = None
    cpu_percent = None
    memory_bytes = None
    network_rx_bytes = None
    network_tx_bytes = None
    pnl_unit = None


class InstanceQueries:
    def __init__(self, store: Store, fleet: Fleet, recorder: FleetRecorder, broker: BrokerAddress,
                 limits: Thresholds, gone_after: float, resources: dict[str, Resources]) -> None:
        """`resources` is the latest resource use per live instance, kept up to date by the instance service; an
        external bot silent for `gone_after` seconds is gone."""
        self.store = store
        self.fleet = fleet
        self.recorder = recorder
        self.broker = broker
        self.limits = limits
        self.gone_after = gone_after
        self.resources = resources
        self._trade_counts: tuple[float, dict[Bot, int]] = (0.0, {})

    def broker_words(self) -> str:
        host, port = self.broker.address()
        return f"the broker at {host}:{port}"

    # --- instances -------------------------------------------------------------------------------
    def all(self, summary: bool = False) -> list[InstanceOut]:
        """The instances the backend created, and every other bot heard under the namespace (runtime external);
        without their per-strategy entries when `summary`."""
        return self._rows(self._listed(InstanceQuery(view="summary" if summary else "full")), summary)

    def listing(self, query: InstanceQuery) -> tuple[list[InstanceOut], int]:
        """The page of the instances that pass the query's filters, in its order, and how many passed."""
        listed, total = page(self._listed(query), query)
        return self._rows(listed, query.view == "summary"), total

    def totals(self, query: InstanceQuery) -> FleetTotals:
        """The sums over the instances that pass the query's filters (offset and limit aside)."""
        return totals(self._listed(query.model_copy(update={"view": "summary"})), BROKER_UNREACHABLE)

    def _listed(self, query: InstanceQuery) -> list[InstanceOut | ExternalMark]:
        """The instances that pass the filters, by name: the backend's own as rows, the external bots marked.
        Rows are left out by their stored columns before anything is built of them; the text, which may be in the
        derived reason, is matched last."""
        summary = query.view == "summary"
        with self.store.session() as session:
            rows = [row for row in InstanceRepository(session).all() if _passes(row, query)]
            counts = self._counts(session)
            out: list[InstanceOut | ExternalMark] = [self.out(session, row, summary, counts.get(row.id, 0))
                                                     for row in rows]
            ours = set(InstanceRepository(session).names())
        if query.runtime in (None, "external") and query.host is None:
            out += [mark for mark in self._marks(ours, counts) if not query.state or mark.state in query.state]
        if query.q:
            text = query.q.casefold()
            out = [item for item in out if text in item.name.casefold() or text in item.reason.casefold()]
        return sorted(out, key=lambda instance: instance.name)

    def _rows(self, listed: list[InstanceOut | ExternalMark], summary: bool) -> list[InstanceOut]:
        """The rows of what was listed: the external bots' built now (with their strategies unless `summary`)."""
        return [item if isinstance(item, InstanceOut)
                else self._external_row(item, None if summary else self.fleet.bot(item.name)) for item in listed]

    def _marks(self, ours: set[str], counts: dict[Bot, int]) -> list[ExternalMark]:
        """Every bot heard that the backend did not create and that is not gone, marked."""
        now = time.time()
        marked, seen_since = self._marker(now), now - self.gone_after
        return [mark for mark in self.fleet.each(
            lambda name, view: None if name in ours or (view.last_seen or view.first_seen or now) < seen_since
            else marked(name, view, counts.get(name, 0))) if mark is not None]

    def _marker(self, now: float) -> Callable[[str, BotView, int], ExternalMark]:
        """mark(name, view, trade count) of an external bot as of `now`, the broker's state read once for all."""
        connection, limits, broker = self.fleet.connection, self.limits, self.broker_words()
        down = broker_down(connection.connected, connection.disconnected_since, now)
        silence_from = self.fleet.silence_counts_from()

        def mark(name: str, view: BotView, trade_count: int) -> ExternalMark:
            state, reason = external_state(view, now, down, broker, limits.heartbeat_timeout, limits.late_after,
                                           silence_from)
            first = view.first_seen or view.last_seen or now
            since = max(view.last_alive or first, view.last_offline or first, view.said.at if view.said else first,
                        first)
            heartbeat = view.last_heartbeat
            return ExternalMark(name, state.value, reason, is_late(state, reason), since, first,
                                None if heartbeat is None else round(now - heartbeat, 1),
                                _summed_pnl(view.strategies.values()), len(view.strategies), trade_count)
        return mark

    def gone(self) -> list[GoneBot]:
        """The external bots silent for longer than `gone_after`, by name."""
        now = time.time()
        with self.store.session() as session:
            ours = set(InstanceRepository(session).names())
        return [GoneBot(name=name, first_heard=first, last_heard=last)
                for name, first, last in self.fleet.heard_bots()
                if name not in ours and now - (last or first or now) > self.gone_after]

    def _counts(self, session: Session) -> dict[Bot, int]:
        at, counts = self._trade_counts
        if time.monotonic() - at > TRADE_COUNT_TTL:
            counts = TelemetryRepository(session).trade_counts()
            self._trade_counts = (time.monotonic(), counts)
        return counts

    def get(self, name: str) -> InstanceOut:
        with self.store.session() as session:
            row = InstanceRepository(session).get(name)
            if row is not None:
                return self.out(session, row, trade_count=TelemetryRepository(session).trade_count(row.id))
        view = self.fleet.bot(name)
        if view is None:
            raise not_found("instance", name)
        with self.store.session() as session:
            trade_count = TelemetryRepository(session).trade_count(name)
        return self._external_row(self._marker(time.time())(name, view, trade_count), view)

    def known_names(self) -> list[str]:
        with self.store.session() as session:
            ours = set(InstanceRepository(session).names())
        return sorted(ours | set(self.fleet.known_bots()))

    def out(self, session: Session, row: InstanceRow, summary: bool = False, trade_count: int = 0) -> InstanceOut:
        """One stored instance as the API shows it, read within `session`; without its per-strategy entries when
        `summary`."""
        now = time.time()
        spec = InstanceCreate.model_validate(row.spec["create"])
        versions = row.spec.get("versions", {})
        reloaded = row.spec.get("strategy_versions", {})  # a strategy id hot-reloaded to a version since its start
        view = self.fleet.bot(row.name)
        state = State(row.state)
        strategies = []
        for entry in spec.strategies:
            reported = view.strategies.get(entry.id) if view else None
            if reported is not None:
                pnl = _reported_pnl(reported)
            else:
                pnl = self._stored_pnl(session, row.id, entry.id)
            current = reported if state in REPORTED else None
            strategies.append(StrategyStatus(
                id=entry.id, strategy=entry.strategy, version=reloaded.get(entry.id, versions.get(entry.strategy)),
                params=entry.params, interval=entry.interval, status=current.status if current is not None else None,
                error=reported.error if reported is not None else None, pnl=pnl, **_orders_and_balances(current),
            ))
        handle = ProcessHandle.from_json(row.handle)
        live = handle is not None and handle.live
        docker = spec.runtime == "docker"
        resources = self.resources.get(row.name, Resources()) if live else Resources()
        heartbeat_age = now - view.last_heartbeat if view and view.last_heartbeat else None
        pairs = [entry.trading_pair or spec.trading_pairs[0] for entry in spec.strategies]
        reason = reason_now(state, row.reason, row.started_at, view, now, self.fleet.silence_counts_from(),
                            self.limits.late_after)
        return InstanceOut(
            name=row.name, runtime=row.runtime, state=state.value, reason=reason, late=is_late(state, reason),
            state_since=row.state_since, created_at=row.created_at, pid=row.pid if live else None,
            last_heartbeat_age_s=None if heartbeat_age is None else round(heartbeat_age, 1),
            cpu_percent=resources.cpu_percent, memory_bytes=resources.memory_bytes,
            network_rx_bytes=resources.network_rx_bytes, network_tx_bytes=resources.network_tx_bytes,
            host=spec.host if docker else None, image=spec.image if docker else None,
            image_version=(handle.locator.get("image_version") or None) if docker and handle is not None else None,
            limits=spec.limits if docker else None, venue=spec.venue,
            credential=spec.credential if spec.venue.live else None, pnl=_total([s.pnl for s in strategies]),
            pnl_unit=pnl_unit(pairs),
            strategies=[] if summary else strategies, strategy_count=len(strategies), trade_count=trade_count,
            started_at=row.started_at, uptime_s=round(now - row.started_at, 1) if row.started_at and state in LIVE
            else None, restart_policy=spec.restart_policy, restarts=row.restarts, next_restart_at=row.next_restart_at,
        )

    @staticmethod
    def _external_row(mark: ExternalMark, view: BotView | None) -> InstanceOut:
        """An external bot's row as it was marked; with its strategies as `view` (a copy) has them, if given."""
        reporting = State(mark.state) in REPORTED
        strategies = [] if view is None else [
            StrategyStatus(id=strategy_id, strategy=strategy_id, params={}, interval=1.0, status=reported.status,
                           error=reported.error, pnl=_reported_pnl(reported),
                           **_orders_and_balances(reported if reporting else None))
            for strategy_id, reported in sorted(view.strategies.items())]
        return InstanceOut(
            name=mark.name, runtime="external", state=mark.state, reason=mark.reason, late=mark.late,
            state_since=mark.state_since, created_at=mark.created_at, last_heartbeat_age_s=mark.last_heartbeat_age_s,
            pnl=PnlSummary(**mark.pnl._asdict()), strategies=strategies, strategy_count=mark.strategy_count,
            trade_count=mark.trade_count,
        )

    @staticmethod
    def _stored_pnl(session: Session, instance_id: int, strategy: str) -> PnlSummary:
        snapshot = TelemetryRepository(session).latest_pnl(instance_id, strategy)
        if snapshot is None:
            return PnlSummary()
        return PnlSummary(realized=snapshot.realized, unrealized=snapshot.unrealized, total=snapshot.total,
                          volume=snapshot.volume)

    def _stored(self, session: Session, name: str) -> InstanceRow | None:
        """The row of an instance created here; None for an external bot (nothing stored by row); 404 otherwise."""
        row = InstanceRepository(session).get(name)
        if row is None and not self.fleet.heard(name):
            raise not_found("instance", name)
        return row

    def _bot(self, session: Session, name: str) -> Bot:
        """Whose telemetry (log lines, trades, PnL) to read: an instance's row id, or an external bot's name; 404 for
        an unknown name."""
        row = self._stored(session, name)
        return name if row is None else row.id

    # --- what is stored of an instance -----------------------------------------------------------
    def logs(self, name: str, limit: int, strategy: str | None, query: str | None = None,
             min_level: str | None = None) -> list[LogLine]:
        """The newest `limit` lines that match, oldest first: of one strategy, holding `query` (case-insensitive),
        from the level `min_level` (DEBUG, INFO, WARNING, ERROR, CRITICAL) up, when given."""
        level = logging.getLevelNamesMapping()[min_level] if min_level else None
        with self.store.session() as session:
            lines = TelemetryRepository(session).newest_logs(self._bot(session, name), limit, strategy, level, query)
        return [LogLine(timestamp=line.ts, level_name=line.level_name, logger_name=line.logger_name, msg=line.msg,
                        strategy=line.strategy) for line in reversed(lines)]

    def performance(self, name: str, since: float | None) -> list[PnlPoint]:
        with self.store.session() as session:
            points = TelemetryRepository(session).pnl_points(self._bot(session, name), since)
            return [PnlPoint(ts=p.ts, strategy=p.strategy, realized=p.realized, unrealized=p.unrealized, total=p.total,
                             volume=p.volume) for p in points]

    def resource_history(self, name: str, since: float | None) -> list[ResourcePoint]:
        """Its resource use over time, oldest first (empty for an external bot: nothing is measured of it)."""
        with self.store.session() as session:
            row = self._stored(session, name)
            if row is None:
                return []
            return ResourceHistory.points(session, row.id, since)

    def trades(self, name: str, limit: int) -> list[Trade]:
        """Newest first, each with the run (start of the instance) it happened in (none for an external bot: its
        starts are not known here)."""
        with self.store.session() as session:
            bot = self._bot(session, name)
            starts = sorted(c.ts for c in InstanceRepository(session).state_changes(bot)
                            if c.to_state == State.STARTING.value) if isinstance(bot, int) else []
            return [Trade.model_validate(t, from_attributes=True).model_copy(
                        update={"run": bisect.bisect_right(starts, t.ts) or None})
                    for t in TelemetryRepository(session).newest_trades(bot, limit)]

    def trades_count(self, name: str) -> int:
        with self.store.session() as session:
            return TelemetryRepository(session).trade_count(self._bot(session, name))

    def history(self, name: str) -> list[StateChange]:
        with self.store.session() as session:
            row = self._stored(session, name)
            if row is None:
                return []
            return [StateChange.model_validate(c, from_attributes=True)
                    for c in InstanceRepository(session).state_changes(row.id)]

    def notifications(self, name: str, limit: int) -> list[Notification]:
        self.get(name)
        self.recorder.flush()
        with self.store.session() as session:
            rows = TelemetryRepository(session).newest_notifications(name, limit)
            return [Notification(ts=r.ts, seq=r.seq, msg=r.msg) for r in rows]

    def market_events(self, name: str, limit: int) -> list[MarketEvent]:
        self.get(name)
        self.recorder.flush()
        with self.store.session() as session:
            rows = TelemetryRepository(session).newest_market_events(name, limit)
            return [MarketEvent(ts=r.ts, type=r.type, data=r.data) for r in rows]


    # --- across the fleet -------------------------------------------------------------------------
    def open_orders(self, instance: str | None, strategy: str | None, trading_pair: str | None,
                    limit: int) -> list[FleetOrder]:
        """The open orders of the running instances (or of one), as their strategies last reported them, by
        instance, strategy and age; at most `limit`."""
        instances = [self.get(instance)] if instance else self.all()
        orders = [FleetOrder(instance=item.name, strategy=status.id, **order.model_dump())
                  for item in instances for status in item.strategies if strategy in (None, status.id)
                  for order in status.open_orders if trading_pair in (None, order.trading_pair)]
        return orders[:limit]

    def errors(self, instance: str | None, limit: int) -> list[ErrorLine]:
        """ERROR and CRITICAL log lines of every instance and external bot (or of one), newest first, their stack
        traces included."""
        with self.store.session() as session:
            bot = self._bot(session, instance) if instance else None
            lines = TelemetryRepository(session).newest_errors(logging.ERROR, limit, bot)
        return [ErrorLine(instance=name, timestamp=line.ts, level_name=line.level_name, logger_name=line.logger_name,
                          msg=_capped(line.msg), strategy=line.strategy) for line, name in lines]


def _orders_and_balances(reported: StrategyView | None) -> dict[str, Any]:
    """open_orders, open_orders_count and balances of a strategy from its last report (all empty when None).
    What a bot reports is checked: an entry that is not an order, or a balance that is not a number, is left out."""
    if reported is None:
        return {}
    info = reported.custom_info
    listed = info.get("open_orders")
    orders = []
    for entry in listed[:MAX_OPEN_ORDERS] if isinstance(listed, list) else []:
        try:
            orders.append(OpenOrder.model_validate(entry))
        except ValueError:
            continue
    count = info.get("open_orders_count")
    balances = info.get("balances")
    return {
        "open_orders": sorted(orders, key=lambda order: order.created_at or 0.0),
        "open_orders_count": count if isinstance(count, int) and not isinstance(count, bool) and count >= 0
        else len(orders),
        "balances": {str(asset)[:32]: float(amount) for asset, amount in list(balances.items())[:MAX_BALANCES]
                     if isinstance(amount, int | float) and not isinstance(amount, bool)}
        if isinstance(balances, dict) else {},
    }


def _capped(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + f"\n… ({len(text):,} characters)"
def _passes(row: InstanceRow, query: InstanceQuery) -> bool:
    """The row passes the filters that its stored columns decide (state, runtime, host)."""
    if query.state and row.state not in query.state:
        return False
    if query.runtime is not None and row.runtime != query.runtime:
        return False
    return query.host is None or (row.runtime == "docker" and row.spec["create"].get("host") == query.host)


def _summed_pnl(reported: Iterable[StrategyView]) -> ReportedPnl:
    realized = unrealized = total = volume = 0.0
    for view in reported:
        pnl = view.pnl
        realized, unrealized = realized + pnl.realized, unrealized + pnl.unrealized
        total, volume = total + pnl.total, volume + pnl.volume
    return ReportedPnl(realized, unrealized, total, volume)


def _reported_pnl(reported: StrategyView) -> PnlSummary:
    return PnlSummary(**reported.pnl._asdict())


def _total(pnls: list[PnlSummary]) -> PnlSummary:
    return PnlSummary(realized=sum(p.realized for p in pnls), unrealized=sum(p.unrealized for p in pnls),
                      total=sum(p.total for p in pnls), volume=sum(p.volume for p in pnls))
