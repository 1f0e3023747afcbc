"""What the bots reported and the backend stored: log lines, trades, PnL snapshots, resource use, notifications,
market events.

Log lines, trades and PnL snapshots belong to a `Bot`: an instance created here, by its row id, or an external bot
(heard on the broker, not created here), by its name."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, cast, delete, func, or_, select
from sqlalchemy.orm import Session

from backend.store.models import (
    InstanceRow,
    LogRow,
    MarketEventRow,
    NotificationRow,
    PnlSnapshotRow,
    ResourceSampleRow,
    TradeRow,
)

Bot = int | str
"""An instance's row id, or an external bot's name."""


def _of(model: type[LogRow] | type[TradeRow] | type[PnlSnapshotRow], bot: Bot) -> ColumnElement[bool]:
    """The rows of `bot` in `model`'s table."""
    if isinstance(bot, int):
        return model.instance_id == bot
    return and_(model.instance_id.is_(None), model.bot == bot)


class TelemetryRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- log lines -------------------------------------------------------------------------------
    def newest_logs(self, bot: Bot, limit: int, strategy: str | None = None,
                    min_level: int | None = None, contains: str | None = None) -> list[LogRow]:
        """The newest `limit` lines, newest first; only one strategy's, from a level up, or those whose text holds
        `contains` (case-insensitive) when asked."""
        query = select(LogRow).where(_of(LogRow, bot))
        if strategy:
            query = query.where(LogRow.strategy == strategy)
        if min_level is not None:
            query = query.where(LogRow.level_no >= min_level)
        if contains:
            query = query.where(LogRow.msg.icontains(contains, autoescape=True))
        return list(self.session.scalars(query.order_by(LogRow.id.desc()).limit(limit)))

    def newest_errors(self, min_level: int, limit: int, bot: Bot | None = None) -> list[tuple[LogRow, str]]:
        """The newest `limit` lines from `min_level` up, of every bot or of one, newest first, each with its bot's
        name."""
        query = (select(LogRow, func.coalesce(InstanceRow.name, LogRow.bot))
                 .outerjoin(InstanceRow, InstanceRow.id == LogRow.instance_id).where(LogRow.level_no >= min_level))
        if bot is not None:
            query = query.where(_of(LogRow, bot))
        return [(line, name) for line, name in self.session.execute(query.order_by(LogRow.id.desc()).limit(limit))]

    # --- trades and PnL --------------------------------------------------------------------------
    def newest_trades(self, bot: Bot, limit: int) -> list[TradeRow]:
        return list(self.session.scalars(select(TradeRow).where(_of(TradeRow, bot))
                                         .order_by(TradeRow.ts.desc(), TradeRow.id.desc()).limit(limit)))

    def trade_counts(self) -> dict[Bot, int]:
        """bot (instance id, or external bot's name) -> its stored trades, in two grouped queries (each over its
        index: (instance_id, ts), (bot, ts))."""
        ours = select(TradeRow.instance_id, func.count()).where(TradeRow.instance_id.is_not(None)) \
            .group_by(TradeRow.instance_id)
        external = select(TradeRow.bot, func.count()).where(TradeRow.bot.is_not(None)).group_by(TradeRow.bot)
        counts: dict[Bot, int] = {instance_id: count for instance_id, count in self.session.execute(ours)
                                  if instance_id is not None}
        counts.update((str(bot), count) for bot, count in self.session.execute(external))
        return counts

    def trade_count(self, bot: Bot) -> int:
        return self.session.scalar(select(func.count()).select_from(TradeRow).where(_of(TradeRow, bot))) or 0

    def pnl_points(self, bot: Bot, since: float | None) -> list[PnlSnapshotRow]:
        """Oldest first; only those after `since` when given."""
        query = select(PnlSnapshotRow).where(_of(PnlSnapshotRow, bot))
        if since is not None:
            query = query.where(PnlSnapshotRow.ts > since)
        return list(self.session.scalars(query.order_by(PnlSnapshotRow.ts, PnlSnapshotRow.id)))

    def latest_pnl(self, instance_id: int, strategy: str) -> PnlSnapshotRow | None:
        return self.session.scalar(
            select(PnlSnapshotRow).where(PnlSnapshotRow.instance_id == instance_id, PnlSnapshotRow.strategy == strategy)
            .order_by(PnlSnapshotRow.ts.desc()).limit(1))

    def latest_pnl_per_strategy(self, bot_name: str | None) -> list[tuple[PnlSnapshotRow, str]]:
        """The newest snapshot of every (bot, strategy), with the bot's name (an instance's or an external bot's)."""
        name = func.coalesce(InstanceRow.name, PnlSnapshotRow.bot)
        newest = select(func.max(PnlSnapshotRow.id)).group_by(PnlSnapshotRow.instance_id, PnlSnapshotRow.bot,
                                                              PnlSnapshotRow.strategy)
        query = (select(PnlSnapshotRow, name)
                 .outerjoin(InstanceRow, InstanceRow.id == PnlSnapshotRow.instance_id)
                 .where(PnlSnapshotRow.id.in_(newest)))
        if bot_name:
            query = query.where(name == bot_name)
        return [(point, name) for point, name in self.session.execute(query)]

    def sampled_pnl(self, *, bot_name: str | None, strategy: str | None, start: float | None, end: float | None,
                    bucket_seconds: int, after: tuple[float, int] | None,
                    limit: int) -> list[tuple[PnlSnapshotRow, str]]:
        """The newest snapshot per (bot, strategy, time bucket), oldest first, after the (ts, id) `after`, each with
        its bot's name (an instance's or an external bot's)."""
        name = func.coalesce(InstanceRow.name, PnlSnapshotRow.bot)
        conditions: list[Any] = []
        if bot_name:
            conditions.append(name == bot_name)
        if strategy:
            conditions.append(PnlSnapshotRow.strategy == strategy)
        if start is not None:
            conditions.append(PnlSnapshotRow.ts >= start)
        if end is not None:
            conditions.append(PnlSnapshotRow.ts <= end)
        sampled = (select(func.max(PnlSnapshotRow.id))
                   .outerjoin(InstanceRow, InstanceRow.id == PnlSnapshotRow.instance_id).where(*conditions)
                   .group_by(PnlSnapshotRow.instance_id, PnlSnapshotRow.bot, PnlSnapshotRow.strategy,
                             cast(PnlSnapshotRow.ts / bucket_seconds, Integer)))
        query = (select(PnlSnapshotRow, name)
                 .outerjoin(InstanceRow, InstanceRow.id == PnlSnapshotRow.instance_id)
                 .where(PnlSnapshotRow.id.in_(sampled)))
        if after is not None:
            after_ts, after_id = after
            query = query.where(or_(PnlSnapshotRow.ts > after_ts,
                                    and_(PnlSnapshotRow.ts == after_ts, PnlSnapshotRow.id > after_id)))
        query = query.order_by(PnlSnapshotRow.ts, PnlSnapshotRow.id).limit(limit)
        return [(point, name) for point, name in self.session.execute(query)]

    # --- resource use ----------------------------------------------------------------------------
    def add_resource_sample(self, row: ResourceSampleRow) -> None:
        self.session.add(row)

    def resource_samples(self, instance_id: int, since: float | None) -> list[ResourceSampleRow]:
        """Oldest first; only those after `since` when given."""
        query = select(ResourceSampleRow).where(ResourceSampleRow.instance_id == instance_id)
        if since is not None:
            query = query.where(ResourceSampleRow.ts > since)
        return list(self.session.scalars(query.order_by(ResourceSampleRow.ts, ResourceSampleRow.id)))

    def prune_resource_samples(self, drop_before: float, thin_before: float, bucket_seconds: int) -> None:
        """Drop the samples older than `drop_before`; of those older than `thin_before`, keep the first per instance
        and `bucket_seconds`."""
        self.session.execute(delete(ResourceSampleRow).where(ResourceSampleRow.ts < drop_before))
        kept = (select(func.min(ResourceSampleRow.id)).where(ResourceSampleRow.ts < thin_before)
                .group_by(ResourceSampleRow.instance_id, cast(ResourceSampleRow.ts / bucket_seconds, Integer)))
        self.session.execute(delete(ResourceSampleRow).where(ResourceSampleRow.ts < thin_before,
                                                             ResourceSampleRow.id.not_in(kept)))

    # --- notifications and market events (kept by bot name: external bots have them too) ---------
    # --- bounds ----------------------------------------------------------------------------------
    def trim_external_history(self, keep: int) -> int:
        """Keep the newest `keep` trades and PnL points of each external bot (anyone with a broker login may send
        any number); an instance created here keeps all of its own. Returns the rows deleted."""
        return sum(self._trim_each(model, model.bot, keep, model.instance_id.is_(None))
                   for model in (TradeRow, PnlSnapshotRow))

    def trim_feeds(self, keep: int) -> int:
        """Keep the newest `keep` notifications and market events of each bot. Returns the rows deleted."""
        return sum(self._trim_each(model, model.instance, keep) for model in (NotificationRow, MarketEventRow))

    def _trim_each(self, model: Any, owner: Any, keep: int, *where: ColumnElement[bool]) -> int:
        """In `model`'s table, delete all but the newest `keep` rows (by arrival: id) of each `owner` over it."""
        deleted = 0
        over = self.session.scalars(select(owner).where(*where).group_by(owner).having(func.count() > keep)).all()
        for name in over:
            cutoff = self.session.scalar(select(model.id).where(owner == name, *where)
                                         .order_by(model.id.desc()).offset(keep).limit(1))
            if cutoff is not None:
                result = self.session.execute(delete(model).where(owner == name, *where, model.id <= cutoff))
                deleted += getattr(result, "rowcount", 0) or 0
        return deleted

    def add_notifications(self, rows: Iterable[NotificationRow]) -> None:
        self.session.add_all(rows)

    def add_market_events(self, rows: Iterable[MarketEventRow]) -> None:
        self.session.add_all(rows)

    def newest_notifications(self, instance: str, limit: int) -> list[NotificationRow]:
        return list(self.session.scalars(select(NotificationRow).where(NotificationRow.instance == instance)
                                         .order_by(NotificationRow.id.desc()).limit(limit)))

    def newest_market_events(self, instance: str, limit: int) -> list[MarketEventRow]:
        return list(self.session.scalars(select(MarketEventRow).where(MarketEventRow.instance == instance)
                                         .order_by(MarketEventRow.id.desc()).limit(limit)))
