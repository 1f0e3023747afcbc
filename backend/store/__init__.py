"""Persistence: SQLAlchemy models and the Store (engine + sessions + bulk writes)."""
from backend.store.db import LogEntry, PnlEntry, Store, TradeEntry
from backend.store.models import (
    AuditRow, Base, BrokerRow, EventRow, InstanceRow, LogRow, MarketEventRow, NotificationRow, PnlSnapshotRow,
    StateChangeRow, StrategyFileRow, StrategyVersionRow, TradeRow, WebhookRow,
)

__all__ = [
    "AuditRow", "Base", "BrokerRow", "EventRow", "InstanceRow", "LogEntry", "LogRow", "MarketEventRow",
    "NotificationRow", "PnlEntry", "PnlSnapshotRow", "StateChangeRow", "Store", "StrategyFileRow",
    "StrategyVersionRow", "TradeEntry", "TradeRow", "WebhookRow",
]
