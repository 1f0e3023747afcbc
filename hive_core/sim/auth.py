"""The simulated venue's checks of signed requests, as Binance makes them (hive_core/market/signing.py quotes the
rules), with Binance's error codes:

- no `apiKey` -2014 "API-key format invalid."; one it does not know -2015 "Invalid API-key, IP, or permissions for
  action." (both 401);
- no `timestamp` or `signature` -1102; a `recvWindow` above 60000 -1131;
- session.logon with a key that is not Ed25519 -1002 (Binance takes Ed25519 keys only there; the code is this
  venue's choice); after a logon, a request without `apiKey` and `signature` is checked for its timestamp only;
- a timestamp 1000 ms or more ahead of the venue's clock, or older than `recvWindow`, -1021;
- a signature that does not verify -1022 "Signature for this request is not valid.".

What is signed: on the WS API the payload of the parameters sorted by name (hive_core.market.signing.payload); on
the REST API (rest.py) the query string followed by the request body, as sent, the key in the `X-MBX-APIKEY` header.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hive_core.market.signing import (
    AHEAD_ALLOWED_MS,
    DEFAULT_RECV_WINDOW_MS,
    MAX_RECV_WINDOW_MS,
    HmacSigner,
    ed25519_verifies,
    payload,
)

Verifier = Callable[[bytes, str], bool]


class Refusal(NamedTuple):
    status: int
    code: int
    msg: str


@dataclass
class SimKeys:
    """The API keys the simulated venue accepts: an HMAC secret key or an Ed25519 public key each."""

    _verifiers: dict[str, Verifier] = field(default_factory=dict)
    _ed25519: set[str] = field(default_factory=set)

    def add_hmac(self, api_key: str, secret: str) -> None:
        self._verifiers[api_key] = HmacSigner(secret).verify

    def add_ed25519(self, api_key: str, public_key: Ed25519PublicKey) -> None:
        self._verifiers[api_key] = lambda message, signature: ed25519_verifies(public_key, message, signature)
        self._ed25519.add(api_key)

    def can_log_on(self, api_key: str) -> bool:
        return api_key in self._ed25519

    def check(self, params: dict[str, Any], server_ms: int, logged_on: str | None = None) -> Refusal | None:
        """None when `params` are those of a request signed with a known key, in time, or (without `apiKey` and
        `signature`) sent in time on a connection that logged on with key `logged_on`; else why not."""
        if logged_on is not None and "apiKey" not in params and "signature" not in params:
            return _in_time(params, server_ms)
        return self.check_signed(params.get("apiKey"), params, payload(params).encode(), server_ms)

    def check_signed(self, api_key: Any, params: dict[str, Any], message: bytes, server_ms: int) -> Refusal | None:
        """None when `message` (what the request signed) carries a valid signature `params["signature"]` of the known
        key `api_key`, and `params` are in time; else why not."""
        if not isinstance(api_key, str) or not api_key:
            return Refusal(401, -2014, "API-key format invalid.")
        verifier = self._verifiers.get(api_key)
        if verifier is None:
            return Refusal(401, -2015, "Invalid API-key, IP, or permissions for action.")
        if params.get("signature") in (None, ""):
            return Refusal(400, -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
        refusal = _in_time(params, server_ms)
        if refusal is not None:
            return refusal
        if not verifier(message, str(params["signature"])):
            return Refusal(400, -1022, "Signature for this request is not valid.")
        return None


def _in_time(params: dict[str, Any], server_ms: int) -> Refusal | None:
    """Binance's timing rule: `timestamp < serverTime + 1000 && serverTime - timestamp <= recvWindow`."""
    try:
        timestamp = int(params["timestamp"])
        recv_window = float(params.get("recvWindow", DEFAULT_RECV_WINDOW_MS))
    except (KeyError, TypeError, ValueError):
        return Refusal(400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
    if recv_window > MAX_RECV_WINDOW_MS:
        return Refusal(400, -1131, f"recvWindow must be less than {MAX_RECV_WINDOW_MS}.")
    if timestamp >= server_ms + AHEAD_ALLOWED_MS:
        return Refusal(400, -1021, f"Timestamp for this request was {AHEAD_ALLOWED_MS}ms ahead of the server's time.")
    if server_ms - timestamp > recv_window:
        return Refusal(400, -1021, "Timestamp for this request is outside of the recvWindow.")
    return None
