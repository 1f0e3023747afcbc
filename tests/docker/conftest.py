"""A real Docker engine for the Docker tests (tests/docker_engine.py), started once per session when needed."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from hive_core.sim.auth import SimKeys
from hive_core.sim.background import VenueThread, venue_thread
from tests.backend.conftest import backend_factory, data_dir  # noqa: F401  (the backend fixtures, here too)
from tests.conftest import free_port
from tests.docker.certificates import Authority, Issued, authority, write
from tests.docker_engine import (
    Engine,
    EngineUnavailable,
    TlsListener,
    find_or_start,
    prerequisite_missing,
    start_private,
)

# The credentials the Docker tests give their instances, and the venue they trade on live with them: only an
# instance that trades live is handed its credential.
LIVE_KEYS = {"APIKEY-123456": "s3cret-value", "APIKEY-987654": "remote-s3cret"}
LIVE = {"kind": "binance", "mode": "live"}


@pytest.fixture(scope="module")
def live_venue() -> Iterator[VenueThread]:
    """The simulated venue standing in for Binance (the backend's venue_endpoints send `binance` there), taking the
    tests' keys; the containers share the host's network, so they reach it on 127.0.0.1."""
    keys = SimKeys()
    for api_key, secret in LIVE_KEYS.items():
        keys.add_hmac(api_key, secret)
    with venue_thread(keys) as venue:
        yield venue


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Engine]:
    try:
        engine = find_or_start()
    except EngineUnavailable as error:
        prerequisite_missing("a Docker engine", f"{error}; start dockerd or set DOCKER_HOST to one that answers")
    yield engine
    engine.stop()


BASE_IMAGE = "hive/debian-python:bookworm"
BUILD_TIMEOUT = 900  # s: a first build installs the dependencies; a cached one takes seconds


@pytest.fixture(scope="session")
def base_image(docker_engine: Engine) -> str:
    """hive/debian-python:bookworm, the base of both images, made by deploy/base/build.sh when the engine lacks
    it (about a minute, once): an engine with a fresh data root has nothing to build from, and may not pull."""
    import subprocess

    import docker.errors

    from tests.docker_engine import REPO_ROOT

    try:
        docker_engine.client().images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        subprocess.run([str(REPO_ROOT / "deploy/base/build.sh")], env=docker_engine.env(), check=True, timeout=600,
                       stdout=subprocess.DEVNULL)
    return BASE_IMAGE


@pytest.fixture(scope="session")
def hive_core_image(docker_engine: Engine, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The instance image hive/hive-core:<version>, built from this checkout by the product's own builder
    (backend/docker/images.py, layers cached in the engine)."""
    from backend.docker.images import HIVE_IMAGE, ImageService
    from tests.docker.local_hosts import local_hosts
    from tests.docker_engine import REPO_ROOT
    from tests.polling import wait_until

    hosts = local_hosts(docker_engine.url, tmp_path_factory.mktemp("image-build"))
    try:
        images = ImageService(hosts, base_image, REPO_ROOT)
        job = images.build("local", actor="tests")
        done = wait_until(lambda: images.job(job.id).state != "running" and images.job(job.id), BUILD_TIMEOUT,
                          interval=0.5, message=lambda: f"the build of {HIVE_IMAGE}: {images.job(job.id).summary}")
    finally:
        hosts.close()
    assert done.state == "succeeded", f"{done.error}; its output ends: " + " | ".join(done.progress[-15:])
    return HIVE_IMAGE


@pytest.fixture(scope="session")
def broker_image(docker_engine: Engine, base_image: str) -> str:
    """hive/hive-broker (the broker container's image), built through the product's own builder when missing."""
    from backend.broker.image import BROKER_IMAGE, build_broker_image, image_present

    if not image_present(docker_engine.client()):
        build_broker_image(docker_engine.url, lambda _step: None)
    return BROKER_IMAGE


@dataclass(frozen=True)
class Pki:
    ca: Authority
    server: Issued
    client: Issued


@pytest.fixture(scope="module")
def pki() -> Pki:
    ca = authority("hive test CA")
    return Pki(ca, ca.issue("127.0.0.1", server_ip="127.0.0.1"), ca.issue("hive backend"))


@pytest.fixture(scope="module")
def tls_engine_factory(tmp_path_factory: pytest.TempPathFactory, pki: Pki,
                       docker_engine: Engine) -> Iterator[Callable[..., Engine]]:
    """Starts private engines on tcp://127.0.0.1:<free port> with --tlsverify (`keep_images`: on the cached data
    root of such engines, tests/docker_engine.py); all stopped at the end."""
    started: list[Engine] = []

    def start(keep_images: bool = False) -> Engine:
        folder = tmp_path_factory.mktemp("tls")
        server = write(folder / "server", {"ca.pem": pki.ca.pem, "cert.pem": pki.server.cert,
                                           "key.pem": pki.server.key})
        write(folder / "client", {"ca.pem": pki.ca.pem, "cert.pem": pki.client.cert, "key.pem": pki.client.key})
        listener = TlsListener(f"127.0.0.1:{free_port()}", server["ca.pem"], server["cert.pem"], server["key.pem"],
                               folder / "client")
        try:
            engine = start_private(tls=listener, keep_images=keep_images)
        except EngineUnavailable as error:
            prerequisite_missing("a second, private Docker engine", f"{error}; run the tests as root with Debian's "
                                                                    "docker.io installed (`make docker-tools`)")
        started.append(engine)
        return engine

    yield start
    for engine in started:
        engine.stop()
