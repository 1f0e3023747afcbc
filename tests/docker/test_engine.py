"""The test engine and the instance image: what every other Docker test stands on."""
from __future__ import annotations

from hive_core.build_info import HOT_PATH_MODULES
from tests.docker_engine import Engine


def test_instance_image_runs_compiled_hive_core_as_non_root(docker_engine: Engine, hive_core_image: str) -> None:
    client = docker_engine.client()
    image = client.images.get(hive_core_image)
    assert image.labels["org.hive.role"] == "instance"
    output = client.containers.run(hive_core_image, ["info"], network_mode="none", remove=True).decode()
    assert "interpreted" not in output and output.count("compiled (Cython)") == len(HOT_PATH_MODULES), output
    who = client.containers.run(hive_core_image, entrypoint=["id", "-u"], network_mode="none", remove=True)
    assert who.decode().strip() == "10001"
