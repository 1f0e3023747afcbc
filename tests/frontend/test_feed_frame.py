"""The Broker page's table of the market-data service's venues (frontend/tables.py feed_frame), from the answer of
GET /feed: how far behind each venue is in words, and how many instances take each stream."""
from __future__ import annotations

import pytest

from frontend import format as fmt
from frontend import tables

UPSTREAM = {"stream_url": "wss://stream.binance.com:9443", "connected": True, "lag_ms": 8.04, "api_clients": 2,
            "streams": {"btcusdt@depth@100ms": 2, "btcusdt@trade": 1}, "messages": 144, "gaps": 0, "resyncs": 1,
            "reconnects": 0}


def test_a_venue_row_says_how_far_behind_and_who_takes_each_stream() -> None:
    [row] = tables.feed_frame([UPSTREAM]).to_dict("records")
    assert row == {"Venue": "wss://stream.binance.com:9443", "Connected": "yes", "Behind the venue": "8 ms",
                   "Streams": 2, "Instances per stream": "btcusdt@depth@100ms ×2, btcusdt@trade ×1",
                   "Messages": 144, "Gaps resynced": 1, "Reconnects": 0}


@pytest.mark.parametrize(("milliseconds", "words"), [(None, "–"), (0.4, "0 ms"), (8.04, "8 ms"), (999.6, "1 s"),
                                                     (65_000.0, "1 min 5 s"), (-3.0, "0 ms")])
def test_how_far_behind_in_words(milliseconds: float | None, words: str) -> None:
    assert fmt.lag(milliseconds) == words
