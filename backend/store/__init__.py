"""Persistence: SQLAlchemy models and the Store (engine + sessions + bulk writes)."""
from backend.store.db import Heard, LogEntry, MarketEventEntry, NotificationEntry, PnlEntry, Store, TradeEntry
from backend.store.models import (
    AlertRow,
    AuditRow,
    Base,
    BotRunRow,
    BrokerLoginRow,
    BrokerRow,
    CredentialRow,
    DockerHostRow,
    EventRow,
    InstanceRow,
    JournalCursorRow,
    LoginSessionRow,
    LogRow,
    MarketEventRow,
    NotificationRow,
    PnlSnapshotRow,
    ResourceSampleRow,
    ScriptConfigRow,
    StateChangeRow,
    StrategyFileRow,
    StrategyVersionRow,
    TradeRow,
    WebhookReceiptRow,
    WebhookRow,
)

__all__ = [
    "AlertRow", "AuditRow", "Base", "BotRunRow", "BrokerLoginRow", "BrokerRow", "CredentialRow", "DockerHostRow",
    "EventRow", "Heard", "InstanceRow", "JournalCursorRow", "LogEntry", "LogRow", "LoginSessionRow", "MarketEventEntry",
    "MarketEventRow", "NotificationEntry", "NotificationRow", "PnlEntry", "PnlSnapshotRow", "ResourceSampleRow",
    "ScriptConfigRow", "StateChangeRow", "Store", "StrategyFileRow", "StrategyVersionRow", "TradeEntry", "TradeRow",
    "WebhookReceiptRow", "WebhookRow",
]
