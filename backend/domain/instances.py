"""Instances: what the operator asks for (InstanceCreate) and what the services report of them."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from backend.domain.base import Strict
from hive_core.config import (
    ID_PATTERN,
    ID_RULE,
    MAX_PAIRS,
    PAIR_PATTERN,
    PAIR_RULE,
    Balances,
    Identifier,
    TradingPair,
    TradingPairs,
)
from hive_core.market.ccxt_names import ccxt_exchanges

InstanceState = Literal["created", "starting", "running", "stopping", "stopped", "error"]


class StrategySpec(Strict):
    id: Identifier
    strategy: str = Field(description="name in the strategy library")
    params: dict[str, Any] = Field(default_factory=dict)
    interval: float = Field(1.0, gt=0)
    trading_pair: TradingPair | None = Field(
        None, description="one of the instance's trading_pairs; the first when absent")


class RestartPolicy(Strict):
    """What the supervisor does when the instance's process exits or is killed while starting or running."""

    policy: Literal["never", "on_failure"] = Field(
        "on_failure", description="on_failure: start it again after a back-off; never: leave it in error")
    max_retries: int = Field(3, ge=0, le=100, description="restarts in a row before it is left in error")
    backoff_s: float = Field(2.0, gt=0, le=3600, description="delay before the first restart; doubled for each "
                                                               "further one")
    max_backoff_s: float = Field(60.0, gt=0, le=3600, description="the longest delay between restarts")

    @model_validator(mode="after")
    def _backoff_within_cap(self) -> RestartPolicy:
        if self.max_backoff_s < self.backoff_s:
            raise ValueError(f"max_backoff_s ({self.max_backoff_s:g} s) must not be shorter than backoff_s "
                             f"({self.backoff_s:g} s)")
        return self


MIN_MEMORY_MB = 64
MIN_PIDS = 16


class ResourceLimits(Strict):
    """What a docker instance may use; None is the engine's default (no limit). The process runtime takes none."""

    cpus: float | None = Field(None, gt=0, description="CPUs (1.5 = one and a half cores)")
    memory_mb: int | None = Field(None, ge=MIN_MEMORY_MB, description="memory in MiB, swap included (no swap beyond "
                                                                     "it)")
    pids: int | None = Field(None, ge=MIN_PIDS, description="processes and threads inside the container")
    log_max_mb: int = Field(10, ge=1, le=1024, description="size of the container log before it is rotated "
                                                           "(3 files are kept)")


class InstanceRules(BaseModel):
    """The rules of a new instance's fields that a client can check as they are typed (patterns are Python regular
    expressions; each `*_rule` is its pattern in words). The backend checks them, and more, again on create."""

    id_pattern: str
    id_rule: str
    pair_pattern: str
    pair_rule: str
    max_pairs: int
    min_memory_mb: int
    min_pids: int
    ccxt_exchanges: list[str] = Field(description="the exchanges an instance can trade on through ccxt here (none "
                                                  "without the ccxt extra)")


def instance_rules() -> InstanceRules:
    return InstanceRules(id_pattern=ID_PATTERN, id_rule=ID_RULE, pair_pattern=PAIR_PATTERN, pair_rule=PAIR_RULE,
                         max_pairs=MAX_PAIRS, min_memory_mb=MIN_MEMORY_MB, min_pids=MIN_PIDS,
                         ccxt_exchanges=list(ccxt_exchanges()))

DEFAULT_HOST = "local"


class VenueChoice(Strict):
    """Where an instance trades: the simulated exchange, or a live venue (Binance spot natively, another exchange
    through ccxt) on live market data with orders simulated here (paper) or sent with a credential (live)."""

    kind: Literal["sim", "binance", "ccxt"] = Field("sim", description="sim: the built-in simulated exchange")
    exchange: str | None = Field(None, description="ccxt: the exchange's ccxt id (kraken, okx, ...); see "
                                                   "GET /rules/instance for those installed")
    network: Literal["mainnet", "testnet"] = Field("mainnet", description="a live venue: the exchange, or its test "
                                                                          "network")
    mode: Literal["paper", "live"] = Field(
        "paper", description="a live venue: paper (live market data, orders simulated in the instance) or live (real "
                             "orders, signed with the instance's credential)")

    @model_validator(mode="after")
    def _options_of_the_kind(self) -> VenueChoice:
        if self.kind == "sim" and (self.network, self.mode) != ("mainnet", "paper"):
            raise ValueError("network and mode: only for a live venue; the simulated exchange has neither")
        if self.kind == "ccxt":
            known = ccxt_exchanges()
            if not known:
                raise ValueError("kind ccxt: ccxt is not installed here (install hive's ccxt extra)")
            if self.exchange is None:
                raise ValueError("exchange: name the exchange (its ccxt id, e.g. kraken)")
            if self.exchange not in known:
                raise ValueError(f"exchange: {str(self.exchange)[:40]!r} is not an exchange ccxt knows; choose one of "
                                 "those GET /rules/instance lists (ccxt_exchanges)")
        elif self.exchange is not None:
            raise ValueError("exchange: only for kind ccxt")
        return self

    @property
    def name(self) -> str:
        """The venue's name, as credentials are stored for it: sim, binance, binance_testnet, or a ccxt exchange's
        id (with _testnet for its test network)."""
        if self.kind == "sim":
            return "sim"
        base = "binance" if self.kind == "binance" else str(self.exchange)
        return base if self.network == "mainnet" else f"{base}_testnet"

    @property
    def live(self) -> bool:
        return self.kind != "sim" and self.mode == "live"


class InstanceCreate(Strict):
    name: Identifier = Field(description="also the bot's instance_id on the wire")
    runtime: Literal["process", "docker"] = Field(
        "process", description="process: a local subprocess; docker: a container on one of the Docker hosts")
    strategies: list[StrategySpec] = Field(min_length=1)
    trading_pairs: TradingPairs = Field(default_factory=lambda: ["BTC-USDT"])
    venue: VenueChoice = Field(default_factory=VenueChoice, description="where it trades; the simulated exchange "
                                                                         "when absent")
    balances: Balances | None = Field(None, description="paper balances per strategy; runtime default when absent")
    start: bool = Field(True, description="start right after creating")
    restart_policy: RestartPolicy = Field(
        default_factory=RestartPolicy,
        description="restart after a crash: on_failure with 3 retries unless said otherwise; the count starts "
                    "again after an operator start or restart, and after 60 s running")
    credential: Identifier | None = Field(
        None, description="a stored credential's name: handed to the instance's process alone while it runs")
    host: str = Field(DEFAULT_HOST, description="docker: the Docker host (endpoint) it runs on")
    image: str | None = Field(None, description="docker: the image it runs; hive/hive-core:<version> when absent")
    limits: ResourceLimits = Field(default_factory=ResourceLimits, description="docker: CPU, memory, pids, log size")

    @model_validator(mode="after")
    def _docker_options_for_docker(self) -> InstanceCreate:
        """A process runs on this machine, from this checkout, without limits: docker's options would be ignored,
        so they are refused rather than silently dropped."""
        if self.runtime == "process":
            given = [name for name, unset in (("host", self.host == DEFAULT_HOST), ("image", self.image is None),
                                              ("limits", self.limits == ResourceLimits())) if not unset]
            if given:
                raise ValueError(f"{', '.join(given)}: only for runtime docker; the process runtime runs hive_core "
                                 "from this checkout on this machine without limits (choose runtime docker, or "
                                 "leave them out)")
        return self

    @model_validator(mode="after")
    def _live_with_a_credential(self) -> InstanceCreate:
        if self.venue.live and self.credential is None:
            raise ValueError(f"venue.mode: live trading on {self.venue.name} signs its orders with a credential: "
                             f"name one stored for {self.venue.name} (credential), or choose mode paper")
        return self

    @model_validator(mode="after")
    def _pairs_traded(self) -> InstanceCreate:
        """A strategy trades one of the instance's pairs: the venue lists only those."""
        for index, strategy in enumerate(self.strategies):
            if strategy.trading_pair is not None and strategy.trading_pair not in self.trading_pairs:
                raise ValueError(f"strategies.{index}.trading_pair: {strategy.trading_pair!r} is not one of the "
                                 f"instance's trading_pairs {self.trading_pairs}: add it there, or choose one of them")
        return self


class PnlSummary(BaseModel):
    realized: float = 0.0
    unrealized: float = 0.0
    total: float = 0.0
    volume: float = 0.0


MAX_OPEN_ORDERS = 50   # open orders kept per strategy (hive_core reports 20 and the exact count)
MAX_BALANCES = 20      # assets kept per strategy


class OpenOrder(BaseModel):
    """An order resting on the venue, as the bot's last P/performance listed it."""

    order_id: str = Field(max_length=128)
    trading_pair: str = Field(max_length=32)
    side: str = Field(max_length=8)
    order_type: str | None = Field(None, max_length=16)
    price: float | None = Field(None, description="None for a market order")
    amount: float
    filled_amount: float = 0.0
    status: str | None = Field(None, max_length=32)
    created_at: float | None = Field(None, description="epoch seconds, on the bot's clock")


class StrategyStatus(BaseModel):
    id: str
    strategy: str
    version: int | None = Field(None, description="library version it runs; None for shipped examples")
    params: dict[str, Any]
    interval: float
    status: str | None = Field(None, description="as last reported in P/performance: running / stopped / error")
    error: str | None = None
    pnl: PnlSummary = Field(default_factory=PnlSummary)
    open_orders: list[OpenOrder] = Field(default_factory=list, description=(
        f"its open orders while it runs, as last reported (at most {MAX_OPEN_ORDERS}; open_orders_count is exact)"))
    open_orders_count: int = 0
    balances: dict[str, float] = Field(default_factory=dict, description="its paper balances per asset, as last "
                                                                         "reported while it runs")


class InstanceOut(BaseModel):
    name: str
    runtime: str = Field(
        description="process, or external for a bot heard on the broker that the backend did not create")
    state: InstanceState
    reason: str = Field(description="why it is in this state, in words for the operator")
    late: bool = Field(False, description="running, but its heartbeats stopped for more than two heartbeat intervals "
                                          "(HIVE_HEARTBEAT_LATE_AFTER): not in error yet")
    state_since: float = Field(description="epoch seconds of the last state change")
    created_at: float
    pid: int | None = None
    last_heartbeat_age_s: float | None = None
    cpu_percent: float | None = None
    memory_bytes: int | None = None
    network_rx_bytes: int | None = Field(None, description="docker on a network of its own: bytes received; None "
                                                           "for process and host networking")
    network_tx_bytes: int | None = None
    host: str | None = Field(None, description="docker: the Docker host it runs on")
    image: str | None = Field(None, description="docker: the image it runs")
    image_version: str | None = Field(None, description="docker: the Hive version its running container's image "
                                                        "was built from (label org.hive.version), when it says")
    limits: ResourceLimits | None = Field(None, description="docker: its limits")
    venue: VenueChoice | None = Field(None, description="where it trades; None for an external bot")
    credential: str | None = Field(None, description="the name of the credential it signs live orders with")
    pnl: PnlSummary = Field(default_factory=PnlSummary)
    pnl_unit: str | None = Field(None, description="the unit of `pnl` and its volume: the quote asset of the trading "
                                                   "pairs (USDT for BTC-USDT), 'mixed' when its strategies trade "
                                                   "pairs of different quote assets, None when unknown (external)")
    strategies: list[StrategyStatus] = Field(description="empty in the listing's summary view (see strategy_count)")
    strategy_count: int = Field(0, description="how many strategies it hosts")
    trade_count: int = Field(0, description="fills stored of it (all runs)")
    started_at: float | None = Field(None, description="epoch seconds its current (or last) process started")
    uptime_s: float | None = Field(None, description="seconds since its process started, while it is starting, "
                                                     "running or stopping")
    restart_policy: RestartPolicy | None = Field(None, description="None for an external bot")
    restarts: int = Field(0, description="restarts by the supervisor since the last operator start or healthy run")
    next_restart_at: float | None = Field(None, description="epoch seconds of the pending restart, if one is due")


SORT_KEYS = ("name", "state", "runtime", "host", "pnl", "realized", "unrealized", "volume", "trades", "uptime",
             "heartbeat", "cpu", "memory", "strategies", "created")


class InstanceQuery(Strict):
    """Which instances a listing shows, in which order; every filter is optional (none: all of them)."""

    view: Literal["full", "summary"] = Field("full", description="summary: without the per-strategy entries")
    state: list[InstanceState] = Field(default_factory=list, description="any of these states")
    runtime: str | None = Field(None, max_length=32, description="process, docker or external")
    host: str | None = Field(None, max_length=64, description="docker: the Docker host it runs on")
    q: str | None = Field(None, max_length=200, description="text in its name or reason (case-insensitive)")
    sort: str = Field("name", pattern=rf"^-?({'|'.join(SORT_KEYS)})$",
                      description=f"one of {', '.join(SORT_KEYS)}; a leading '-' sorts descending")
    offset: int = Field(0, ge=0)
    limit: int | None = Field(None, ge=1, le=5000, description="at most this many (all when absent)")


class FleetTotals(BaseModel):
    """The fleet at a glance: counts per state and the sums of what the instances report."""

    instances: int
    by_state: dict[str, int] = Field(description="how many instances are in each state (states with none left out)")
    strategies: int
    pnl: PnlSummary
    pnl_unit: str | None = Field(None, description="the unit of pnl and volume; 'mixed' when instances differ")
    trades: int
    cpu_percent: float = Field(description="summed over the instances that report it (100 = one core)")
    memory_bytes: int
    network_rx_bytes: int
    network_tx_bytes: int
    broker_unreachable: int = Field(0, description="running instances whose process is alive but cannot be heard")
    late: int = Field(0, description="running instances whose heartbeats are late")


class GoneBot(BaseModel):
    """An external bot silent for longer than HIVE_EXTERNAL_GONE_AFTER: left out of the listing until it speaks."""

    name: str
    first_heard: float | None
    last_heard: float | None


class StateChange(BaseModel):
    ts: float
    from_state: InstanceState | None
    to_state: InstanceState
    reason: str


class LogLine(BaseModel):
    timestamp: float
    level_name: str
    logger_name: str
    msg: str
    strategy: str | None = Field(None, description="strategy id when the logger belongs to one")


class ErrorLine(LogLine):
    """An ERROR (or worse) log line of some instance (GET /errors); `msg` carries the stack trace when there is
    one."""

    instance: str


class PnlPoint(BaseModel):
    ts: float
    strategy: str
    realized: float
    unrealized: float
    total: float
    volume: float


class ResourcePoint(BaseModel):
    """One sample of an instance's resource use (about every 5 s; thinned to one a minute after an hour)."""

    ts: float
    cpu_percent: float | None
    memory_bytes: int | None
    network_rx_bytes: int | None = None
    network_tx_bytes: int | None = None


class Trade(BaseModel):
    ts: float
    strategy: str | None
    order_id: str
    trading_pair: str
    side: Literal["BUY", "SELL"]
    price: float
    amount: float
    fee: float
    trade_id: str | None = Field(None, description="the venue's trade id (none for trades stored before it was kept)")
    run: int | None = Field(None, description="which start of the instance it belongs to (1 for the first): a "
                                              "bot numbers its orders afresh on each start, so (run, order_id) is "
                                              "unique where order_id alone is not; None for an external bot")


class TradeCount(BaseModel):
    count: int


class FleetOrder(OpenOrder):
    """An open order of some strategy of some instance (GET /orders/open)."""

    instance: str
    strategy: str


class Notification(BaseModel):
    ts: float
    seq: int | None
    msg: str


class MarketEvent(BaseModel):
    ts: float
    type: str
    data: Any = None


class StrategyParamsChange(Strict):
    """New values for some of one strategy's params; the bot validates them against the strategy's schema."""

    params: dict[str, Any] = Field(min_length=1, max_length=100, description="param name -> new value")


class StrategyReload(Strict):
    version: int | None = Field(None, ge=1, description="the library version to run (an uploaded strategy); the "
                                                        "latest when absent; none for a shipped example")


class StrategyActionOut(BaseModel):
    """What one per-strategy action did, as the bot answered it."""

    instance: str
    strategy: str = Field(description="the strategy id")
    strategy_status: str | None = Field(None, description="as the bot answered: stopping, stopped, running, error")
    detail: str = Field(description="what was done, in the audit log's words")
    version: int | None = Field(None, description="the library version the strategy runs now (uploaded strategies)")
    params: dict[str, Any] | None = Field(None, description="its params as stored now (a params change)")
