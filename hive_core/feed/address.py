"""How an instance names, to the host's feed service (hive_core/feed/service.py), the venue endpoint it wants."""
from __future__ import annotations

import base64
import binascii

from hive_core.market.wire import UPSTREAM_MARK


def upstream_token(stream_url: str, api_url: str) -> str:
    """The path part that names an upstream: both base addresses, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(f"{stream_url} {api_url}".encode()).decode().rstrip("=")


def upstream_of(token: str) -> tuple[str, str] | None:
    """(stream base, WS API base) of a token; None when it names no ws:// or wss:// pair."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    stream, _, api = text.partition(" ")
    if not all(url.startswith(("ws://", "wss://")) for url in (stream, api)):
        return None
    return stream, api


def feed_address(service: str, stream_url: str, api_url: str) -> str:
    """The base address an instance gives its multiplexer and snapshot connection to reach an upstream through the
    service at `service` (unix:<socket path>, or ws://127.0.0.1:<port>)."""
    return f"{service.rstrip('/')}{UPSTREAM_MARK}{upstream_token(stream_url, api_url)}"
