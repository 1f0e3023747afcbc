"""The instance config file: the one contract, besides the wire protocol, between backend and hive_core.

One YAML file describes one instance: which strategies it hosts (several copies of one strategy may
run side by side under different ids), the venue they trade on, and how the instance reaches the
MQTT broker. Every model is frozen and rejects unknown fields, so a typo fails at start-up with the
field's name instead of being silently ignored.
"""
from __future__ import annotations

import json
import re
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from hive_core.validation import describe_validation_error

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
ID_RULE = "1-63 letters, digits, '_' or '-', starting with a letter or digit"  # ID_PATTERN in words
_ID_RE = re.compile(ID_PATTERN)


def check_id(value: str) -> str:
    """Ids become MQTT topic levels and folder names, so they are kept to a safe alphabet."""
    if not _ID_RE.match(value):
        raise ValueError(f"{value!r} is not a valid id: use {ID_RULE}")
    return value


Identifier = Annotated[str, AfterValidator(check_id)]

PAIR_PATTERN = r"^[A-Z0-9]{1,15}-[A-Z0-9]{1,15}$"
PAIR_RULE = "BASE-QUOTE in capital letters or digits, 1-15 each, like BTC-USDT"  # PAIR_PATTERN in words
_PAIR_RE = re.compile(PAIR_PATTERN)
_ASSET_RE = re.compile(r"^[A-Z0-9]{1,15}$")
MAX_PAIRS = 50  # trading pairs of one instance (and assets of its paper account)


def check_pair(value: str) -> str:
    """Pairs name topics, book keys and CSV columns: BASE-QUOTE in the venue's capitals."""
    if not _PAIR_RE.match(value):
        raise ValueError(f"{value[:40]!r} is not a trading pair: write {PAIR_RULE}")
    return value


def check_asset(value: str) -> str:
    if not _ASSET_RE.match(value):
        raise ValueError(f"{value[:40]!r} is not an asset: 1-15 capital letters or digits, like USDT")
    return value


def check_unique(pairs: list[str]) -> list[str]:
    twice = sorted({pair for pair in pairs if pairs.count(pair) > 1})
    if twice:
        raise ValueError(f"{', '.join(twice)} listed more than once: list each pair once")
    return pairs


TradingPair = Annotated[str, AfterValidator(check_pair)]
TradingPairs = Annotated[list[TradingPair], Field(min_length=1, max_length=MAX_PAIRS), AfterValidator(check_unique)]
Asset = Annotated[str, AfterValidator(check_asset)]
Balances = Annotated[dict[Asset, Annotated[float, Field(ge=0, allow_inf_nan=False)]], Field(max_length=MAX_PAIRS)]


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttBridgeConfig(Frozen):
    """Hummingbot's `mqtt_bridge` section (docs/protocol.md), same names and defaults."""

    mqtt_host: str = "localhost"
    mqtt_port: int = Field(1883, ge=1, le=65535)
    mqtt_username: str = ""
    mqtt_password: str = ""
    mqtt_namespace: str = "hbot"
    mqtt_ssl: bool = False
    mqtt_logger: bool = True
    mqtt_notifier: bool = True
    mqtt_commands: bool = True
    mqtt_events: bool = True
    mqtt_external_events: bool = True
    mqtt_autostart: bool = True
    # Hive extensions (Hummingbot's bots use fixed values for these).
    mqtt_heartbeat_interval: float = Field(10.0, gt=0, description="seconds between P/hb messages")
    mqtt_performance_interval: float = Field(1.0, gt=0, description="seconds between P/performance messages")
    mqtt_auth_file: Path | None = Field(
        None, description="JSON file with mqtt_username and mqtt_password, relative to the config's folder unless "
                          "absolute; read at start, so that the config itself never holds the broker's password")

    @field_validator("mqtt_namespace")
    @classmethod
    def _strip_namespace(cls, value: str) -> str:
        """A trailing '/' or '.' in the configured namespace is dropped (docs/protocol.md)."""
        return value.rstrip("/.") or "hbot"


class RateLimitRule(Frozen):
    """One published venue limit, as exchanges list them: at most `limit` per `interval_s` seconds."""

    limit_type: Literal["REQUEST_WEIGHT", "ORDERS"]
    interval_s: float = Field(gt=0)
    limit: int = Field(gt=0)


def _default_rate_limits() -> list[RateLimitRule]:
    """Binance spot's published limits (exchangeInfo.rateLimits)."""
    return [
        RateLimitRule(limit_type="REQUEST_WEIGHT", interval_s=60, limit=6000),
        RateLimitRule(limit_type="ORDERS", interval_s=10, limit=100),
        RateLimitRule(limit_type="ORDERS", interval_s=86_400, limit=200_000),
    ]


FeedAddress = Annotated[str | None, Field(
    None, pattern=r"^(unix:/.+|ws://(127\.0\.0\.1|localhost|\[::1\]):\d+)$",
    description="the host's market-data service (unix:<socket path> or ws://127.0.0.1:<port>): market data through "
                "it, shared with the host's other instances; from the venue itself while it is away")]


class SimVenueConfig(Frozen):
    """The simulated exchange: built in (started inside the instance) unless `url` names a running one."""

    kind: Literal["sim"] = "sim"
    url: str | None = Field(None, description="ws://host:port of a running venue; None starts the built-in one")
    feed: FeedAddress = None
    rate_limits: list[RateLimitRule] = Field(default_factory=_default_rate_limits, min_length=1)
    trading_pairs: TradingPairs = Field(default_factory=lambda: ["BTC-USDT"])
    initial_prices: dict[str, float] = Field(default_factory=dict, description="mid price per pair; 100.0 when absent")
    volatility: float = Field(0.0005, ge=0, description="per-step relative std-dev of the mid price random walk")
    step_interval: float = Field(0.25, gt=0, description="seconds between simulated market steps")
    fee_rate: float = Field(0.001, ge=0, lt=0.1)
    lot_step: float = Field(1e-8, ge=1e-8, description="LOT_SIZE: quantities are multiples of it (and at least it)")
    min_notional: float = Field(0.0, ge=0, description="NOTIONAL: the least price x quantity of a limit order; 0: none")
    seed: int | None = None
    # Shape of the synthetic book and tape (hive_core additions; the defaults suit the demos).
    book_levels: int = Field(10, ge=1, le=100, description="price levels per side")
    book_spread_bps: float = Field(4.0, gt=0, description="best ask minus best bid, in basis points of mid")
    book_depth_quote: float = Field(20_000.0, gt=0, description="average size of one book level, in quote")
    trades_per_step: float = Field(1.0, ge=0, description="average number of public trades per step")


# Binance spot's public addresses (its spot API documentation, "General API Information"): the market streams and
# the WebSocket API live on different hosts, on the exchange and on its spot testnet alike.
BINANCE_ENDPOINTS: dict[str, tuple[str, str]] = {   # network -> (stream base, WS API base)
    "mainnet": ("wss://stream.binance.com:9443", "wss://ws-api.binance.com:443"),
    "testnet": ("wss://stream.testnet.binance.vision", "wss://ws-api.testnet.binance.vision"),
}


class LiveVenueConfig(Frozen):
    """What every venue outside the process has: its pairs, its limits, fees, and whether orders go out (`live`,
    with the instance's credentials) or are matched here against its live book (`paper`, docs/paper-trading.md)."""

    mode: Literal["paper", "live"] = Field(
        "paper", description="paper: live market data, orders simulated locally; live: real orders with the "
                             "instance's credentials")
    trading_pairs: TradingPairs = Field(default_factory=lambda: ["BTC-USDT"])
    rate_limits: list[RateLimitRule] = Field(
        default_factory=_default_rate_limits, min_length=1,
        description="until the venue publishes its own (on connect), and whatever window it does not publish")
    fee_rate: float = Field(0.001, ge=0, lt=0.1, description="taker fee rate: estimates, and paper taker fills")
    maker_fee_rate: float = Field(0.001, ge=0, lt=0.1, description="paper: the fee rate of resting fills")
    step_interval: float = Field(0.1, gt=0, description="seconds between hand-overs of the received books")


class BinanceVenueConfig(LiveVenueConfig):
    """Binance spot, natively: market streams through the multiplexer, orders and the account's events over its
    WebSocket API (hive_core/market/venue_client.py)."""

    kind: Literal["binance"] = "binance"
    network: Literal["mainnet", "testnet"] = Field("mainnet", description="testnet: Binance's spot test network")
    stream_url: str | None = Field(None, description="the market streams' base address; Binance's own when absent")
    feed: FeedAddress = None
    api_url: str | None = Field(None, description="the WebSocket API's base address; Binance's own when absent")

    @property
    def venue_name(self) -> str:
        """The name a credential for this venue is stored under."""
        return "binance" if self.network == "mainnet" else "binance_testnet"

    @property
    def endpoints(self) -> tuple[str, str]:
        """(stream base, WS API base): the configured ones, else Binance's for the network."""
        stream, api = BINANCE_ENDPOINTS[self.network]
        return self.stream_url or stream, self.api_url or api


class CcxtVenueConfig(LiveVenueConfig):
    """Another exchange, through ccxt (install the `ccxt` extra): one ccxt exchange object for all the instance's
    strategies (hive_core/market/ccxt_venue.py); its WebSocket watchers where ccxt has them, else polling."""

    kind: Literal["ccxt"] = "ccxt"
    exchange: str = Field(pattern=r"^[a-z][a-z0-9]{1,39}$", description="ccxt's id of the exchange: kraken, okx, ...")
    sandbox: bool = Field(False, description="the exchange's test network, where ccxt knows one")
    urls: dict[str, Any] = Field(default_factory=dict, description="merged into ccxt's `urls`: other addresses")
    options: dict[str, Any] = Field(default_factory=dict, description="merged into ccxt's `options`")
    poll_interval: float = Field(1.0, gt=0, description="seconds between polls where ccxt has no watcher")

    @property
    def venue_name(self) -> str:
        """The name a credential for this venue is stored under: the exchange's id (with _testnet for its sandbox)."""
        return f"{self.exchange}_testnet" if self.sandbox else self.exchange


class PaperAccountConfig(Frozen):
    """Starting balances of the paper account that every strategy of the instance gets its own copy of."""

    balances: Balances = Field(default_factory=lambda: {"USDT": 10_000.0, "BTC": 1.0})


class StrategyQuota(Frozen):
    """A strategy's share of the venue's order path."""

    orders_per_second: float = Field(5.0, gt=0)
    weight_per_minute: float = Field(1200.0, gt=0, description="request weight per minute")
    weight: float = Field(1.0, gt=0, description="share in weighted fair queuing between strategies")


class SchedulerConfig(Frozen):
    policy: Literal["round_robin", "priority"] = "round_robin"
    tick_budget_ms: float = Field(50.0, gt=0, description="time one on_tick may take before it counts as an overrun")
    max_consecutive_failures: int = Field(5, ge=1, description="exceptions in a row before quarantine")
    max_consecutive_overruns: int = Field(10, ge=1, description="budget overruns in a row before quarantine")


class StrategyEntry(Frozen):
    id: Identifier = Field(description="unique within the instance; reported as the controller id")
    strategy: str = Field(description="strategy name: a shipped example or a file in strategy_dirs")
    params: dict[str, Any] = Field(default_factory=dict)
    interval: float = Field(1.0, gt=0, description="seconds between on_tick calls")
    trading_pair: TradingPair | None = Field(None, description="defaults to the venue's first pair")
    priority: int = Field(0, description="higher runs first under the priority policy and in the order queue")
    quota: StrategyQuota = Field(default_factory=StrategyQuota)  # type: ignore[arg-type]  # (see InstanceConfig)


class CredentialsFileConfig(Frozen):
    """Where the venue credentials handed to this instance are (hive_core/credentials.py reads them)."""

    file: Path = Field(description="JSON file; relative to the config's folder unless absolute")


class JournalConfig(Frozen):
    """The instance's journal of what it publishes (hive_core/remote/journal.py), in its folder."""

    enabled: bool = True
    dir: Path = Field(Path("journal"), description="relative to the config's folder unless absolute")
    segment_bytes: int = Field(4 * 1024 * 1024, ge=4096, description="a segment file is closed at this size")
    max_bytes: int = Field(64 * 1024 * 1024, ge=4096,
                           description="all segments together; the oldest are deleted beyond it")
    pnl_interval: float = Field(5.0, gt=0, description="seconds between journaled PnL points (P/pnl)")

    @model_validator(mode="after")
    def _room_for_a_segment(self) -> JournalConfig:
        if self.max_bytes < self.segment_bytes:
            raise ValueError(f"max_bytes ({self.max_bytes}) must be at least segment_bytes ({self.segment_bytes})")
        return self


def _venue_kind(value: Any) -> str:
    """A venue without a `kind` is the simulated one (configs written before there were others). The tags read
    `kind=<kind>`, which error messages leave out of a field's path (hive_core/validation.py)."""
    kind = value.get("kind", "sim") if isinstance(value, dict) else getattr(value, "kind", "sim")
    return f"kind={kind}"


VenueConfig = Annotated[
    Annotated[SimVenueConfig, Tag("kind=sim")] | Annotated[BinanceVenueConfig, Tag("kind=binance")]
    | Annotated[CcxtVenueConfig, Tag("kind=ccxt")],
    Discriminator(_venue_kind, custom_error_type="venue_kind",
                  custom_error_message="kind must name a venue kind: sim, binance or ccxt")]


# `default_factory=<model>` below: mypy (without the pydantic plugin) takes defaulted fields for required ones.
class InstanceConfig(Frozen):
    instance_id: Identifier
    strategies: list[StrategyEntry] = Field(min_length=1)
    venue: VenueConfig = Field(default_factory=SimVenueConfig)  # type: ignore[arg-type]
    paper: PaperAccountConfig = Field(default_factory=PaperAccountConfig)
    mqtt_bridge: MqttBridgeConfig = Field(default_factory=MqttBridgeConfig)  # type: ignore[arg-type]
    strategy_dirs: list[Path] = Field(default_factory=list, description="searched before the shipped examples")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)  # type: ignore[arg-type]
    metrics_port: int | None = Field(None, ge=0, le=65535, description="serve Prometheus text on 127.0.0.1:<port>")
    credentials: CredentialsFileConfig | None = Field(None, description="venue credentials, read at start")
    journal: JournalConfig = Field(default_factory=JournalConfig)

    @model_validator(mode="after")
    def _unique_ids_and_known_pairs(self) -> InstanceConfig:
        seen: set[str] = set()
        for index, entry in enumerate(self.strategies):
            self.check_entry(index, entry, seen)
            seen.add(entry.id)
        if isinstance(self.venue, LiveVenueConfig) and self.venue.mode == "live" and self.credentials is None:
            raise ValueError(f"venue.mode: live trading on {self.venue.venue_name} needs the venue's credentials "
                             "(credentials.file); without them, choose mode paper")
        return self

    def check_entry(self, index: int, entry: StrategyEntry, taken: Collection[str]) -> None:
        """ValueError unless `entry`, as strategies[`index`], fits this instance: an id not in `taken`, a pair the
        venue trades, a quota the venue's limits allow."""
        if entry.id in taken:
            raise ValueError(f"strategies.{index}.id: duplicate strategy id {entry.id!r}")
        if entry.trading_pair is not None and entry.trading_pair not in self.venue.trading_pairs:
            raise ValueError(
                f"strategies.{index}.trading_pair: {entry.trading_pair!r} is not traded on the venue "
                f"(venue.trading_pairs: {self.venue.trading_pairs})"
            )
        self._check_quota_can_be_met(index, entry.quota)

    def _check_quota_can_be_met(self, index: int, quota: StrategyQuota) -> None:
        """A quota above what the venue allows everyone together, in its shortest window, can never be met.

        (Long windows such as a daily order cap bound the total, not the rate, so they are not compared.)
        """
        shortest: dict[str, RateLimitRule] = {}
        for rule in self.venue.rate_limits:
            if rule.limit_type not in shortest or rule.interval_s < shortest[rule.limit_type].interval_s:
                shortest[rule.limit_type] = rule
        for rule in shortest.values():
            if rule.limit_type == "ORDERS" and quota.orders_per_second * rule.interval_s > rule.limit:
                raise ValueError(
                    f"strategies.{index}.quota.orders_per_second: {quota.orders_per_second:g}/s cannot be met; "
                    f"the venue allows {rule.limit} orders per {rule.interval_s:g} s in all"
                )
            if rule.limit_type == "REQUEST_WEIGHT" and quota.weight_per_minute * rule.interval_s / 60 > rule.limit:
                raise ValueError(
                    f"strategies.{index}.quota.weight_per_minute: {quota.weight_per_minute:g} cannot be met; "
                    f"the venue allows a weight of {rule.limit} per {rule.interval_s:g} s in all"
                )

    def pair_of(self, entry: StrategyEntry) -> str:
        return entry.trading_pair or self.venue.trading_pairs[0]


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the field."""


def read_yaml(path: Path) -> Any:
    """The parsed content of a YAML file; ConfigError naming the file when it cannot be read or parsed."""
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None


def parse_instance_config(data: Any) -> InstanceConfig:
    try:
        return InstanceConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from None


def load_instance_config(path: Path) -> InstanceConfig:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    defaults = client_mqtt_defaults(path.parent / CLIENT_CONFIG_NAME)
    if defaults:
        own = data.get("mqtt_bridge")
        data = {**data, "mqtt_bridge": {**defaults, **(own if isinstance(own, dict) else {})}}
    try:
        config = parse_instance_config(data)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    auth_file = config.mqtt_bridge.mqtt_auth_file
    if auth_file is None:
        return config
    login = read_mqtt_auth(path.resolve().parent / auth_file)
    return config.model_copy(update={"mqtt_bridge": config.mqtt_bridge.model_copy(update=login)})


def read_mqtt_auth(path: Path) -> dict[str, str]:
    """The broker login in an mqtt_auth_file; ConfigError naming the file (never its content) when unusable."""
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the MQTT login file ({error.strerror})") from None
    except ValueError:
        raise ConfigError(f"{path}: the MQTT login file is not valid JSON") from None
    fields = ("mqtt_username", "mqtt_password")
    if not isinstance(data, dict) or not all(isinstance(data.get(key), str) for key in fields) \
            or not data["mqtt_username"]:
        raise ConfigError(f"{path}: the MQTT login file needs a non-empty mqtt_username and an mqtt_password (strings)")
    return {key: data[key] for key in fields}


CLIENT_CONFIG_NAME = "conf_client.yml"


def client_mqtt_defaults(path: Path) -> dict[str, Any]:
    """The `mqtt_bridge` section of Hummingbot's conf_client.yml, when that file exists: the broker
    settings shared with Hummingbot bots. Only the keys MqttBridgeConfig knows are taken (the file is
    Hummingbot's and may hold more); null values are skipped. The instance config's own `mqtt_bridge`
    overrides them key by key. A file that cannot be read or parsed is a ConfigError."""
    if not path.is_file():
        return {}
    data = read_yaml(path)
    section = data.get("mqtt_bridge") if isinstance(data, dict) else None
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: mqtt_bridge: expected a mapping")
    known = MqttBridgeConfig.model_fields
    return {key: value for key, value in section.items() if key in known and value is not None}


def dump_instance_config(config: InstanceConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
