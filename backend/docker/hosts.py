"""The Docker endpoints the backend drives, by name, and each one's health (health.py).

`local` is the engine of HIVE_DOCKER_HOST, else DOCKER_HOST, else the default socket; it always exists and cannot
be deleted. The operator adds others (unix://, tcp:// with TLS, ssh://), kept in the store: a tcp:// host's CA,
client certificate and key sealed with the credentials key, written to 0600 files under
`<data_dir>/docker-hosts/<name>/` only when a client is made (the SDK reads them from files), and never returned.
Clients are made on first use and kept; an engine that does not answer raises Unavailable with what to do.
An ssh:// host is reached through paramiko (the SDK's own ssh transport) as the backend's user, with that user's
~/.ssh: its keys or agent to log in, its known_hosts to know the machine (an unknown host key is refused).
"""
from __future__ import annotations

import ipaddress
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import docker
import docker.constants
import docker.errors
import docker.tls
import paramiko
import requests
from sqlalchemy.orm import Session

from backend.docker.health import HealthChecker, describe_failure
from backend.domain.docker_hosts import DockerHostCreate, DockerHostOut, HostHealth
from backend.errors import Conflict, NotFound, Unavailable
from backend.store import AuditRow, DockerHostRow, Store
from backend.store.repositories.docker_hosts import DockerHostRepository
from backend.store.repositories.events import EventRepository
from backend.store.repositories.instances import InstanceRepository

log = logging.getLogger(__name__)

LOCAL = "local"
DEFAULT_URL = "unix:///var/run/docker.sock"
CLIENT_TIMEOUT = 60  # s per engine call (builds stream their progress and take longer: they pass their own)
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")
# Each pooled connection of an ssh:// client is a session of its one ssh connection, and sshd refuses more than
# MaxSessions (10 by default: "no more sessions"). The SDK keeps a pool per request URL (9 of them, 10 connections
# each), which a few threads on one host soon exceed; 4 pools of 2 keep 8 sessions open at most.
SSH_POOLS = 4
SSH_POOL_SIZE = 2


@dataclass(frozen=True)
class DockerHost:
    name: str
    url: str
    broker_host: str | None = None  # how its instances reach the broker; None: the backend's own broker address
    tls: bool = False               # TLS material is stored for it
    created_at: float | None = None  # None for local

    @property
    def on_this_machine(self) -> bool:
        """Its engine sees this machine's files, so instances get their folder as a bind mount: a unix:// socket is on
        this machine. A tcp:// or ssh:// engine may be anywhere (tcp://127.0.0.1 may be a tunnel), so its instances
        get a copy of their files in a volume instead (runtimes/docker.py)."""
        return urlsplit(self.url).scheme == "unix"


class Sealer(Protocol):
    """Encrypts with the credentials key (backend/credentials/service.py's CredentialService)."""

    def seal_text(self, plain: str) -> str: ...

    def open_text(self, ciphertext: str, what: str) -> str: ...


class DockerHosts:
    def __init__(self, local_url: str | None, store: Store, sealer: Sealer, data_dir: Path, backend: str,
                 health_interval: float = 10.0) -> None:
        url = local_url or os.environ.get("DOCKER_HOST") or DEFAULT_URL
        self.store = store
        self._sealer = sealer
        self._tls_root = data_dir / "docker-hosts"
        self._hosts: dict[str, DockerHost] = {LOCAL: DockerHost(LOCAL, url)}
        with store.session() as session:
            for row in DockerHostRepository(session).all():
                self._hosts[row.name] = _host(row)
        self._clients: dict[str, docker.DockerClient] = {}
        self._lock = threading.RLock()
        self.health = HealthChecker(self._connect, self.names, lambda name: self.get(name).url, backend,
                                    health_interval)

    # --- what the runtimes use -------------------------------------------------------------------------
    def names(self) -> list[str]:
        with self._lock:
            return list(self._hosts)

    def get(self, name: str) -> DockerHost:
        with self._lock:
            try:
                return self._hosts[name]
            except KeyError:
                raise NotFound("unknown_host", f"unknown Docker host {name!r}; known: "
                                               f"{', '.join(self._hosts)}") from None

    def client(self, name: str = LOCAL) -> docker.DockerClient:
        with self._lock:
            client = self._clients.get(name)
            if client is None:
                try:
                    client = self._connect(name, CLIENT_TIMEOUT)
                except docker.errors.DockerException as error:
                    url = self.get(name).url
                    raise Unavailable("docker_unreachable", f"Docker host {name!r} ({url}) cannot be used: "
                                                            f"{describe_failure(error, url)}") from None
                self._clients[name] = client
            return client

    # --- what the operator sees and does ------------------------------------------------------------
    def all(self) -> list[DockerHostOut]:
        return [self._out(name, self.health.get(name)) for name in self.names()]

    def describe(self, name: str) -> DockerHostOut:
        self.get(name)
        return self._out(name, self.health.get(name))

    def add(self, spec: DockerHostCreate, actor: str) -> DockerHostOut:
        """Keep the host, then test the connection once: an unreachable host is kept too, with its health."""
        with self._lock, self.store.session() as session:
            hosts = DockerHostRepository(session)
            if spec.name in self._hosts:
                raise Conflict("duplicate_name", f"a Docker host named {spec.name!r} already exists "
                                                 f"({self._hosts[spec.name].url}); choose another name, or delete it "
                                                 "first")
            tls = json.dumps({"ca": spec.ca_pem(), "cert": spec.cert_pem(), "key": spec.key_pem()})
            row = DockerHostRow(name=spec.name, url=spec.url, broker_host=spec.broker_host, created_at=time.time(),
                                tls_ciphertext=self._sealer.seal_text(tls) if spec.url.startswith("tcp://") else None)
            hosts.add(row)
            _audit(session, actor, "added", f"{spec.name} ({spec.url})")
            self._hosts[spec.name] = _host(row)
        return self._out(spec.name, self.health.check(spec.name))

    def delete(self, name: str, actor: str) -> None:
        if name == LOCAL:
            raise Conflict("local_host", "the local Docker host cannot be deleted: it is the engine of "
                                             "HIVE_DOCKER_HOST (else DOCKER_HOST, else the default socket)")
        with self._lock, self.store.session() as session:
            row = DockerHostRepository(session).get(name)
            if row is None:
                raise NotFound("unknown_host", f"unknown Docker host {name!r}; known: {', '.join(self._hosts)}")
            users = InstanceRepository(session).host_users(name)
            if users:
                raise Conflict("host_in_use", f"Docker host {name!r} runs instance{'s' if len(users) > 1 else ''} "
                                              f"{', '.join(users)}; delete {'them' if len(users) > 1 else 'it'} "
                                              "first")
            DockerHostRepository(session).delete(row)
            _audit(session, actor, "deleted", f"{name} ({row.url})")
            del self._hosts[name]
            client = self._clients.pop(name, None)
        if client is not None:
            client.close()
        shutil.rmtree(self._tls_root / name, ignore_errors=True)
        self.health.forget(name)

    # --- life ----------------------------------------------------------------------------------------
    def start(self) -> None:
        self.health.start()

    def close(self) -> None:
        self.health.stop()
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    # --- inside --------------------------------------------------------------------------------------
    def _connect(self, name: str, timeout: float) -> docker.DockerClient:
        """A new client of `name` (the caller keeps or closes it). Making one asks the engine its API version, so an
        engine that does not answer raises DockerException."""
        host = self.get(name)
        options: dict = {}
        if host.url.startswith("ssh://"):
            options.update(num_pools=SSH_POOLS, max_pool_size=SSH_POOL_SIZE)
        if host.tls:
            ca, cert, key = self._tls_files(host)
            options["tls"] = docker.tls.TLSConfig(client_cert=(str(cert), str(key)), ca_cert=str(ca), verify=True)
        return connect(host.url, timeout, **options)

    def _tls_files(self, host: DockerHost) -> tuple[Path, Path, Path]:
        """The host's TLS material in 0600 files of a 0700 folder, written from the sealed copy; each file is
        replaced whole, so a client reading it meanwhile never sees half of one."""
        with self.store.session() as session:
            row = DockerHostRepository(session).get(host.name)
            sealed = row.tls_ciphertext if row is not None else None
        if sealed is None:
            raise NotFound("unknown_host", f"Docker host {host.name!r} has no TLS material stored")
        material = json.loads(self._sealer.open_text(sealed, f"TLS material of Docker host {host.name!r}"))
        folder = self._tls_root / host.name
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        paths = []
        for file_name, part in zip(TLS_FILES, ("ca", "cert", "key"), strict=True):
            path = folder / file_name
            descriptor, staged = tempfile.mkstemp(dir=folder, prefix=f".{file_name}.")  # mode 0600
            with os.fdopen(descriptor, "w") as file:
                file.write(material[part])
            os.replace(staged, path)
            paths.append(path)
        return paths[0], paths[1], paths[2]

    def _out(self, name: str, health: HostHealth) -> DockerHostOut:
        host = self.get(name)
        return DockerHostOut(name=host.name, url=host.url, tls=host.tls, broker_host=host.broker_host,
                             removable=name != LOCAL, created_at=host.created_at, note=_note(host), health=health)


def connect(url: str, timeout: float, **options: Any) -> docker.DockerClient:
    """A client of the engine at `url` speaking its API version, that ignores the environment.

    requests lets REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE replace the CA a session is given (and HTTPS_PROXY reroute
    it), which breaks TLS to an engine with its own CA; the SDK's version="auto" asks the engine before the
    session can be told not to trust the environment, so the version is asked first by a client of the oldest API.
    Raises DockerException (its cause says why) when the engine does not answer. ssh:// goes through paramiko, not
    the ssh binary (use_ssh_client): paramiko's errors say what failed (the binary's go to the backend's stderr and
    the SDK sees a closed pipe), its channels honour the timeout (the SDK reads the binary's output without one),
    and the SDK gives it ~/.ssh/known_hosts with a policy that refuses a host key it does not find there.
    """
    try:
        probe = docker.DockerClient(base_url=url, timeout=timeout, version=docker.constants.MINIMUM_DOCKER_API_VERSION,
                                    **options)
        probe.api.trust_env = False
        try:
            version = probe.api.version(api_version=False)["ApiVersion"]
        finally:
            probe.close()
    except requests.exceptions.RequestException as error:
        raise docker.errors.DockerException(f"Error while fetching server API version: {error}") from error
    except paramiko.ssh_exception.NoValidConnectionsError as error:  # says only "Unable to connect"; its errors why
        raise docker.errors.DockerException(f"ssh: {'; '.join(map(str, error.errors.values()))}") from error
    except (paramiko.SSHException, OSError) as error:  # while logging in: the host key, the user's keys, the network
        raise docker.errors.DockerException(f"ssh: {error}") from error
    client = docker.DockerClient(base_url=url, timeout=timeout, version=version, **options)
    client.api.trust_env = False
    return client


def _host(row: DockerHostRow) -> DockerHost:
    return DockerHost(row.name, row.url, row.broker_host, row.tls_ciphertext is not None, row.created_at)


def _note(host: DockerHost) -> str | None:
    """A remote engine whose instances would be told the backend's broker address, which may be its loopback."""
    address = urlsplit(host.url).hostname
    if host.name == LOCAL or host.broker_host or address is None or _loopback(address):
        return None
    return (f"instances on {address} are told the backend's broker address; if that is 127.0.0.1 or another "
            "address they cannot reach, set broker_host to one they can")


def _loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _audit(session: Session, actor: str, outcome: str, detail: str) -> None:
    """Who added or deleted which Docker host: its name and URL, never its TLS material."""
    log.info("audit: %s docker host %s %s", actor, outcome, detail)
    EventRepository(session).add_audit(AuditRow(ts=time.time(), actor=actor, action="docker_host", outcome=outcome,
                                                detail=detail))
