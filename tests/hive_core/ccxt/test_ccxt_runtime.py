"""An instance on the `ccxt` venue kind (hive_core/venues.py): ccxt's binance pointed at the simulated venue, live
(orders through ccxt with the instance's credential, taken by the venue) and paper (orders matched in the process
against the book ccxt keeps)."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import ccxt.pro
import pytest

from hive_core.config import ConfigError, parse_instance_config
from hive_core.credentials import VenueCredentials
from hive_core.loader import ResolvedStrategy, StrategySpec
from hive_core.market.types import UpdateKind
from hive_core.runtime import Runtime
from hive_core.sim.rest import ccxt_binance_urls
from tests.hive_core.ccxt.conftest import API_KEY, SECRET, SPOT_ONLY, sim_venue
from tests.hive_core.market.conftest import run
from tests.hive_core.market.test_binance_venue import BuyOnce, kinds
from tests.polling import wait_until_async

pytestmark = pytest.mark.integration


def ccxt_runtime(urls: dict[str, Any], mode: str, credentials: VenueCredentials | None) -> Runtime:
    config = parse_instance_config({
        "instance_id": "cx", "mqtt_bridge": {"mqtt_autostart": False},
        "strategies": [{"id": "b1", "strategy": "BuyOnce", "interval": 0.2}],
        "venue": {"kind": "ccxt", "exchange": "binance", "mode": mode, "urls": urls, "options": SPOT_ONLY,
                  "poll_interval": 0.05, "trading_pairs": ["BTC-USDT", "ETH-USDT"]},
        **({"credentials": {"file": "credentials.json"}} if credentials else {})})
    spec = StrategySpec("BuyOnce", Path("<test>"), BuyOnce, shipped=False)
    resolved = [ResolvedStrategy(entry, spec, spec.validate_params(entry.params), config.pair_of(entry))
                for entry in config.strategies]
    return Runtime(config, resolved, realtime=True, credentials=credentials)


def trade_through_ccxt(mode: str, credentials: VenueCredentials | None, until) -> tuple[list, list[str]]:
    async def scenario():
        server, rest = await sim_venue()
        runtime = ccxt_runtime(ccxt_binance_urls(ccxt.pro.binance().urls["api"], server.url, rest.url), mode,
                               credentials)
        task = asyncio.create_task(runtime.run(install_signal_handlers=False))
        try:
            await wait_until_async(lambda: len(runtime.host.running) == 1, 15, message="started")
            state = runtime.host.slots["b1"].ctx.state
            await wait_until_async(lambda: until(state["updates"]), 15, message=f"the orders' outcome ({mode})")
            return list(state["updates"]), [order.client_order_id for order in server.exchange._orders.values()]
        finally:
            runtime.request_stop()
            await asyncio.wait_for(task, 15)
            await rest.stop()
            await server.stop()
    return run(scenario(), timeout=60)


def test_live_orders_go_through_ccxt_with_the_instances_credential() -> None:
    credential = VenueCredentials.model_validate({"name": "cx1", "venue": "binance", "api_key": API_KEY,
                                                  "secret": SECRET})
    updates, on_venue = trade_through_ccxt("live", credential, lambda seen: UpdateKind.COMPLETED in kinds(seen)
                                           and kinds(seen).count(UpdateKind.CREATED) == 2)
    assert len(on_venue) == 2 and UpdateKind.REJECTED not in kinds(updates)


def test_paper_orders_on_ccxt_market_data_never_reach_the_venue() -> None:
    updates, on_venue = trade_through_ccxt("paper", None, lambda seen: UpdateKind.COMPLETED in kinds(seen))
    assert on_venue == []
    assert kinds(updates)[:2] == [UpdateKind.CREATED, UpdateKind.FILLED]


def test_a_ccxt_venue_takes_a_credential_stored_under_the_exchanges_name() -> None:
    credential = VenueCredentials.model_validate({"name": "k1", "venue": "kraken", "api_key": API_KEY,
                                                  "secret": SECRET})
    with pytest.raises(ConfigError, match="'k1' is a credential for kraken, not for binance"):
        ccxt_runtime({}, "live", credential)
