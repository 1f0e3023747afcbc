"""Signed orders (run by `python -m benchmarks`, or alone: `python -m benchmarks.signing`).

(a) the cost of signing one order (hive_core/market/signing.py: its parameters sorted, joined and signed), HMAC-SHA256
    against Ed25519, in-process;
(b) order submit to acknowledgement, `VenueApi.request("order.place")` -> the venue's answer, against the simulated
    venue over a real local WebSocket, side by side in one run: unsigned (a venue without keys), HMAC-signed,
    Ed25519-signed, and Ed25519 with the connection logged on (session.logon: no signature per order) on a venue that
    checks every signature, as Binance does; p50/p99 and the ratio to unsigned.
"""
from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hive_core.config import RateLimitRule, SimVenueConfig
from hive_core.market.signing import Ed25519Signer, HmacSigner, RequestSigner, Signer
from hive_core.market.venue_api import VenueApi
from hive_core.orders.manager import percentiles
from hive_core.sim.auth import SimKeys
from hive_core.sim.server import SimServer

ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "price": "50.0",
         "quantity": "0.01"}
UNLIMITED = [RateLimitRule(limit_type="REQUEST_WEIGHT", interval_s=60, limit=100_000_000),
             RateLimitRule(limit_type="ORDERS", interval_s=10, limit=100_000_000)]


def signing_costs(repeats: int) -> dict[str, float]:
    """µs to sign one order with each key type (the median of `repeats` timed batches of 1,000)."""
    signers: dict[str, Signer] = {"hmac": HmacSigner(secrets.token_hex(32)),
                                  "ed25519": Ed25519Signer(Ed25519PrivateKey.generate())}
    costs = {}
    for kind, signer in signers.items():
        request_signer = RequestSigner("bench-key", signer)
        batches = []
        for _ in range(repeats):
            start = time.perf_counter()
            for n in range(1000):
                request_signer.signed({**ORDER, "newClientOrderId": f"bench-{n}"})
            batches.append((time.perf_counter() - start) / 1000)
        costs[f"{kind}_us"] = round(percentiles(batches, 1e6)["p50"], 2)
    return costs


async def _acknowledged(orders: int) -> dict[str, Any]:
    hmac_secret, ed_key = secrets.token_hex(32), Ed25519PrivateKey.generate()
    keys = SimKeys()
    keys.add_hmac("bench-hmac", hmac_secret)
    keys.add_ed25519("bench-ed25519", ed_key.public_key())
    config = SimVenueConfig(seed=3, volatility=0.0, rate_limits=UNLIMITED, trading_pairs=["BTC-USDT"],
                            initial_prices={"BTC-USDT": 100.0})
    ways = {"unsigned": (None, None),
            "hmac": (keys, RequestSigner("bench-hmac", HmacSigner(hmac_secret))),
            "ed25519": (keys, RequestSigner("bench-ed25519", Ed25519Signer(ed_key), log_on=False)),
            "ed25519_logon": (keys, RequestSigner("bench-ed25519", Ed25519Signer(ed_key)))}
    servers: dict[str, SimServer] = {}
    apis: dict[str, VenueApi] = {}
    try:
        for way, (venue_keys, signer) in ways.items():
            servers[way] = SimServer(config, autostep=False, keys=venue_keys)
            await servers[way].start()
            apis[way] = VenueApi(servers[way].url, signer=signer)
            await apis[way].start()
            if not await apis[way].wait_connected(5.0):
                raise RuntimeError(f"bench: no connection to the simulated venue ({way})")
            if signer is not None:  # the clock measured (and the logon made) before the timed orders
                await _until(partial(_session_ready, apis[way], signer), f"{way} session")
        samples: dict[str, list[float]] = {way: [] for way in ways}
        for n in range(orders):  # interleaved, so that the machine's moods fall on every way alike
            for way, api in apis.items():
                start = time.perf_counter()
                answer = await api.request("order.place", {**ORDER, "newClientOrderId": f"{way}-{n}"})
                samples[way].append(time.perf_counter() - start)
                if not answer.ok:
                    raise RuntimeError(f"bench: {way} order refused: {answer.error_code} {answer.error_msg}")
    finally:
        for api in apis.values():
            await api.stop()
        for server in servers.values():
            await server.stop()
    figures = {way: {key: round(value, 3) for key, value in percentiles(values, 1000.0).items() if key != "n"}
               for way, values in samples.items()}
    ratios = {way: round(figures[way]["p50"] / figures["unsigned"]["p50"], 2) for way in ways if way != "unsigned"}
    return {"orders": orders, **figures, "p50_ratio": ratios}


def _session_ready(api: VenueApi, signer: RequestSigner) -> bool:
    return signer.clock.measured and (api.logged_on or not signer.can_log_on)


async def _until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench: no {what} within {timeout:g} s")
        await asyncio.sleep(0.01)


def signing_benchmark(orders: int = 2000, repeats: int = 21) -> dict[str, Any]:
    return {"signing": signing_costs(repeats), "acknowledged": asyncio.run(_acknowledged(orders))}


def print_signing(result: dict[str, Any]) -> None:
    costs, ack = result["signing"], result["acknowledged"]
    print(f"signed orders: signing one costs {costs['hmac_us']:.1f} µs (HMAC-SHA256), {costs['ed25519_us']:.1f} µs "
          f"(Ed25519)")
    print(f"order.place -> answer against the simulated venue, {ack['orders']:,} each, p50 / p99 ms:")
    for way in ("unsigned", "hmac", "ed25519", "ed25519_logon"):
        ratio = "" if way == "unsigned" else f"  (p50 x{ack['p50_ratio'][way]:g} of unsigned)"
        print(f"  {way:>13}: {ack[way]['p50']:.3f} / {ack[way]['p99']:.3f}{ratio}")


if __name__ == "__main__":
    print_signing(signing_benchmark())
