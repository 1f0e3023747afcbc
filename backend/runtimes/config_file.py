"""Writing an instance's folder: its config file (hive_core/config.py's format) and its strategy sources."""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backend.domain.instances import InstanceCreate, VenueChoice
from hive_core.config import (
    BinanceVenueConfig,
    CcxtVenueConfig,
    CredentialsFileConfig,
    InstanceConfig,
    JournalConfig,
    MqttBridgeConfig,
    PaperAccountConfig,
    SimVenueConfig,
    StrategyEntry,
    dump_instance_config,
)

CONFIG_NAME = "config.yml"
STRATEGY_DIR = "strategies"
CREDENTIALS_NAME = "credentials.json"
JOURNAL_DIR = "journal"  # the instance's journal (hive_core/remote/journal.py), in its folder
MQTT_AUTH_NAME = "mqtt_auth.json"  # the broker login (hive_core's mqtt_auth_file), when the broker needs one


def reachable_host(host: str) -> str:
    """Where a local bot connects to reach a broker bound to `host`."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def venue_config(choice: VenueChoice, trading_pairs: list[str], endpoints: Mapping[str, tuple[str, str]] | None = None,
                 feed: str | None = None) -> SimVenueConfig | BinanceVenueConfig | CcxtVenueConfig:
    """The config's venue section; `endpoints`: (stream, API) addresses by venue name where they are not Binance's
    public ones; `feed`: the host's market-data service, which Binance's market data comes through (the simulated
    exchange runs inside the instance; ccxt keeps its own connections)."""
    if choice.kind == "sim":
        return SimVenueConfig(trading_pairs=trading_pairs)
    if choice.kind == "ccxt":
        return CcxtVenueConfig(exchange=str(choice.exchange), sandbox=choice.network == "testnet", mode=choice.mode,
                               trading_pairs=trading_pairs)
    stream, api = (endpoints or {}).get(choice.name, (None, None))
    return BinanceVenueConfig(network=choice.network, mode=choice.mode, trading_pairs=trading_pairs,
                              stream_url=stream, api_url=api, feed=feed)


def build_config(spec: InstanceCreate, instance_dir: Path, broker_host: str, broker_port: int,
                 namespace: str, heartbeat_interval: float, with_credentials: bool = False,
                 with_mqtt_auth: bool = False, pnl_interval: float = 5.0,
                 venue_endpoints: Mapping[str, tuple[str, str]] | None = None,
                 feed: str | None = None) -> InstanceConfig:
    """The instance's config; `with_credentials` and `with_mqtt_auth` name the files written beside it;
    `pnl_interval`: seconds between the PnL points the instance journals (and the backend stores);
    `venue_endpoints`, `feed`: see venue_config()."""
    paper = PaperAccountConfig(balances=spec.balances) if spec.balances is not None else PaperAccountConfig()
    return InstanceConfig(
        instance_id=spec.name,
        strategies=[StrategyEntry(id=s.id, strategy=s.strategy, params=s.params, interval=s.interval,
                                   trading_pair=s.trading_pair)
                    for s in spec.strategies],
        venue=venue_config(spec.venue, spec.trading_pairs, venue_endpoints, feed),
        paper=paper,
        mqtt_bridge=MqttBridgeConfig(
            mqtt_host=reachable_host(broker_host), mqtt_port=broker_port, mqtt_namespace=namespace,
            mqtt_heartbeat_interval=heartbeat_interval,
            mqtt_auth_file=Path(MQTT_AUTH_NAME) if with_mqtt_auth else None,
        ),
        strategy_dirs=[instance_dir / STRATEGY_DIR],
        credentials=CredentialsFileConfig(file=Path(CREDENTIALS_NAME)) if with_credentials else None,
        journal=JournalConfig(dir=Path(JOURNAL_DIR), pnl_interval=pnl_interval),
    )


def write_instance_files(instance_dir: Path, config: InstanceConfig, sources: dict[str, str]) -> Path:
    """Write config.yml and `strategies/<name>.py` for each uploaded strategy; return the config path."""
    strategy_dir = instance_dir / STRATEGY_DIR
    strategy_dir.mkdir(parents=True, exist_ok=True)
    for old in strategy_dir.glob("*.py"):
        if old.stem not in sources:
            old.unlink()
    for name, source in sources.items():
        write_strategy_file(instance_dir, name, source)
    config_path = instance_dir / CONFIG_NAME
    _write_atomic(config_path, dump_instance_config(config))
    return config_path


def write_strategy_file(instance_dir: Path, name: str, source: str) -> None:
    """`strategies/<name>.py`, replaced at once: a bot reloading it reads the old file or the new one, never half."""
    _write_atomic(instance_dir / STRATEGY_DIR / f"{name}.py", source)


def write_credentials_file(instance_dir: Path, content: dict[str, Any], name: str = CREDENTIALS_NAME) -> None:
    """The credentials file (hive_core/credentials.py's format), or with `name` MQTT_AUTH_NAME the broker login
    (hive_core/config.py's mqtt_auth_file), readable by its owner alone from its first byte."""
    path = instance_dir / name
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(content, file)
    os.replace(temporary, path)


def remove_credentials_file(instance_dir: Path) -> None:
    """The secrets handed to a process go when it ends: the venue credentials and the broker login."""
    for name in (CREDENTIALS_NAME, MQTT_AUTH_NAME):
        (instance_dir / name).unlink(missing_ok=True)


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
