"""An instance's folder: its config and strategy sources written, checked by hive_core, archived or removed.

    <data>/instances/<name>/    the live folder (config.yml, strategy sources, process.log, and while its
                                process runs: credentials.json when it has a credential, mqtt_auth.json
                                when the broker needs a login; both 0600)
    <data>/archived/<name>[-n]  where a deleted instance's folder is kept when asked
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backend import hive_cli
from backend.domain.instances import InstanceCreate
from backend.errors import InvalidInput, Unavailable
from backend.runtimes.config_file import (
    MQTT_AUTH_NAME,
    STRATEGY_DIR,
    build_config,
    remove_credentials_file,
    write_credentials_file,
    write_instance_files,
    write_strategy_file,
)
from backend.strategies.library import StrategyLibrary


class InstanceFiles:
    def __init__(self, data_dir: Path, library: StrategyLibrary, namespace: str, heartbeat_interval: float,
                 pnl_interval: float = 5.0, venue_endpoints: Mapping[str, tuple[str, str]] | None = None) -> None:
        self.instances_dir = data_dir / "instances"
        self.archive_dir = data_dir / "archived"
        self.library = library
        self.namespace = namespace
        self.heartbeat_interval = heartbeat_interval
        self.pnl_interval = pnl_interval
        self.venue_endpoints = dict(venue_endpoints or {})

    def folder(self, name: str) -> Path:
        return self.instances_dir / name

    def write(self, spec: InstanceCreate, folder: Path, broker: tuple[str, int],
              credentials: dict[str, Any] | None = None, mqtt_login: tuple[str, str] | None = None,
              root: Path | None = None, pinned: dict[str, int] | None = None,
              feed: str | None = None) -> tuple[Path, dict[str, int]]:
        """Write the config and the uploaded strategies' sources (the latest version, or the one `pinned` names for
        a strategy the operator reloaded with a chosen version), the credentials file and the broker login file when
        given; returns the config path and the strategies' versions. `root` is where the instance sees `folder` (a
        container's mount point; `folder` itself when None): the config's paths are written below it. `feed`: the
        host's market-data service, for a venue that takes its market data through it."""
        uploaded = self.library.latest_sources({s.strategy for s in spec.strategies})
        for name, version in (pinned or {}).items():
            if name in uploaded:
                uploaded[name] = (version, self.library.version(name, version).source)
        host, port = broker
        config = build_config(spec, root or folder, host, port, self.namespace, self.heartbeat_interval,
                              with_credentials=credentials is not None or spec.venue.live,
                              with_mqtt_auth=mqtt_login is not None, pnl_interval=self.pnl_interval,
                              venue_endpoints=self.venue_endpoints, feed=feed)
        config_path = write_instance_files(folder, config, {n: src for n, (_v, src) in uploaded.items()})
        remove_credentials_file(folder)
        if credentials is not None:
            write_credentials_file(folder, credentials)
        if mqtt_login is not None:
            write_credentials_file(folder, {"mqtt_username": mqtt_login[0], "mqtt_password": mqtt_login[1]},
                                   MQTT_AUTH_NAME)
        return config_path, {n: version for n, (version, _src) in uploaded.items()}

    def strategy_source(self, name: str, strategy: str) -> str | None:
        """The source of the uploaded strategy `strategy` in the instance's folder now; None when there is none."""
        path = self.folder(name) / STRATEGY_DIR / f"{strategy}.py"
        return path.read_text() if path.is_file() else None

    def write_strategy(self, name: str, strategy: str, source: str) -> None:
        """Put `source` in place of the uploaded strategy's file in the instance's folder (atomically)."""
        write_strategy_file(self.folder(name), strategy, source)

    def remove_credentials(self, name: str) -> None:
        """Its process has ended: the credentials and broker login it was handed go (written again at its next
        start)."""
        remove_credentials_file(self.folder(name))

    def check(self, spec: InstanceCreate, broker: tuple[str, int]) -> None:
        """Let hive_core validate the strategies' params on a throw-away copy of the config, in the sandbox of
        the uploads (it imports them); without one, hive_core checks the config when the instance starts."""
        sandbox, _how = self.library.sandboxes.get()
        if sandbox is None:
            return
        # Checked as paper: the credential a live instance signs with is handed to its process alone (the service
        # checks that it is stored, and stored for the venue).
        if spec.venue.live:
            spec = spec.model_copy(update={"venue": spec.venue.model_copy(update={"mode": "paper"})})
        with tempfile.TemporaryDirectory(prefix="hive-check-") as directory:
            config_path, _versions = self.write(spec, Path(directory), broker)
            try:
                result = hive_cli.check_config(sandbox.runner(Path(directory)), config_path)
            except hive_cli.TimedOut as error:
                raise InvalidInput("invalid_config", f"checking the config took longer than {error.seconds:g} s: "
                                   "a strategy module is slow to import") from None
            except hive_cli.CoreError as error:
                raise Unavailable("core_unavailable", f"hive_core cannot check the config: {error}") from None
            if not result.ok:
                message = result.message.replace(f"{config_path}: ", "").replace(str(config_path), "config")
                message = message.replace(f"{directory}/", "").removeprefix("config error: ")
                raise InvalidInput("invalid_config", f"the instance config is not valid: {message}")

    def remove(self, name: str) -> None:
        shutil.rmtree(self.folder(name), ignore_errors=True)

    def archive(self, name: str) -> Path:
        """Move the instance's folder (config, strategy sources, process log) to <data>/archived/<name>[-n]."""
        self.archive_dir.mkdir(parents=True, exist_ok=True)
        target = self.archive_dir / name
        suffix = 1
        while target.exists():
            suffix += 1
            target = self.archive_dir / f"{name}-{suffix}"
        source = self.folder(name)
        if source.is_dir():
            shutil.move(str(source), target)
        else:
            target.mkdir()
        return target
