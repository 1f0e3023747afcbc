"""Helpers for hive_core tests: instance configs on disk, hive_core as a real subprocess."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO_ROOT, EmbeddedBroker
from tests.mqtt_probe import MqttProbe
from tests.polling import wait_until

# CI builds with HIVE_REQUIRE_COMPILED=1: there, the compiled hot paths must be the ones imported.
REQUIRE_COMPILED = os.environ.get("HIVE_REQUIRE_COMPILED") == "1"

# Strategy files the integration tests drop into a strategy dir.
TAKER_STRATEGY = '''
from pydantic import Field
from hive_core.strategy import Strategy

class Taker(Strategy):
    """Buys with a market order every tick, sells every other tick (so it always fills)."""

    class Params(Strategy.Params):
        amount: float = Field(0.05, gt=0)

    def on_start(self):
        self.n = 0

    def on_tick(self, now):
        self.n += 1
        side = "BUY" if self.n % 2 else "SELL"
        self.ctx.orders.place_market(side, self.ctx.params.amount)
'''

BROKEN_TICK_STRATEGY = '''
from hive_core.strategy import Strategy

class Broken(Strategy):
    """Fails on every tick."""

    def on_tick(self, now):
        raise ZeroDivisionError("tick failed on purpose")
'''


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def instance_config(broker: EmbeddedBroker | None, strategies: list[dict], *, instance_id: str | None = None,
                    port: int | None = None, **bridge: Any) -> dict[str, Any]:
    """A config dict for tests: fast heartbeats, seeded sim, the test broker."""
    settings = {"mqtt_host": "127.0.0.1", "mqtt_port": port or (broker.port if broker else 1883),
                "mqtt_heartbeat_interval": 1.0, "mqtt_performance_interval": 0.5}
    if broker is not None:  # the test broker's login (every right)
        settings.update(mqtt_username=broker.login.username, mqtt_password=broker.login.password)
    settings.update(bridge)
    return {
        "instance_id": instance_id or f"t{uuid.uuid4().hex[:8]}",
        "strategies": strategies,
        "venue": {"seed": 11, "trading_pairs": ["BTC-USDT"]},
        "mqtt_bridge": settings,
        "log_level": "INFO",
    }


def wait_answering(probe: MqttProbe, prefix: str, timeout: float = 20.0) -> None:
    """Wait until the instance under `prefix` answers a `status` command with 200: its strategies run (the bridge
    answers before they start). Its command and external-event topics are subscribed in one SUBSCRIBE, so what a
    test publishes to them next reaches it. `probe` must see the replies' topics (`ready/...`), as the
    `mqtt_probe` fixture, subscribed to everything, does."""
    def answers() -> bool:
        reply_to = f"ready/{uuid.uuid4().hex}"
        probe.publish(f"{prefix}/status", {"header": {"reply_to": reply_to}, "data": {}})
        try:
            [reply] = probe.wait_for(reply_to, timeout=1.0)
        except AssertionError:
            return False
        return reply.json().get("data", {}).get("status") == 200  # 400 while its strategies have not started

    wait_until(answers, timeout, interval=0, message=f"{prefix} answering commands")


class HiveProcess:
    """`python -m hive_core run --config FILE` as a subprocess; stderr kept in a file."""

    def __init__(self, config_path: Path, log_path: Path) -> None:
        self.config_path = config_path
        self.log_path = log_path
        self.instance_id = yaml.safe_load(config_path.read_text())["instance_id"]
        self.prefix = f"hbot/{self.instance_id}"
        self._log = open(log_path, "wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen([sys.executable, "-m", "hive_core", "run", "--config", str(config_path)],
                                        cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        self._log.close()


@pytest.fixture
def spawn_hive(tmp_path: Path) -> Iterator:
    """spawn_hive(config_dict) -> a running HiveProcess; every process is killed at teardown."""
    started: list[HiveProcess] = []

    def spawn(config: dict[str, Any]) -> HiveProcess:
        index = len(started)
        path = write_config(tmp_path / f"instance{index}.yml", config)
        hive = HiveProcess(path, tmp_path / f"instance{index}.log")
        started.append(hive)
        return hive

    yield spawn
    for hive in started:
        hive.close()


@pytest.fixture
def strategy_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "strategies"
    directory.mkdir()
    (directory / "taker.py").write_text(textwrap.dedent(TAKER_STRATEGY))
    (directory / "broken_tick.py").write_text(textwrap.dedent(BROKEN_TICK_STRATEGY))
    return directory


def run_cli(*args: str, cwd: Path = REPO_ROOT, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hive_core", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
