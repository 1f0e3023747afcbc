"""The Docker endpoints the backend drives, by name. `local` is the engine of HIVE_DOCKER_HOST, else DOCKER_HOST,
else the default socket. Clients are made on first use and kept; an engine that does not answer raises
Unavailable with what to do."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import docker
import docker.errors

from backend.errors import NotFound, Unavailable

LOCAL = "local"
DEFAULT_URL = "unix:///var/run/docker.sock"
CLIENT_TIMEOUT = 60  # s per engine call (builds stream their progress and take longer: they pass their own)


@dataclass(frozen=True)
class DockerHost:
    name: str
    url: str


class DockerHosts:
    def __init__(self, local_url: str | None = None) -> None:
        url = local_url or os.environ.get("DOCKER_HOST") or DEFAULT_URL
        self._hosts: dict[str, DockerHost] = {LOCAL: DockerHost(LOCAL, url)}
        self._clients: dict[str, docker.DockerClient] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return list(self._hosts)

    def get(self, name: str) -> DockerHost:
        try:
            return self._hosts[name]
        except KeyError:
            raise NotFound("unknown_host", f"unknown Docker host {name!r}; known: {', '.join(self._hosts)}") from None

    def client(self, name: str = LOCAL) -> docker.DockerClient:
        host = self.get(name)
        with self._lock:
            client = self._clients.get(name)
            if client is None:
                try:
                    client = docker.DockerClient(base_url=host.url, timeout=CLIENT_TIMEOUT)
                except docker.errors.DockerException as error:
                    raise Unavailable("docker_unreachable",
                                      f"Docker host {name!r} ({host.url}) cannot be used: {error}") from None
                self._clients[name] = client
            return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
