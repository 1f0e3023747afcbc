"""The Instances page with the docker runtime, the backend as its own process on the test engine: the create form
offers the host, the image and the limits, the instance runs as a container with those limits, the fleet table and
the detail say where it runs, and the Docker section lists the host with its health and the instance image."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import CONFIG
from backend.client import HiveClient
from backend.docker.labels import INSTANCE
from tests.docker_engine import Engine, remove_backend_containers
from tests.frontend.backend_process import BackendProcess
from tests.frontend.helpers import badges, errors, log_in, new_app, rerun_until

pytestmark = pytest.mark.slow
PAGE = "pages/instances/app.py"


@pytest.fixture
def backend(tmp_path: Path, docker_engine: Engine, hive_core_image: str) -> Iterator[BackendProcess]:
    server = BackendProcess(tmp_path / "data")
    server.env["HIVE_DOCKER_HOST"] = docker_engine.url
    server.start()
    client = HiveClient(server.url, server.username, server.password)
    client.start_broker()
    client.close()
    yield server
    server.stop()
    remove_backend_containers(docker_engine, server.data_dir)


def test_a_docker_instance_created_in_the_form_runs_with_its_limits_where_the_page_says(
        backend: BackendProcess, monkeypatch: pytest.MonkeyPatch, docker_engine: Engine, hive_core_image: str) -> None:
    monkeypatch.setattr(CONFIG, "BACKEND_URL", backend.url)
    at: AppTest = log_in(new_app().run(), backend.username, backend.password).switch_page(PAGE).run()
    assert not errors(at)
    at.text_input(key="instances_create_name").input("pagebox")
    at.selectbox(key="instances_create_strategy_0").select("market_maker")
    at.selectbox(key="instances_create_runtime").select("docker").run()
    assert at.selectbox(key="instances_create_host").value == "local"
    assert hive_core_image in at.selectbox(key="instances_create_image").options
    at.selectbox(key="instances_create_image").select(hive_core_image)
    at.number_input(key="instances_create_memory").set_value(256)
    at.number_input(key="instances_create_cpus").set_value(0.5)
    at.button(key="instances_create_submit").click().run()
    assert not errors(at)

    at = rerun_until(at, lambda page: badges(page)[:1] == ["Running"], timeout=60)
    assert any("docker runtime on local" in caption.value and hive_core_image in caption.value
               for caption in at.caption)
    (container,) = docker_engine.client().containers.list(filters={"label": [f"{INSTANCE}=pagebox"]})
    config = container.attrs["HostConfig"]
    assert config["Memory"] == 256 * 2**20 and config["NanoCpus"] == 500_000_000

    frames = [frame.value for frame in at.dataframe]  # the fleet table, the Docker hosts and the images
    assert any("Runtime" in frame.columns and (frame["Runtime"] == "docker @ local").any() for frame in frames)
    assert any("Health" in frame.columns and (frame["Health"] == "ok").any() for frame in frames)
    assert any("Image" in frame.columns and frame["Image"].str.contains(hive_core_image).any() for frame in frames)
