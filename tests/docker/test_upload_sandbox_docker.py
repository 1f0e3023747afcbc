"""With validation_sandbox=docker, an upload is imported in a throwaway container of the instance image: no
network, read-only root, the image's unprivileged user, removed afterwards; a slow import is cut at the bound."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from backend.client import BackendError
from backend.docker import labels
from tests.backend.test_upload_sandbox import strategy_doing
from tests.docker_engine import Engine


@pytest.mark.slow  # waits out the 5 s bound
def test_uploads_are_validated_in_a_throwaway_container(backend_factory, docker_engine: Engine,
                                                        hive_core_image: str, tmp_path: Path) -> None:
    backend = backend_factory(docker_host=docker_engine.url, validation_sandbox="docker")
    client = backend.client
    marker = tmp_path / "written-at-import"
    probe = strategy_doing("import os\nassert (os.getuid(), os.path.exists('/root')) == (10001, True)\n"
                           f"open('/tmp/scratch', 'w').close()\nassert not os.path.exists({str(marker)!r})")
    detail = client.upload_strategy("boxed.py", probe)
    assert detail["validation"] == "imported in the docker sandbox" and detail["description"] == "Probes the sandbox."

    store = backend.settings.data_dir / "hive.db"
    with pytest.raises(BackendError) as raised:
        client.upload_strategy("reader.py", strategy_doing(f"open({str(store)!r}, 'rb').read()"))
    assert "FileNotFoundError" in raised.value.message
    with pytest.raises(BackendError) as raised:
        client.upload_strategy("caller.py", strategy_doing(
            "import socket\nsocket.create_connection(('127.0.0.1', 1883), timeout=2)"))
    assert "OSError" in raised.value.message or "ConnectionRefusedError" in raised.value.message

    started = time.monotonic()
    with pytest.raises(BackendError) as raised:
        client.save_strategy("boxed", strategy_doing("import time\ntime.sleep(60)"))
    assert time.monotonic() - started < 15
    assert raised.value.message.startswith("importing the module took longer than 5 s: the docker sandbox was stopped")
    assert client.get_strategy("boxed")["version"] == 1
    left = docker_engine.client().containers.list(all=True, filters={"label": f"{labels.ROLE}=validation"})
    assert left == []
