"""An ssh:// Docker host against a real sshd: a private one on 127.0.0.1 started here (Debian's openssh-server), with
its host key and the one client key it accepts made by ssh-keygen, in front of the test engine. The backend logs in as
this machine's user with that user's ~/.ssh, as in production (HOME points at a folder made here); on the far side
`docker system dial-stdio` finds the test engine's socket through DOCKER_HOST, which the authorized_keys line sets
(`environment=`, allowed by PermitUserEnvironment)."""
from __future__ import annotations

import getpass
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from backend.docker import labels
from tests.backend.conftest import REAL_CORE, RunningBackend, make_settings, serve
from tests.backend.test_api_instances import wait_state
from tests.conftest import free_port, wait_for_port
from tests.docker.teardown import tear_down
from tests.docker.test_hosts import backend  # noqa: F401 (the fixture: a backend on the test engine)
from tests.docker.test_remote_host import QUIET, START_TIMEOUT
from tests.docker_engine import Engine, prerequisite_missing

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SSHD = Path("/usr/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")  # sshd refuses to start without it; the package's service makes it, not its install
HOST = "over-ssh"
TAG = secrets.token_hex(3)  # the test engine is shared: every name made here carries it


@dataclass(frozen=True)
class Sshd:
    url: str
    port: int
    folder: Path
    host_key: Path      # its private host key (.pub beside it)
    client_key: Path    # the one key in its authorized_keys

    def known_line(self, host_key: Path | None = None) -> str:
        """The known_hosts line of this server (of `host_key` instead, to stand for another machine)."""
        key_type, key = (host_key or self.host_key).with_suffix(".pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {key_type} {key}\n"


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hive-test", "-f", str(path)], check=True,
                   timeout=30)
    return path


@pytest.fixture(scope="module")
def sshd(docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    if not SSHD.exists():
        prerequisite_missing("Debian's openssh-server", "apt-get install openssh-server (`make docker-tools`)")
    if not PRIVSEP_DIR.is_dir():
        if os.geteuid() != 0:
            prerequisite_missing(f"sshd's {PRIVSEP_DIR}", f"make it as root (mkdir -m 755 {PRIVSEP_DIR})")
        PRIVSEP_DIR.mkdir(mode=0o755)
    folder = tmp_path_factory.mktemp("sshd")
    host_key, client_key = keygen(folder / "host_key"), keygen(folder / "client_key")
    public = client_key.with_suffix(".pub").read_text().strip()
    (folder / "authorized_keys").write_text(f'environment="DOCKER_HOST={docker_engine.url}" {public}\n')
    port = free_port()
    (folder / "sshd_config").write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}", f"PidFile {folder / 'sshd.pid'}",
        f"AuthorizedKeysFile {folder / 'authorized_keys'}", f"AllowUsers {getpass.getuser()}",
        "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
        "PermitRootLogin prohibit-password", "PermitUserEnvironment yes",
        "StrictModes no",  # its files are below /tmp, which is world-writable
    ]) + "\n")
    with open(folder / "sshd.log", "wb") as log:
        process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(folder / "sshd_config")], stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        wait_for_port("127.0.0.1", port)
        yield Sshd(f"ssh://{getpass.getuser()}@127.0.0.1:{port}", port, folder, host_key, client_key)
    finally:
        process.terminate()
        process.wait(timeout=10)


def ssh_home(monkeypatch: pytest.MonkeyPatch, folder: Path, key: Path, known_hosts: str) -> Path:
    """The backend user's home as paramiko reads it: ~/.ssh/id_ed25519 and ~/.ssh/known_hosts, no agent."""
    ssh = folder / ".ssh"
    ssh.mkdir(mode=0o700, parents=True)
    (ssh / "id_ed25519").write_bytes(key.read_bytes())
    os.chmod(ssh / "id_ed25519", 0o600)
    (ssh / "known_hosts").write_text(known_hosts)
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return ssh


# --- health ------------------------------------------------------------------------------------------------------
def test_an_ssh_host_is_healthy_with_the_version_of_the_engine_behind_it(
        backend: RunningBackend, sshd: Sshd, docker_engine: Engine, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    ssh_home(monkeypatch, tmp_path, sshd.client_key, sshd.known_line())

    added = backend.client.add_host(HOST, sshd.url)

    assert added["health"]["status"] == "ok", added["health"]
    assert added["health"]["version"] == docker_engine.client().version()["Version"]
    assert (added["tls"], added["note"]) == (False, None)  # 127.0.0.1: the backend's broker address is right


def test_an_unknown_host_key_is_refused_in_words_and_not_learned(
        backend: RunningBackend, sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    ssh = ssh_home(monkeypatch, tmp_path, sshd.client_key, known_hosts="")

    health = backend.client.add_host(HOST, sshd.url)["health"]

    assert health["status"] == "unreachable"
    assert health["error"].startswith(f"ssh: the host key of 127.0.0.1:{sshd.port} is unknown (not in the backend "
                                      "user's ~/.ssh/known_hosts)"), health
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1" in health["error"]
    assert (ssh / "known_hosts").read_text() == ""  # never accepted on first sight


def test_a_host_key_other_than_the_known_one_is_refused_in_words(
        backend: RunningBackend, sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    impostor = keygen(tmp_path / "other_host_key")
    ssh_home(monkeypatch, tmp_path, sshd.client_key, sshd.known_line(impostor))

    health = backend.client.add_host(HOST, sshd.url)["health"]

    assert health["status"] == "unreachable"
    assert health["error"].startswith(f"ssh: the host key of 127.0.0.1:{sshd.port} is not the one in the backend "
                                      "user's ~/.ssh/known_hosts"), health


def test_a_key_the_server_does_not_accept_is_a_refused_login_in_words(
        backend: RunningBackend, sshd: Sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    stranger = keygen(tmp_path / "stranger_key")
    ssh_home(monkeypatch, tmp_path, stranger, sshd.known_line())

    health = backend.client.add_host(HOST, sshd.url)["health"]

    assert health["status"] == "unreachable"
    assert health["error"].startswith(f"ssh: {sshd.url} refused the login: none of the backend user's keys"), health


# --- an instance -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ssh_backend(sshd: Sshd, docker_engine: Engine, hive_core_image: str,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBackend]:
    """A backend with a real core and its broker, the ssh host added, and a strategy that does nothing."""
    data_dir = tmp_path_factory.mktemp("ssh-host") / "data"
    data_dir.mkdir()
    settings = make_settings(data_dir, core_command=REAL_CORE, docker_host=docker_engine.url, heartbeat_interval=1.0,
                             heartbeat_timeout=6.0, start_timeout=30.0, stop_grace=8.0)
    engine = docker_engine.client()
    with pytest.MonkeyPatch.context() as monkeypatch:
        ssh_home(monkeypatch, tmp_path_factory.mktemp("home"), sshd.client_key, sshd.known_line())
        backend = serve(settings)
        try:
            backend.client.start_broker()
            assert backend.client.add_host(HOST, sshd.url)["health"]["status"] == "ok"
            backend.client.upload_strategy(f"quiet{TAG}.py", QUIET)
            yield backend
        finally:
            tear_down(backend, data_dir, [engine])


def test_an_instance_on_the_ssh_host_runs_from_a_volume_and_is_stopped_and_deleted(
        ssh_backend: RunningBackend, docker_engine: Engine) -> None:
    client, engine, name = ssh_backend.client, docker_engine.client(), f"s{TAG}"

    client.create_instance({"name": name, "runtime": "docker", "host": HOST,
                            "strategies": [{"id": "q", "strategy": f"quiet{TAG}"}]})
    running = wait_state(client, name, "running", timeout=START_TIMEOUT)

    assert running["host"] == HOST
    attrs = engine.containers.get(f"{labels.NAME_PREFIX}{name}").attrs
    assert attrs["State"]["Running"]
    assert sorted((m["Type"], m["Name"]) for m in attrs["Mounts"]) == [  # files copied over ssh, the journal kept
        ("volume", f"hive-{name}"), ("volume", f"hive-{name}-journal")]
    client.stop_instance(name)
    wait_state(client, name, "stopped", timeout=20)
    client.delete_instance(name)
    assert engine.volumes.list(filters={"name": f"hive-{name}"}) == []
