"""The `binance` venue kind (hive_core/venues.py) against the simulated venue standing in for Binance: live orders
signed with the instance's credentials (a wrong secret refused, and said so), paper orders that never leave the
process, and the configuration rules that keep a live instance from starting without the venue's credentials."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from hive_core.config import ConfigError, parse_instance_config
from hive_core.credentials import VenueCredentials
from hive_core.loader import ResolvedStrategy, StrategySpec
from hive_core.market.types import Side, UpdateKind
from hive_core.runtime import Runtime
from hive_core.sim.auth import SimKeys
from hive_core.sim.server import SimServer
from hive_core.strategy import Strategy
from hive_core.venues import check_credentials
from tests.hive_core.market.conftest import run, venue_config
from tests.polling import wait_until_async

pytestmark = pytest.mark.integration

API_KEY = "hive-test-api-key-7f3a"
SECRET = "hive-test-secret-9c41e2d0b7"


class BuyOnce(Strategy):
    """A market buy and a resting limit buy far below the market, at start; every update kept."""

    def on_start(self) -> None:
        self.ctx.state["updates"] = []
        self.ctx.state["market"] = self.ctx.orders.place_market(Side.BUY, 0.1)
        self.ctx.state["resting"] = self.ctx.orders.place_limit(Side.BUY, 0.1, self.ctx.market.mid_price() * 0.5)

    def on_tick(self, now: float) -> None:
        pass

    def on_order_update(self, update) -> None:
        self.ctx.state["updates"].append((update.kind, update.order.client_order_id, update.reason))


def binance_config(url: str, mode: str, *, credentials: bool) -> Any:
    return parse_instance_config({
        "instance_id": "bn", "mqtt_bridge": {"mqtt_autostart": False},
        "strategies": [{"id": "b1", "strategy": "BuyOnce", "interval": 0.2}],
        "venue": {"kind": "binance", "network": "testnet", "mode": mode, "stream_url": url, "api_url": url,
                  "trading_pairs": ["BTC-USDT", "ETH-USDT"]},
        **({"credentials": {"file": "credentials.json"}} if credentials else {})})


def credential(secret: str = SECRET, venue: str = "binance_testnet") -> VenueCredentials:
    return VenueCredentials.model_validate({"name": "desk1", "venue": venue, "api_key": API_KEY, "secret": secret})


def runtime_for(config: Any, credentials: VenueCredentials | None) -> Runtime:
    spec = StrategySpec("BuyOnce", Path("<test>"), BuyOnce, shipped=False)
    resolved = [ResolvedStrategy(entry, spec, spec.validate_params(entry.params), config.pair_of(entry))
                for entry in config.strategies]
    return Runtime(config, resolved, realtime=True, credentials=credentials)


async def keyed_server() -> SimServer:
    keys = SimKeys()
    keys.add_hmac(API_KEY, SECRET)
    server = SimServer(venue_config(step_interval=0.05), keys=keys)
    await server.start()
    return server


def trade(mode: str, credentials: VenueCredentials | None, until) -> tuple[list, list[str]]:
    """Run the instance on the keyed venue until `until(updates)`; (updates, ids of the venue's orders)."""
    async def scenario():
        server = await keyed_server()
        runtime = runtime_for(binance_config(server.url, mode, credentials=credentials is not None), credentials)
        task = asyncio.create_task(runtime.run(install_signal_handlers=False))
        try:
            await wait_until_async(lambda: len(runtime.host.running) == 1, 10, message="started")
            state = runtime.host.slots["b1"].ctx.state
            await wait_until_async(lambda: until(state["updates"]), 15, message=f"the orders' outcome ({mode})")
            on_venue = [order.client_order_id for order in server.exchange._orders.values()]
            return list(state["updates"]), on_venue
        finally:
            runtime.request_stop()
            await asyncio.wait_for(task, 10)
            await server.stop()
    return run(scenario(), timeout=60)


def kinds(updates: list) -> list[UpdateKind]:
    return [kind for kind, _order, _reason in updates]


def test_live_orders_are_signed_with_the_instances_credential_and_reach_the_venue(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    updates, on_venue = trade("live", credential(), lambda seen: UpdateKind.COMPLETED in kinds(seen)
                                      and kinds(seen).count(UpdateKind.CREATED) == 2)
    assert len(on_venue) == 2                      # both orders went out, signed, and the venue took them
    assert UpdateKind.FILLED in kinds(updates) and UpdateKind.REJECTED not in kinds(updates)
    assert SECRET not in caplog.text and API_KEY not in caplog.text


def test_a_wrong_secret_is_refused_by_the_venue_and_reported_as_such(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    updates, on_venue = trade("live", credential(secret="not-the-secret-5512"),
                                      lambda seen: kinds(seen).count(UpdateKind.REJECTED) == 2)
    assert on_venue == []
    reasons = {reason for _kind, _order, reason in updates}
    assert reasons == {"venue refused the order (-1022): Signature for this request is not valid."}, reasons
    [said] = [record for record in caplog.records if "event stream" in record.getMessage()]
    assert said.levelno == logging.ERROR and "check the credential" in said.getMessage()
    assert "not-the-secret-5512" not in caplog.text and API_KEY not in caplog.text


def test_paper_orders_fill_against_the_live_book_and_never_reach_the_venue() -> None:
    updates, on_venue = trade("paper", None, lambda seen: UpdateKind.COMPLETED in kinds(seen))
    assert on_venue == []
    assert kinds(updates)[:2] == [UpdateKind.CREATED, UpdateKind.FILLED]


def test_live_trading_needs_the_venues_credentials() -> None:
    with pytest.raises(ConfigError, match="live trading on binance_testnet needs the venue's credentials"):
        binance_config("ws://127.0.0.1:1", "live", credentials=False)
    config = binance_config("ws://127.0.0.1:1", "live", credentials=True)
    with pytest.raises(ConfigError, match="'desk1' is a credential for binance, not for binance_testnet"):
        check_credentials(config.venue, credential(venue="binance"))
    check_credentials(config.venue, credential())
    check_credentials(binance_config("ws://127.0.0.1:1", "paper", credentials=False).venue, None)


def test_binance_addresses_by_network_unless_configured() -> None:
    mainnet = parse_instance_config({"instance_id": "a", "strategies": [{"id": "x", "strategy": "y"}],
                                     "venue": {"kind": "binance"}}).venue
    assert mainnet.endpoints == ("wss://stream.binance.com:9443", "wss://ws-api.binance.com:443")
    assert mainnet.mode == "paper" and mainnet.venue_name == "binance"
    with pytest.raises(ConfigError, match="kind must name a venue kind: sim, binance or ccxt"):
        parse_instance_config({"instance_id": "a", "strategies": [{"id": "x", "strategy": "y"}],
                               "venue": {"kind": "kraken"}})


def test_backtests_run_on_the_simulated_venue_only() -> None:
    config = binance_config("ws://127.0.0.1:1", "paper", credentials=False)
    spec = StrategySpec("BuyOnce", Path("<test>"), BuyOnce, shipped=False)
    resolved = [ResolvedStrategy(entry, spec, spec.validate_params(entry.params), config.pair_of(entry))
                for entry in config.strategies]
    with pytest.raises(ConfigError, match="backtests run on the simulated venue"):
        Runtime(config, resolved, realtime=False)
