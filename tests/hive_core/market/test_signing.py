"""Signed requests (hive_core/market/signing.py) against the simulated venue that checks them as Binance does
(hive_core/sim/auth.py): HMAC and Ed25519 keys, the venue's clock, recvWindow, and refusals in Binance's codes."""
from __future__ import annotations

import logging
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from hive_core.market.signing import (
    Ed25519Signer,
    HmacSigner,
    RequestSigner,
    ServerClock,
    payload,
    signer_for,
)
from hive_core.market.venue_api import VenueApi
from hive_core.sim.auth import SimKeys
from tests.hive_core.market.conftest import run, started_server
from tests.polling import wait_until_async

# Binance's published example key (spot API docs, "SIGNED endpoint examples", HMAC): not a live key.
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_QUERY = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
             "&timestamp=1499827319559")
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "price": "90.0",
         "quantity": "0.1"}


def test_the_payload_is_every_parameter_but_the_signature_sorted_by_name() -> None:
    assert payload({"symbol": "BTCUSDT", "apiKey": "k", "signature": "x", "timestamp": 5, "newOrderRespType": True}) \
        == "apiKey=k&newOrderRespType=true&symbol=BTCUSDT&timestamp=5"


def test_hmac_signs_as_binances_documented_example() -> None:
    signer = HmacSigner(DOC_SECRET)
    assert signer.sign(DOC_QUERY.encode()) == DOC_SIGNATURE
    assert signer.verify(DOC_QUERY.encode(), DOC_SIGNATURE.upper())  # Binance: HMAC signatures ignore case
    assert DOC_SECRET not in repr(signer) and DOC_SECRET not in repr(RequestSigner("key", signer))


def ed25519_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


def test_an_ed25519_key_is_told_from_an_hmac_secret_and_signs_in_base64() -> None:
    key = Ed25519PrivateKey.generate()
    signer = signer_for(ed25519_pem(key))
    assert isinstance(signer, Ed25519Signer) and isinstance(signer_for(DOC_SECRET), HmacSigner)
    keys = SimKeys()
    keys.add_ed25519("ed-key", key.public_key())
    request = RequestSigner("ed-key", signer).signed(ORDER)
    assert keys.check(request, int(time.time() * 1000)) is None
    assert keys.check({**request, "price": "91.0"}, int(time.time() * 1000)).code == -1022
    with pytest.raises(ValueError, match="not a PEM private key") as refused:
        signer_for("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----")
    assert "not a key" not in str(refused.value)


def test_the_venue_refuses_as_binance_does() -> None:
    keys = SimKeys()
    keys.add_hmac("hmac-key", DOC_SECRET)
    signer = RequestSigner("hmac-key", HmacSigner(DOC_SECRET))
    good = signer.signed(ORDER)
    now = int(good["timestamp"])  # the venue's clock at the very moment of signing: the windows' edges are exact
    assert keys.check(good, now) is None
    assert keys.check({**good, "quantity": "0.2"}, now).code == -1022           # changed after signing
    assert keys.check({k: v for k, v in good.items() if k != "apiKey"}, now).code == -2014
    assert keys.check({**good, "apiKey": "someone-else"}, now).code == -2015
    assert keys.check({k: v for k, v in good.items() if k != "signature"}, now).code == -1102
    assert keys.check(good, now + 5001).msg == "Timestamp for this request is outside of the recvWindow."
    assert keys.check(good, now - 1000).code == -1021                          # 1000 ms ahead of the venue
    assert keys.check(RequestSigner("hmac-key", HmacSigner(DOC_SECRET), recv_window_ms=60_000).signed(ORDER),
                      now + 59_000) is None
    assert keys.check({**good, "recvWindow": 60_001}, now).code == -1131
    assert keys.check(RequestSigner("hmac-key", HmacSigner("another secret")).signed(ORDER), now).code == -1022
    with pytest.raises(ValueError, match="recvWindow"):
        RequestSigner("hmac-key", HmacSigner(DOC_SECRET), recv_window_ms=60_001)


def test_the_server_clock_takes_the_middle_of_the_round_trip() -> None:
    clock = ServerClock()
    clock.update(server_ms=1_000_000_500.0, sent_at=1_000_000.0, received_at=1_000_000.2)
    assert clock.offset_ms == pytest.approx(400.0) and clock.measured


def test_signed_orders_through_the_venue_api_on_a_venue_whose_clock_is_ahead(caplog) -> None:
    """Over a real socket: the venue's clock is 3 s ahead (beyond the 1 s a timestamp may be off), so an order
    signed on the local clock would be refused; the connection measures the venue's clock first. A wrong secret is
    refused with -1022, and neither secret is in the log."""
    caplog.set_level(logging.DEBUG)
    keys = SimKeys()
    keys.add_hmac("hmac-key", DOC_SECRET)

    async def scenario() -> None:
        server = await started_server(keys=keys, time_source=lambda: time.time() + 3.0)
        good = VenueApi(server.url, signer=RequestSigner("hmac-key", HmacSigner(DOC_SECRET)))
        wrong = VenueApi(server.url, signer=RequestSigner("hmac-key", HmacSigner("not the secret")))
        try:
            for api in (good, wrong):
                await api.start()
                assert await api.wait_connected(5)
            await wait_until_async(lambda: good.signer.clock.measured, 5, message="the venue's clock measured")
            assert good.signer.clock.offset_ms == pytest.approx(3000, abs=500)
            placed = await good.request("order.place", {**ORDER, "newClientOrderId": "signed-1"})
            assert placed.ok, (placed.error_code, placed.error_msg)
            status = await good.request("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "signed-1"})
            assert status.ok and status.result["clientOrderId"] == "signed-1"
            refused = await wrong.request("order.place", {**ORDER, "newClientOrderId": "signed-2"})
            assert (refused.status, refused.error_code, refused.error_msg) == \
                (400, -1022, "Signature for this request is not valid.")
            unsigned = await good.request("depth", {"symbol": "BTCUSDT", "limit": 5})
            assert unsigned.ok  # market data needs no key
        finally:
            for api in (good, wrong):
                await api.stop()
            await server.stop()

    run(scenario())
    assert DOC_SECRET not in caplog.text and "not the secret" not in caplog.text


def both_kinds_of_key() -> tuple[Ed25519PrivateKey, SimKeys]:
    """A new Ed25519 key, and a venue's keys: it as `ed-key`, Binance's example HMAC secret as `hmac-key`."""
    ed_key = Ed25519PrivateKey.generate()
    keys = SimKeys()
    keys.add_ed25519("ed-key", ed_key.public_key())
    keys.add_hmac("hmac-key", DOC_SECRET)
    return ed_key, keys


def test_an_ed25519_key_logs_the_connection_on_and_its_orders_go_unsigned() -> None:
    """session.logon: the connection's later SIGNED requests carry only their timestamp, and the venue takes them on
    that connection alone; an HMAC key cannot log on (Binance: Ed25519 only), so its requests stay signed."""
    ed_key, keys = both_kinds_of_key()

    async def scenario() -> None:
        server = await started_server(keys=keys)
        ed = VenueApi(server.url, signer=RequestSigner("ed-key", Ed25519Signer(ed_key)))
        hmac_api = VenueApi(server.url, signer=RequestSigner("hmac-key", HmacSigner(DOC_SECRET)))
        sent: list[dict] = []
        try:
            for api in (ed, hmac_api):
                await api.start()
                assert await api.wait_connected(5)
            await wait_until_async(lambda: ed.logged_on, 5, message="the Ed25519 connection logged on")
            original = ed.signer.timed
            ed.signer.timed = lambda params: sent.append(original(params)) or sent[-1]  # what goes on the wire
            placed = await ed.request("order.place", {**ORDER, "newClientOrderId": "ed-1"})
            assert placed.ok, (placed.error_code, placed.error_msg)
            assert sent and "signature" not in sent[0] and "apiKey" not in sent[0] and "timestamp" in sent[0]
            # the same unsigned request on a connection that did not log on is refused
            bare = await hmac_api.request("order.status", {"symbol": "BTCUSDT", "origClientOrderId": "ed-1"})
            assert bare.ok  # signed with its own key: fine
            refused = await hmac_api.request("session.logon")
            assert (refused.status, refused.error_code) == (400, -1002) and not hmac_api.logged_on
            unsigned = server.api.handle("127.0.0.1", {"id": 1, "method": "order.status", "params": {
                "symbol": "BTCUSDT", "origClientOrderId": "ed-1", "timestamp": int(time.time() * 1000)}})
            assert unsigned["error"]["code"] == -2014  # no logon, no key: refused
            after = await hmac_api.request("order.place", {**ORDER, "newClientOrderId": "hmac-1"})
            assert after.ok
        finally:
            for api in (ed, hmac_api):
                await api.stop()
            await server.stop()

    run(scenario())


def test_the_accounts_events_come_by_a_signed_subscription_or_on_a_logged_on_connection() -> None:
    """Binance: userDataStream.subscribe needs a connection that logged on; an HMAC key subscribes with
    userDataStream.subscribe.signature. Either way an order's executionReport arrives, also after a reconnect."""
    ed_key, keys = both_kinds_of_key()

    async def scenario() -> None:
        server = await started_server(keys=keys)
        apis = {"hmac": VenueApi(server.url, signer=RequestSigner("hmac-key", HmacSigner(DOC_SECRET))),
                "ed": VenueApi(server.url, signer=RequestSigner("ed-key", Ed25519Signer(ed_key)))}
        events: dict[str, list[dict]] = {name: [] for name in apis}
        try:
            for name, api in apis.items():
                api.on_user_event(events[name].append)
                await api.start()
                assert await api.wait_connected(5)
            await wait_until_async(lambda: apis["ed"].logged_on, 5, message="the Ed25519 connection logged on")
            answers = {name: await api.subscribe_user_data() for name, api in apis.items()}
            assert all(answer.ok for answer in answers.values()), answers
            assert answers["hmac"].method == "userDataStream.subscribe.signature"
            assert answers["ed"].method == "userDataStream.subscribe"
            for round_ in (1, 2):
                for name, api in apis.items():
                    placed = await api.request("order.place", {**ORDER, "newClientOrderId": f"{name}-{round_}"})
                    assert placed.ok
                await wait_until_async(lambda r=round_: all(any(e.get("c") == f"{n}-{r}" for e in events[n])
                                                             for n in apis), 5, message="each account's report")
                if round_ == 1:  # every connection dropped: they subscribe again on their own
                    assert await server.drop_connections() >= 2
                    await wait_until_async(lambda: all(api.stats["connects"] >= 2 for api in apis.values())
                                           and apis["ed"].logged_on and len(server._user_data) == 2, 10,
                                           message="reconnected and subscribed again")
            bare = await apis["hmac"].request("userDataStream.subscribe")
            assert (bare.status, bare.error_code) == (400, -1002)  # not logged on: the plain form is refused
        finally:
            for api in apis.values():
                await api.stop()
            await server.stop()

    run(scenario())
