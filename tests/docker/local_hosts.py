"""DockerHosts as the backend builds it, for tests that need the Docker hosts without a backend: `local` on
the given engine, its store (none added) and key in `folder`."""
from __future__ import annotations

from pathlib import Path

from backend.credentials.key import KEY_FILE, KeyLocation
from backend.credentials.service import CredentialService
from backend.docker.hosts import DockerHosts
from backend.store import Store


def local_hosts(url: str, folder: Path) -> DockerHosts:
    folder.mkdir(parents=True, exist_ok=True)
    store = Store(f"sqlite:///{folder / 'hive.db'}")
    return DockerHosts(url, store, CredentialService(store, KeyLocation(folder / KEY_FILE, None)), folder, "tests")
