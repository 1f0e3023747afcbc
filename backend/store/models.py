"""What the backend remembers across restarts. Times are epoch seconds (floats) throughout."""
from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


EXTERNAL_BOT = "the name of the bot not created here that reported it (instance_id is null then)"


class InstanceRow(Base):
    __tablename__ = "instances"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    runtime: Mapped[str] = mapped_column(String(32))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, doc="the InstanceCreate body, plus the library versions in use")
    config_path: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    state_since: Mapped[float] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True, doc="the bot's own process")
    handle: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True,
                                                          doc="runtime handle: how to find it again")
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    stop_requested_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    restarts: Mapped[int] = mapped_column(Integer, default=0, server_default="0",
                                          doc="restarts by the supervisor in a row (see orchestrator/restarts.py)")
    next_restart_at: Mapped[float | None] = mapped_column(Float, nullable=True, doc="when the pending restart is due")


class StateChangeRow(Base):
    __tablename__ = "state_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), index=True)
    ts: Mapped[float] = mapped_column(Float)
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)


class StrategyFileRow(Base):
    __tablename__ = "strategy_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    created_at: Mapped[float] = mapped_column(Float)


class StrategyVersionRow(Base):
    __tablename__ = "strategy_versions"
    __table_args__ = (UniqueConstraint("file_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("strategy_files.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    description: Mapped[str] = mapped_column(Text, default="")
    params_schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(255), default="unknown", server_default="unknown",
                                            doc="the login that saved it")
    note: Mapped[str] = mapped_column(Text, default="", server_default="",
                                      doc="how it came to be when not by an edit (restored from v3...)")


class PnlSnapshotRow(Base):
    """A PnL point of one strategy: of an instance created here (`instance_id`), or of an external bot (`bot`)."""

    __tablename__ = "pnl_snapshots"
    __table_args__ = (Index("ix_pnl_instance_ts", "instance_id", "ts"), Index("ix_pnl_bot_ts", "bot", "ts"))

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), nullable=True)
    bot: Mapped[str | None] = mapped_column(String(63), nullable=True, doc=EXTERNAL_BOT)
    strategy: Mapped[str] = mapped_column(String(63))
    ts: Mapped[float] = mapped_column(Float)
    realized: Mapped[float] = mapped_column(Float)
    unrealized: Mapped[float] = mapped_column(Float)
    total: Mapped[float] = mapped_column(Float)
    volume: Mapped[float] = mapped_column(Float)


class ResourceSampleRow(Base):
    """An instance's resource use at one time (InstanceService samples live instances about every 5 s)."""

    __tablename__ = "resource_samples"
    __table_args__ = (Index("ix_resource_samples_instance_ts", "instance_id", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    ts: Mapped[float] = mapped_column(Float)
    cpu_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    memory_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    network_rx_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    network_tx_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class TradeRow(Base):
    """A fill: of an instance created here (`instance_id`), or of an external bot (`bot`)."""

    __tablename__ = "trades"
    __table_args__ = (Index("ix_trades_instance_ts", "instance_id", "ts"), Index("ix_trades_bot_ts", "bot", "ts"))

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), nullable=True)
    bot: Mapped[str | None] = mapped_column(String(63), nullable=True, doc=EXTERNAL_BOT)
    ts: Mapped[float] = mapped_column(Float)
    strategy: Mapped[str | None] = mapped_column(String(63), nullable=True)
    order_id: Mapped[str] = mapped_column(String(128))
    trading_pair: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    price: Mapped[float] = mapped_column(Float)
    amount: Mapped[float] = mapped_column(Float)
    fee: Mapped[float] = mapped_column(Float)
    trade_id: Mapped[str | None] = mapped_column(String(128), nullable=True, doc="the venue's trade id")


class LogRow(Base):
    """A log line: of an instance created here (`instance_id`), or of an external bot (`bot`)."""

    __tablename__ = "log_lines"
    __table_args__ = (Index("ix_logs_instance_id", "instance_id", "id"), Index("ix_logs_bot_id", "bot", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"), nullable=True)
    bot: Mapped[str | None] = mapped_column(String(63), nullable=True, doc=EXTERNAL_BOT)
    ts: Mapped[float] = mapped_column(Float)
    level_no: Mapped[int] = mapped_column(Integer)
    level_name: Mapped[str] = mapped_column(String(16))
    logger_name: Mapped[str] = mapped_column(String(255))
    msg: Mapped[str] = mapped_column(Text)
    strategy: Mapped[str | None] = mapped_column(String(63), nullable=True, index=True)


class BrokerRow(Base):
    """The one broker the backend uses (a single row, id 1)."""

    __tablename__ = "broker"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    desired: Mapped[str] = mapped_column(String(16), doc="'running' after start, 'stopped' after stop")
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    create_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    container_id: Mapped[str | None] = mapped_column(String(64), nullable=True, doc="the broker container's id")
    image: Mapped[str | None] = mapped_column(String(255), nullable=True, doc="the broker container's image")
    external_login: Mapped[str | None] = mapped_column(
        Text, nullable=True, doc="the external broker's username and password when it needs one, Fernet-encrypted")


class BrokerLoginRow(Base):
    """A login of the broker Hive runs (and of the files it writes for an external one): the backend's, one per
    instance, and the ones the operator made for bots and controllers. The password is kept sealed with the
    credentials key (for the instance's file) and hashed (for the broker's password file)."""

    __tablename__ = "broker_logins"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(127), unique=True)
    role: Mapped[str] = mapped_column(String(16), doc="backend, controller, instance or bot (backend/broker/access.py)")
    scope: Mapped[str | None] = mapped_column(String(63), nullable=True,
                                              doc="the bot id an instance or bot login is confined to")
    password_hash: Mapped[str] = mapped_column(Text, doc="Mosquitto's `$7$` PBKDF2-SHA512 hash")
    sealed_password: Mapped[str] = mapped_column(Text, doc="the password, Fernet-encrypted")
    created_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(255), default="", doc="the operator, or `hive` for its own")


class LoginSessionRow(Base):
    """A dashboard or API session opened with the login (POST /auth/session). Only a keyed hash of its token is
    kept (backend/auth_sessions.py), so neither the store nor its backups can be used to log in."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, doc="HMAC-SHA256 of the token, hex")
    username: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(64), default="", doc="the client address it was opened from")
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True, doc="when it was logged out")


class NotificationRow(Base):
    """A bot's P/notify message; kept by instance name, so that bots the backend did not create have theirs too."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_instance_id", "instance", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance: Mapped[str] = mapped_column(String(63))
    ts: Mapped[float] = mapped_column(Float, doc="receive time")
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    msg: Mapped[str] = mapped_column(Text)


class JournalCursorRow(Base):
    """How far the store has a bot's journal (hive_core/remote/journal.py): every record of `run` up to `seq` is
    stored, written in the same transaction as those records, so that none is stored twice. Kept by bot name."""

    __tablename__ = "journal_cursors"
    __table_args__ = (UniqueConstraint("instance", "run"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance: Mapped[str] = mapped_column(String(63))
    run: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[float] = mapped_column(Float)


class MarketEventRow(Base):
    """A bot's P/events message (an internal market event: order created, filled, cancelled...)."""

    __tablename__ = "market_events"
    __table_args__ = (Index("ix_market_events_instance_id", "instance", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance: Mapped[str] = mapped_column(String(63))
    ts: Mapped[float] = mapped_column(Float, doc="receive time")
    type: Mapped[str] = mapped_column(String(63))
    data: Mapped[Any] = mapped_column(JSON, nullable=True)


class EventRow(Base):
    """An external event published to bots (POST /events or a webhook), with its delivery per target."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True, doc="also the event's `sequence` on the wire")
    ts: Mapped[float] = mapped_column(Float)
    name: Mapped[str] = mapped_column(String(255))
    data: Mapped[Any] = mapped_column(JSON)
    sender: Mapped[str] = mapped_column(String(255), doc="the user, or webhook:<id>")
    targets: Mapped[list[str]] = mapped_column(JSON)
    deliveries: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, doc="target -> 'published' / 'failed: ...'")


class WebhookRow(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    hook: Mapped[str] = mapped_column(String(63), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(128), doc="sha256 of the secret; the secret is shown once")
    event: Mapped[str] = mapped_column(String(255))
    targets: Mapped[Any] = mapped_column(JSON, doc="list of instance names, or 'all'")
    allow_ips: Mapped[list[str]] = mapped_column(JSON, default=list, doc="empty: any sender")
    max_lag: Mapped[float] = mapped_column(Float, default=60.0)
    rate_per_min: Mapped[int] = mapped_column(Integer, default=60)
    created_at: Mapped[float] = mapped_column(Float)


class WebhookReceiptRow(Base):
    """An accepted webhook call, kept for the replay window and the rate limit (so both survive a restart)."""

    __tablename__ = "webhook_receipts"
    __table_args__ = (Index("ix_webhook_receipts_hook_ts", "hook", "ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hook: Mapped[str] = mapped_column(String(63))
    digest: Mapped[str] = mapped_column(String(255), doc="the alert's nonce, or the sha256 of its body")
    ts: Mapped[float] = mapped_column(Float)


class AuditRow(Base):
    """One audited action. A command to a bot names its `instance` and `origin` (`api`: sent by this backend for an
    operator, `msg_id` its request; `mqtt`: reported by the bot, sent by someone else); `report_key` is the bot's
    report (`<instance>:<run>:<seq>`) that this row stands for, so that a report is audited once; `strategy` the
    strategy id a command addressed (a strategy's history is its rows)."""

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_instance_id", "instance", "id"), Index("ix_audit_msg_id", "msg_id"),
                      Index("ux_audit_report_key", "report_key", unique=True),
                      Index("ix_audit_instance_strategy_id", "instance", "strategy", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(63))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    instance: Mapped[str | None] = mapped_column(String(255), nullable=True)
    origin: Mapped[str | None] = mapped_column(String(16), nullable=True)
    msg_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    report_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    strategy: Mapped[str | None] = mapped_column(String(63), nullable=True)


class ScriptConfigRow(Base):
    """A Hummingbot-style script config (`/scripts/configs/{name}`): `script_file_name` plus the script's params."""

    __tablename__ = "script_configs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(127), unique=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[float] = mapped_column(Float)


class BotRunRow(Base):
    """One deployment of an instance, kept after the instance is deleted (Hummingbot's bot runs)."""

    __tablename__ = "bot_runs"
    __table_args__ = (Index("ix_bot_runs_instance", "instance_name", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_name: Mapped[str] = mapped_column(String(63))
    deployed_at: Mapped[float] = mapped_column(Float)
    stopped_at: Mapped[float | None] = mapped_column(Float, nullable=True, doc="set when the instance is deleted")
    strategy_type: Mapped[str] = mapped_column(String(16), doc="script (one strategy) or controller (several)")
    strategy_name: Mapped[str] = mapped_column(String(255))
    config_name: Mapped[str | None] = mapped_column(String(127), nullable=True)
    account_name: Mapped[str] = mapped_column(String(63))
    image_version: Mapped[str] = mapped_column(String(255))
    deployment_status: Mapped[str] = mapped_column(String(16), doc="DEPLOYED, FAILED or ARCHIVED")
    run_status: Mapped[str | None] = mapped_column(String(16), nullable=True,
                                                   doc="final status once the instance is gone; derived until then")
    deployment_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    final_status: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    archive_path: Mapped[str | None] = mapped_column(Text, nullable=True, doc="where its files were archived")


class CredentialRow(Base):
    """A venue credential: its secret parts only as ciphertext (backend/credentials/vault.py), never in clear."""

    __tablename__ = "credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    venue: Mapped[str] = mapped_column(String(63))
    ciphertext: Mapped[str] = mapped_column(Text, doc="API key, secret and passphrase, encrypted together")
    api_key_last4: Mapped[str] = mapped_column(String(4), doc="what the operator is shown to recognise the key")
    has_passphrase: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class DockerHostRow(Base):
    """A Docker endpoint the operator added (`local` is not stored: it comes from the settings). Its TLS material
    only as ciphertext, sealed with the credentials key (backend/credentials/vault.py)."""

    __tablename__ = "docker_hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    url: Mapped[str] = mapped_column(Text, doc="unix://, tcp:// or ssh://")
    tls_ciphertext: Mapped[str | None] = mapped_column(Text, nullable=True,
                                                       doc="CA, client certificate and client key, encrypted together")
    broker_host: Mapped[str | None] = mapped_column(String(255), nullable=True,
                                                    doc="the broker's address as that host's instances reach it")
    created_at: Mapped[float] = mapped_column(Float)


class AlertRow(Base):
    """Something an operator must notice about an instance (it crashed, was restarted by the supervisor, used up
    its restarts), kept until acknowledged; `instance` by name, so an alert outlives a deleted instance."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_open", "acknowledged_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ts: Mapped[float] = mapped_column(Float)
    instance: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    acknowledged_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
