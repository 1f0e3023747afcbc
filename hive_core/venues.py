"""The venue an instance trades on in realtime, built from its config's `venue` section.

Every kind is ONE connection set for all the instance's strategies; what differs is how it is reached and where
the orders go:

- `sim`: the simulated exchange, embedded (a SimServer around the instance's own engine on a free loopback port)
  or running at `venue.url`, through a `VenueClient` (one stream connection, one WS API connection); orders go
  over the WS API connection, unsigned.
- `binance`: Binance spot (or its testnet) through a `VenueClient` on Binance's stream and WS API hosts; live
  orders are signed with the instance's credentials (market/signing.py) and the account's events come on the user
  data stream.
- `ccxt`: another exchange through ONE ccxt exchange object (market/ccxt_venue.py, the `ccxt` extra, imported
  only here); live orders go through ccxt with the instance's credentials.

In mode `paper` (binance, ccxt) orders never leave the process: a `PaperVenue` in front of the market data
matches them against the live book (docs/paper-trading.md). No credentials are needed or read.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from hive_core.config import (
    BinanceVenueConfig,
    CcxtVenueConfig,
    ConfigError,
    LiveVenueConfig,
    RateLimitRule,
    SimVenueConfig,
    VenueConfig,
)
from hive_core.credentials import VenueCredentials
from hive_core.market.signing import RequestSigner, signer_for
from hive_core.market.types import Order
from hive_core.market.venue import MarketListener, Venue
from hive_core.market.venue_client import VenueClient
from hive_core.orders.transport import OrderTransport, VenueApiTransport
from hive_core.sim.exchange import SimExchange
from hive_core.sim.server import SimServer

if TYPE_CHECKING:
    from hive_core.market.ccxt_venue import CcxtVenue
    from hive_core.paper.venue import PaperVenue

logger = logging.getLogger("hive.venue")


class RealtimeVenue:
    """Where market data comes from (`market`: a VenueClient, or a CcxtVenue), where orders go (`transport`), and
    the `venue` strategies and order handles read (the market source, or the paper venue in front of it)."""

    def __init__(self, config: VenueConfig, *, now: Callable[[], float], credentials: VenueCredentials | None = None,
                 engine: SimExchange | None = None) -> None:
        """`engine`: the sim kind's matching engine, served by an embedded SimServer when `config.url` is None."""
        self.config = config
        self.engine = engine
        self._now = now
        self.sim_server: SimServer | None = None
        self.client: VenueClient | None = None      # the market source when it is a VenueClient
        self.ccxt: CcxtVenue | None = None          # the market source when it is reached through ccxt
        self.started = False
        market: VenueClient | CcxtVenue
        if isinstance(config, SimVenueConfig):
            embedded = config.url is None
            market = self.client = VenueClient(config.trading_pairs, fee_rate=config.fee_rate, now=now,
                                               url=config.url, fallback=engine if embedded else None,
                                               feed=None if embedded else config.feed)
            self.name = "sim (embedded)" if embedded else "sim"
            self.address = config.url or "127.0.0.1"
        elif isinstance(config, BinanceVenueConfig):
            stream, api = config.endpoints
            market = self.client = VenueClient(config.trading_pairs, fee_rate=config.fee_rate, now=now, url=stream,
                                               api_url=api, signer=_signer(config, credentials), feed=config.feed)
            self.name = f"{config.venue_name} ({config.mode})"
            self.address = stream
        else:
            market = self.ccxt = _ccxt_venue(config, now, credentials)
            self.name = f"{config.venue_name} through ccxt ({config.mode})"
            self.address = config.exchange
        self.market = market
        self.paper: PaperVenue | None = None
        if isinstance(config, LiveVenueConfig) and config.mode == "paper":
            from hive_core.paper.venue import PaperVenue  # paper instances only
            self.paper = PaperVenue(market, maker_fee_rate=config.maker_fee_rate, taker_fee_rate=config.fee_rate,
                                    now=now)
        self.venue: Venue = self.paper if self.paper is not None else market
        self.transport: OrderTransport
        if self.paper is not None:
            self.transport = self.paper
        elif self.ccxt is not None:
            self.transport = self.ccxt   # a CcxtVenue is its own order transport
        else:
            assert self.client is not None
            self.transport = VenueApiTransport(self.client, on_send=self.client.track_request,
                                               on_answer=self.client.forget_refused)

    @property
    def trades_live(self) -> bool:
        """Orders reach a venue outside the process (the account's events are then subscribed to)."""
        return self.paper is None

    @property
    def published_limits(self) -> list[RateLimitRule]:
        """The limits the venue published when it connected (none through ccxt, which paces its own requests)."""
        return self.client.published_limits if self.client is not None else []

    async def start(self, timeout: float) -> bool:
        """Start the embedded simulated venue when there is one, connect, wait (bounded) for the books; True once
        every pair's book synced."""
        self.started = True
        if self.ccxt is not None:
            try:
                return await self.ccxt.start(timeout)
            except ValueError as error:   # a pair the exchange does not list
                raise ConfigError(f"venue.trading_pairs: {error}") from None
        assert self.client is not None
        url = None
        if isinstance(self.config, SimVenueConfig) and self.config.url is None:
            assert self.engine is not None
            self.sim_server = SimServer(self.config, host="127.0.0.1", port=0, time_source=self._now,
                                        exchange=self.engine)
            await self.sim_server.start()
            url = self.address = self.sim_server.url
        return await self.client.start(url, user_data=self.trades_live, timeout=timeout)

    def drain(self, callback: MarketListener) -> int:
        """Hand `callback` the books and trades received since the last drain (paper orders matched first)."""
        return (self.paper or self.market).drain(callback)

    def open_orders(self) -> list[Order]:
        return (self.paper or self.market).open_orders()

    async def stop(self) -> None:
        await self.market.stop()
        if self.sim_server is not None:
            await self.sim_server.stop()
            self.sim_server = None


def _ccxt_venue(config: CcxtVenueConfig, now: Callable[[], float],
                credentials: VenueCredentials | None) -> CcxtVenue:
    try:
        from hive_core.market.ccxt_venue import CcxtVenue
    except ImportError:
        raise ConfigError(f"venue.kind: ccxt is not installed here; install hive with its ccxt extra "
                          f"(pip install '.[ccxt]') to trade on {config.exchange}") from None
    check_credentials(config, credentials)
    keys = None
    if config.mode == "live" and credentials is not None:
        keys = (credentials.api_key.get_secret_value(), credentials.secret.get_secret_value())
    try:
        return CcxtVenue(config.exchange, config.trading_pairs, fee_rate=config.fee_rate, now=now, credentials=keys,
                         urls=config.urls, sandbox=config.sandbox, options=config.options,
                         poll_interval=config.poll_interval)
    except ValueError as error:
        raise ConfigError(f"venue.exchange: {error}") from None


def check_credentials(config: VenueConfig, credentials: VenueCredentials | None) -> None:
    """ConfigError unless live trading has credentials stored for its venue (paper and sim need none)."""
    if not isinstance(config, LiveVenueConfig) or config.mode == "paper":
        return
    name = config.venue_name
    if credentials is None:
        raise ConfigError(f"venue.mode: live trading on {name} needs the venue's credentials")
    if credentials.venue != name:
        raise ConfigError(f"credentials: {credentials.name!r} is a credential for {credentials.venue}, not for "
                          f"{name}: assign one stored for {name}")


def _signer(config: BinanceVenueConfig, credentials: VenueCredentials | None) -> RequestSigner | None:
    """Live orders are signed with the instance's credentials; paper needs none."""
    check_credentials(config, credentials)
    if config.mode == "paper" or credentials is None:
        return None
    try:
        signer = signer_for(credentials.secret.get_secret_value())
    except ValueError:
        raise ConfigError(f"credentials: the secret of {credentials.name!r} is neither an HMAC secret nor an "
                          "Ed25519 private key in PEM") from None
    return RequestSigner(credentials.api_key.get_secret_value(), signer)
