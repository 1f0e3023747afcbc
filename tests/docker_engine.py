"""A real Docker engine for the tests: the one that answers (DOCKER_HOST, then the default socket), or one
started here for the test session and stopped at its end.

An engine started here is private: its own socket under a temporary folder, and the flags that keep it off the
machine's firewall and forwarding (`--iptables=false --ip-forward=false --ip-masq=false --bridge=none`), so
containers use host networking only. Its data root is kept in a cache folder, so images built once (the base,
the instance image) are there for the next session; when that folder is in use by another engine, a temporary
data root is used instead. `start_private(tls=...)` starts an engine listening on tcp:// with --tlsverify instead,
on a fresh data root, or with `keep_images` on a cached one of its own (TLS_DATA_ROOT: the images built there for
remote instances stay for the next session). With HIVE_REQUIRE_DOCKER=1 (set by CI) an engine that cannot be had
fails the tests instead of skipping them.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import docker
import docker.errors
import docker.tls

from backend.docker.hosts import connect

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hive"
DATA_ROOT = CACHE / "dockerd"
TLS_DATA_ROOT = CACHE / "dockerd-tls"
START_TIMEOUT = 30.0
PRIVATE_FLAGS = ("--iptables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none")


class EngineUnavailable(RuntimeError):
    """No engine answers and none can be started here; the message says why and what would help."""


@dataclass(frozen=True)
class TlsListener:
    """Where and how a TLS engine listens: tcp://`address` with its server certificate and key, trusting client
    certificates signed by `ca`; `client_dir` holds the client's ca.pem, cert.pem and key.pem (DOCKER_CERT_PATH)."""
    address: str  # 127.0.0.1:<port>
    ca: Path
    server_cert: Path
    server_key: Path
    client_dir: Path

    def flags(self) -> list[str]:
        return ["--tlsverify", f"--tlscacert={self.ca}", f"--tlscert={self.server_cert}", f"--tlskey={self.server_key}"]

    def client_config(self) -> docker.tls.TLSConfig:
        return docker.tls.TLSConfig(client_cert=(str(self.client_dir / "cert.pem"), str(self.client_dir / "key.pem")),
                                    ca_cert=str(self.client_dir / "ca.pem"), verify=True)


@dataclass
class Engine:
    url: str                              # what DOCKER_HOST would say: unix:///.../docker.sock or tcp://host:port
    process: subprocess.Popen | None = None  # set when the tests started it
    folder: Path | None = None
    log: Path | None = None
    tls: TlsListener | None = None
    _clients: list[docker.DockerClient] = field(default_factory=list)

    def client(self) -> docker.DockerClient:
        client = connect(self.url, 120, tls=self.tls.client_config() if self.tls else False)
        self._clients.append(client)
        return client

    def env(self) -> dict[str, str]:
        """The environment of a process (docker CLI, compose, a backend) that should use this engine."""
        if self.tls is None:
            return dict(os.environ, DOCKER_HOST=self.url)
        return dict(os.environ, DOCKER_HOST=self.url, DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(self.tls.client_dir))

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.folder is not None:
            _unmount_below(self.folder)  # dockerd leaves its network namespace mounted
            shutil.rmtree(self.folder, ignore_errors=True)


def answers(url: str, tls: TlsListener | None = None) -> bool:
    try:
        client = connect(url, 5, tls=tls.client_config() if tls else False)
    except docker.errors.DockerException:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def find_or_start() -> Engine:
    """The engine the tests use; raises EngineUnavailable with the reason when there is none."""
    for url in filter(None, (os.environ.get("DOCKER_HOST"), DEFAULT_SOCKET)):
        if answers(url):
            return Engine(url)
    return start_private()


def start_private(tls: TlsListener | None = None, keep_images: bool = False) -> Engine:
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise EngineUnavailable("no Docker engine answers and dockerd is not installed "
                                "(apt-get install docker.io, or `make docker-tools` as root)")
    if os.geteuid() != 0:
        raise EngineUnavailable("no Docker engine answers, and starting one needs root "
                                "(start dockerd, or set DOCKER_HOST to an engine)")
    folder = Path(tempfile.mkdtemp(prefix="hive-dockerd-"))
    cache = DATA_ROOT if tls is None else TLS_DATA_ROOT if keep_images else None
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    data_root = cache if cache is not None and not _in_use(cache) else folder / "data"
    url = f"unix://{folder}/docker.sock" if tls is None else f"tcp://{tls.address}"
    log = folder / "dockerd.log"
    argv = [dockerd, "--host", url, "--data-root", str(data_root), "--exec-root", str(folder / "exec"),
            "--pidfile", str(folder / "dockerd.pid"), *PRIVATE_FLAGS, *(tls.flags() if tls else [])]
    with open(log, "wb") as output:
        process = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    engine = Engine(url, process, folder, log, tls)
    if data_root == cache:  # a temporary data root is this engine's alone
        _mark_in_use(data_root, process.pid)
    deadline = time.monotonic() + START_TIMEOUT
    while not answers(url, tls):
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace").splitlines()[-15:]
            how = 'exited' if process.poll() is not None else 'timed out'
            engine.stop()
            raise EngineUnavailable(f"dockerd did not come up ({how}); "
                                    "its log ends: " + " | ".join(tail))
        time.sleep(0.1)
    return engine


def _unmount_below(folder: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(f"{folder}/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True, timeout=10)


def _in_use(data_root: Path) -> bool:
    """Another engine of ours runs on this data root (its pid is alive)."""
    try:
        pid = int((data_root / ".hive-engine.pid").read_text())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _mark_in_use(data_root: Path, pid: int) -> None:
    (data_root / ".hive-engine.pid").write_text(str(pid))


def remove_backend_containers(engine: Engine, data_dir: Path) -> None:
    """Every container the backend of `data_dir` made on `engine` (by its backend-id label), whatever state."""
    from backend.docker.labels import BACKEND, BACKEND_ID_FILE

    id_file = data_dir / BACKEND_ID_FILE
    if not id_file.exists():
        return
    label = f"{BACKEND}={id_file.read_text().strip()}"
    for container in engine.client().containers.list(all=True, filters={"label": [label]}):
        container.remove(force=True)


def prerequisite_missing(what: str, remedy: str) -> NoReturn:
    """A test that needs Docker or another of the tools `make test` installs (Mosquitto, sshd) cannot run here:
    skipped, saying what it needs and what makes it run; with HIVE_REQUIRE_DOCKER=1 (CI) it fails instead, since
    CI installs and starts all of it."""
    import pytest

    reason = f"needs {what}: {remedy}"
    if os.environ.get("HIVE_REQUIRE_DOCKER") == "1":
        pytest.fail(f"HIVE_REQUIRE_DOCKER=1 but this test {reason}")
    pytest.skip(f"{reason} (CI sets HIVE_REQUIRE_DOCKER=1 and fails instead)")
