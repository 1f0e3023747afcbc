"""Where an instance trades, as the API takes it (VenueChoice) and as its config says it (venue_config)."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from backend.domain.instances import VenueChoice
from backend.runtimes.config_file import venue_config
from hive_core.config import BinanceVenueConfig, CcxtVenueConfig, SimVenueConfig


@pytest.mark.parametrize(("choice", "name", "live"), [
    ({}, "sim", False),
    ({"kind": "binance"}, "binance", False),
    ({"kind": "binance", "network": "testnet", "mode": "live"}, "binance_testnet", True),
    ({"kind": "ccxt", "exchange": "kraken", "mode": "live"}, "kraken", True),
    ({"kind": "ccxt", "exchange": "okx", "network": "testnet"}, "okx_testnet", False),
])
def test_a_venue_is_named_as_its_credentials_are_stored(choice: dict, name: str, live: bool) -> None:
    venue = VenueChoice.model_validate(choice)
    assert (venue.name, venue.live) == (name, live)


@pytest.mark.parametrize(("choice", "words"), [
    ({"kind": "sim", "mode": "live"}, "network and mode: only for a live venue"),
    ({"kind": "binance", "exchange": "kraken"}, "exchange: only for kind ccxt"),
    ({"kind": "ccxt", "exchange": "nowhere"}, "'nowhere' is not an exchange ccxt knows"),
    ({"kind": "ccxt"}, "exchange: name the exchange"),
])
def test_a_venue_that_cannot_be_is_refused_in_words(choice: dict, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        VenueChoice.model_validate(choice)


def test_each_choice_becomes_its_venue_section() -> None:
    assert isinstance(venue_config(VenueChoice(), ["BTC-USDT"]), SimVenueConfig)
    binance = venue_config(VenueChoice(kind="binance", network="testnet"), ["ETH-USDT"],
                           {"binance_testnet": ("ws://127.0.0.1:1", "ws://127.0.0.1:2")})
    assert isinstance(binance, BinanceVenueConfig)
    assert (binance.endpoints, binance.mode, binance.trading_pairs) == (("ws://127.0.0.1:1", "ws://127.0.0.1:2"),
                                                                        "paper", ["ETH-USDT"])
    kraken = venue_config(VenueChoice(kind="ccxt", exchange="kraken", network="testnet", mode="live"), ["BTC-USD"])
    assert isinstance(kraken, CcxtVenueConfig)
    assert (kraken.exchange, kraken.sandbox, kraken.mode, kraken.venue_name) == ("kraken", True, "live",
                                                                                "kraken_testnet")
