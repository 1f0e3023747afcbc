"""Several Docker hosts through the API, against real engines: the test engine as `local`, and a second private
engine on tcp://127.0.0.1 with --tlsverify and certificates made here (tests/docker/certificates.py)."""
from __future__ import annotations

import io
import json
import os
import stat
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from backend.client import BackendError, HiveClient
from backend.docker.health import CHECK_TIMEOUT
from backend.docker.labels import backend_id, ours
from backend.store import DockerHostRow, InstanceRow
from tests.backend.conftest import RunningBackend, backend_factory, data_dir  # noqa: F401 (fixtures)
from tests.conftest import free_port
from tests.docker.certificates import authority
from tests.docker.conftest import Pki
from tests.docker_engine import Engine
from tests.polling import wait_until

pytestmark = pytest.mark.slow  # engines started and stopped, a backend per test: about 6 s in all

HEALTH_INTERVAL = 0.5


@pytest.fixture(scope="module")
def remote(tls_engine_factory: Callable[[], Engine]) -> Engine:
    return tls_engine_factory()


@pytest.fixture
def backend(backend_factory, docker_engine: Engine) -> RunningBackend:  # noqa: F811 (the imported fixture)
    return backend_factory(docker_host=docker_engine.url, docker_health_interval=HEALTH_INTERVAL)


def refused(call: Callable, *args, **kwargs) -> BackendError:
    with pytest.raises(BackendError) as raised:
        call(*args, **kwargs)
    return raised.value


def add_remote(client: HiveClient, name: str, engine: Engine, pki: Pki, **overrides) -> dict:
    given = dict(ca=pki.ca.pem, cert=pki.client.cert, key=pki.client.key, broker_host="127.0.0.1")
    given.update(overrides)
    return client.add_host(name, engine.url, **given)


def assert_no_tls_material(answer: object, pki: Pki) -> None:
    text = json.dumps(answer)
    assert "PRIVATE KEY" not in text and "BEGIN CERTIFICATE" not in text, text
    assert pki.client.key not in text and pki.client.cert not in text and pki.ca.pem not in text


def test_a_tls_host_is_added_healthy_with_its_version_and_never_shows_its_key(backend: RunningBackend, remote: Engine,
                                                                           pki: Pki) -> None:
    client = backend.client
    engine_client = remote.client()
    ours_labels = ours(backend_id(backend.settings.data_dir))
    image = _empty_image(engine_client)
    hive_container = engine_client.containers.create(image, command=["x"], labels=ours_labels, name="hive-hosts-a")
    other_container = engine_client.containers.create(image, command=["x"], name="hosts-not-hive")
    try:
        added = add_remote(client, "second", remote, pki)

        health = added["health"]
        assert (added["name"], added["url"], added["tls"], added["broker_host"], added["removable"]) == (
            "second", remote.url, True, "127.0.0.1", True)
        assert health["status"] == "ok", health
        assert health["version"] == engine_client.version()["Version"] and health["api_version"]
        assert (health["containers"], health["running"]) == (1, 0)  # ours only: not the container without labels
        assert health["latency_ms"] > 0 and health["error"] is None
        assert time.time() - health["checked_at"] < 10
        hosts = client.list_hosts()
        assert [h["name"] for h in hosts] == ["local", "second"]
        assert hosts[0]["url"] == backend.settings.docker_host and not hosts[0]["removable"]
        wait_until(lambda: client.get_host("local")["health"]["status"] == "ok", 10, message="local checked ok")
        for answer in (added, hosts, client.get_host("second")):
            assert_no_tls_material(answer, pki)
        assert backend.services.docker_hosts.client("second").version()["Version"] == health["version"]
    finally:
        hive_container.remove(force=True)
        other_container.remove(force=True)
        engine_client.images.remove(image, force=True)

    with backend.services.store.session() as session:
        sealed = session.query(DockerHostRow).filter_by(name="second").one().tls_ciphertext
    assert sealed and "PRIVATE KEY" not in sealed and "BEGIN" not in sealed
    folder = backend.settings.data_dir / "docker-hosts" / "second"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == ["ca.pem", "cert.pem", "key.pem"]
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}
    assert ("user:tester", "added", f"second ({remote.url})") in [
        (a["actor"], a["outcome"], a["detail"]) for a in client.audit_log() if a["action"] == "docker_host"]


def test_the_tls_host_survives_a_key_rotation_and_a_backend_restart(backend_factory, backend: RunningBackend,  # noqa: F811
                                                                    remote: Engine, pki: Pki) -> None:
    add_remote(backend.client, "second", remote, pki)
    rotated = backend.client.rotate_credentials_key()
    assert "the TLS material of 1 Docker host" in rotated["message"]
    tls_folder = backend.settings.data_dir / "docker-hosts" / "second"
    for path in tls_folder.iterdir():
        path.unlink()  # written again, from the newly sealed copy, for the next client
    assert backend.services.docker_hosts.health.check("second").status == "ok"
    backend.stop()

    again = backend_factory(backend.settings)
    second = again.client.get_host("second")
    assert (second["url"], second["tls"], second["broker_host"]) == (remote.url, True, "127.0.0.1")
    wait_until(lambda: again.client.get_host("second")["health"]["status"] == "ok", 10,
               message=lambda: f"second checked ok by the new backend ({again.client.get_host('second')['health']})")


def test_a_wrong_ca_or_client_certificate_is_said_in_the_health(backend: RunningBackend, remote: Engine,
                                                                pki: Pki) -> None:
    other = authority("another CA")
    stranger = other.issue("someone else")

    wrong_ca = add_remote(backend.client, "wrong-ca", remote, pki, ca=other.pem)
    wrong_client = add_remote(backend.client, "wrong-client", remote, pki, cert=stranger.cert, key=stranger.key)

    assert wrong_ca["health"]["status"] == "unreachable"
    assert "not trusted by the CA given" in wrong_ca["health"]["error"], wrong_ca["health"]
    assert wrong_client["health"]["status"] == "unreachable"
    assert "refused the client certificate" in wrong_client["health"]["error"], wrong_client["health"]
    assert [h["name"] for h in backend.client.list_hosts()] == ["local", "wrong-ca", "wrong-client"]  # kept


def test_a_stopped_engine_is_unreachable_within_one_health_period(backend: RunningBackend, pki: Pki,
                                                                  tls_engine_factory: Callable[[], Engine]) -> None:
    engine = tls_engine_factory()
    assert add_remote(backend.client, "doomed", engine, pki)["health"]["status"] == "ok"

    engine.stop()
    stopped = time.monotonic()
    health = wait_until(lambda: _unreachable(backend.client, "doomed"), HEALTH_INTERVAL + CHECK_TIMEOUT,
                        interval=0.05, message="doomed unreachable")
    took = time.monotonic() - stopped

    assert health["error"] == f"unreachable: connection refused at {engine.url}", health
    assert took < HEALTH_INTERVAL + 1.0, f"{took:.2f} s"


def test_bad_urls_and_tls_material_are_refused_in_words(backend: RunningBackend, remote: Engine, pki: Pki) -> None:
    client = backend.client
    cases = {
        "https://10.0.0.5:2376": "must start with unix://, tcp:// or ssh:// (a TLS engine is tcp://",
        "10.0.0.5:2376": "must start with unix://, tcp:// or ssh://",
        "tcp://10.0.0.5": "needs its port (2376 is Docker's TLS port), e.g. tcp://10.0.0.5:2376",
        "tcp://10.0.0.5:99999": "the port must be a number from 1 to 65535",
        "tcp://:2376": "the host is missing",
        "unix://var/run/docker.sock": "names an absolute path",
    }
    for url, words in cases.items():
        error = refused(client.add_host, "bad", url, ca=pki.ca.pem, cert=pki.client.cert, key=pki.client.key)
        assert (error.status, error.code) == (422, "validation_error") and words in error.message, (url, error.message)
        assert error.message.startswith("url: "), error.message

    plain = refused(client.add_host, "bad", remote.url)
    assert plain.status == 422 and "needs TLS: give ca, cert, key (PEM)" in plain.message
    not_pem = refused(client.add_host, "bad", remote.url, ca="hello", cert=pki.client.cert, key=pki.client.key)
    assert not_pem.status == 422 and "ca: not a PEM certificate" in not_pem.message
    mismatch = refused(add_remote, client, "bad", remote, pki, key=pki.server.key)
    assert mismatch.status == 422 and "key: it is not the private key of cert" in mismatch.message
    assert_no_tls_material(mismatch.message, pki)
    socket_tls = refused(client.add_host, "bad", "unix:///run/other.sock", ca=pki.ca.pem)
    assert socket_tls.status == 422 and "ca: only a tcp:// host uses TLS material" in socket_tls.message
    duplicate = refused(client.add_host, "local", "unix:///run/other.sock")
    assert (duplicate.status, duplicate.code) == (409, "duplicate_name")
    assert "'local' already exists" in duplicate.message
    assert [h["name"] for h in client.list_hosts()] == ["local"]


def test_local_and_a_host_in_use_cannot_be_deleted(backend: RunningBackend, tmp_path: Path) -> None:
    client = backend.client
    local = refused(client.delete_host, "local")
    assert (local.status, local.code) == (409, "local_host") and "cannot be deleted" in local.message
    socket = tmp_path / "none.sock"
    spare = client.add_host("spare", f"unix://{socket}")
    assert spare["health"] == {**spare["health"], "status": "unreachable",
                               "error": f"unreachable: no socket at {socket} (is dockerd running, with that --host?)"}
    with backend.services.store.session() as session:  # an instance on it, as the docker runtime stores one
        session.add(InstanceRow(name="bot-on-spare", runtime="docker", spec={"create": {"host": "spare"}},
                                config_path="", state="stopped", state_since=0, created_at=0))

    in_use = refused(client.delete_host, "spare")

    assert (in_use.status, in_use.code) == (409, "host_in_use") and "instance bot-on-spare" in in_use.message
    with backend.services.store.session() as session:
        session.query(InstanceRow).filter_by(name="bot-on-spare").delete()
    client.delete_host("spare")
    assert refused(client.get_host, "spare").status == 404
    assert [h["name"] for h in client.list_hosts()] == ["local"]
    audit = [(a["outcome"], a["detail"]) for a in client.audit_log() if a["action"] == "docker_host"]
    assert audit == [("deleted", f"spare (unix://{socket})"), ("added", f"spare (unix://{socket})")]


def test_an_ssh_host_where_nothing_listens_says_the_connection_was_refused(backend: RunningBackend) -> None:
    url = f"ssh://nobody@127.0.0.1:{free_port()}"
    added = backend.client.add_host("over-ssh", url)

    assert added["health"]["status"] == "unreachable"
    assert added["health"]["error"] == f"unreachable: connection refused at {url}", added["health"]


def _unreachable(client: HiveClient, name: str) -> dict | None:
    health = client.get_host(name)["health"]
    return health if health["status"] == "unreachable" else None


def _empty_image(engine_client) -> str:
    """An image with no files, imported (no registry here): enough to create, not start, a container."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w"):
        pass
    tag = f"hive-hosts-test/empty:{os.getpid()}"
    engine_client.api.import_image_from_data(data.getvalue(), repository=tag.split(":")[0], tag=tag.split(":")[1])
    return tag
