"""What the docker runtime asks the engine for, without an engine: a named network instead of the host's (a
deployment's choice, never made by the tests), and the limits of the create request as engine options."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from backend.docker import labels
from backend.domain.instances import InstanceCreate
from backend.runtimes.docker import DockerRuntime
from tests.docker.local_hosts import local_hosts

IMAGE = SimpleNamespace(tags=["hive/hive-core:0.1.0"], id="sha256:1", labels={labels.VERSION: "0.1.0"})


def options(tmp_path: Path, network: str | None, **spec) -> dict:
    hosts = local_hosts("unix:///nowhere.sock", tmp_path / "hosts")
    runtime = DockerRuntime(hosts, "b1", "hive/hive-core:0.1.0", network)
    create = InstanceCreate(name="bot", runtime="docker", strategies=[{"id": "mm", "strategy": "market_maker"}],
                            **spec)
    return runtime._options(create, "bot", IMAGE, tmp_path, "10001:10001")


def test_host_networking_unless_a_network_is_named(tmp_path: Path) -> None:
    assert options(tmp_path, None)["network_mode"] == "host" and "network" not in options(tmp_path, None)
    named = options(tmp_path, "hive-segment")
    assert named["network"] == "hive-segment" and "network_mode" not in named


def test_limits_become_engine_options_and_none_leaves_the_engines_default(tmp_path: Path) -> None:
    limited = options(tmp_path, None, limits={"cpus": 1.5, "memory_mb": 512, "pids": 128, "log_max_mb": 20})
    assert (limited["nano_cpus"], limited["mem_limit"], limited["memswap_limit"], limited["pids_limit"]) == \
        (1_500_000_000, 512 * 2**20, 512 * 2**20, 128)
    assert limited["log_config"]["Config"] == {"max-size": "20m", "max-file": "3"}
    default = options(tmp_path, None)
    assert not {"nano_cpus", "mem_limit", "memswap_limit", "pids_limit"} & set(default)
    assert default["labels"] == {labels.MANAGED: "true", labels.BACKEND: "b1", labels.INSTANCE: "bot",
                                 labels.ROLE: "instance", labels.IMAGE: "hive/hive-core:0.1.0",
                                 labels.VERSION: "0.1.0"}
    assert default["command"] == ["run", "--config", "/instance/config.yml"]
