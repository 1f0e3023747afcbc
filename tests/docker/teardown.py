"""The end of a test backend that drove Docker: its broker and itself stopped, every container and volume it made
removed from the engines it used (by its backend-id label), and whatever outlived it killed."""
from __future__ import annotations

from pathlib import Path

import docker

from backend.client import BackendError
from backend.docker import labels
from tests.backend.conftest import RunningBackend, kill_leftovers


def tear_down(backend: RunningBackend, data_dir: Path, engines: list[docker.DockerClient]) -> None:
    broker = backend.services.broker._backend
    broker_pids = {broker.pid} if broker is not None and broker.pid else set()
    try:
        backend.client.stop_broker()
    except BackendError:
        pass
    if backend.thread.is_alive():
        backend.stop()
    ours = labels.label_filter(labels.ours(labels.backend_id(data_dir)))
    for engine in engines:
        for container in engine.containers.list(all=True, filters={"label": ours}):
            container.remove(force=True)
        for volume in engine.volumes.list(filters={"label": ours}):
            volume.remove(force=True)
    kill_leftovers(data_dir, broker_pids)
