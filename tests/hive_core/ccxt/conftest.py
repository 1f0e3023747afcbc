"""Helpers for the ccxt venue's tests: the simulated venue with its REST face, and ccxt's binance pointed at it.

Every URL ccxt's binance knows is replaced by one on the simulated venue (sim/rest.py's ccxt_binance_urls: those it
does not serve answer 404), so nothing these tests run can reach another host.
"""
from __future__ import annotations

import time
from typing import Any

from hive_core.market.ccxt_venue import CcxtVenue
from hive_core.sim.auth import SimKeys
from hive_core.sim.rest import CCXT_SPOT_ONLY, SimRestServer, ccxt_binance_urls
from hive_core.sim.server import SimServer
from tests.hive_core.market.conftest import started_server

API_KEY = "ccxt-test-key"
SECRET = "ccxt-test-secret-9f2c41d7"
SPOT_ONLY = CCXT_SPOT_ONLY


async def sim_venue(**overrides: Any) -> tuple[SimServer, SimRestServer]:
    """A started simulated venue that accepts API_KEY with SECRET, and its started REST face."""
    keys = SimKeys()
    keys.add_hmac(API_KEY, SECRET)
    server = await started_server(keys=keys, **overrides)
    rest = SimRestServer(server)
    await rest.start()
    return server, rest


def binance_on_sim(server: SimServer, rest: SimRestServer, *, secret: str = SECRET, **options: Any) -> CcxtVenue:
    """A CcxtVenue of ccxt's binance on the simulated venue's pairs, keyed with API_KEY and `secret`."""
    import ccxt.pro

    known = ccxt.pro.binance().urls["api"]  # a bare instance: no session, no connection
    return CcxtVenue("binance", list(server.exchange.trading_pairs), fee_rate=server.config.fee_rate, now=time.time,
                     credentials=(API_KEY, secret), urls=ccxt_binance_urls(known, server.url, rest.url),
                     options={**SPOT_ONLY, **options}, poll_interval=0.05)
