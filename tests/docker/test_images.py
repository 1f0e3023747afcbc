"""Images through the API, against the real engine: the list, a build job (cached: seconds), a pull that cannot
succeed here (a registry address on 127.0.0.1 where nothing listens: refused at once), and the Hummingbot API
routes that use the same service."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import hive_core
from backend.docker.images import HIVE_IMAGE, ImageService
from backend.errors import Conflict, Unavailable
from tests.backend.conftest import PASSWORD, USERNAME, RunningBackend, make_settings, serve
from tests.conftest import free_port
from tests.docker.local_hosts import local_hosts
from tests.docker_engine import REPO_ROOT, Engine
from tests.polling import wait_until

JOB_TIMEOUT = 120  # s: a cached build, or a pull refused by 127.0.0.1


@pytest.fixture
def backend(docker_engine: Engine, hive_core_image: str, tmp_path: Path) -> Iterator[RunningBackend]:
    running = serve(make_settings(tmp_path / "data", docker_host=docker_engine.url))
    yield running
    running.stop()


@pytest.fixture
def http(backend: RunningBackend) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=backend.url, auth=(USERNAME, PASSWORD), timeout=30) as client:
        yield client


def finished(http: httpx.Client, job_id: str) -> dict:
    def done() -> dict | None:
        job = http.get(f"/images/jobs/{job_id}").json()
        return job if job["state"] != "running" else None
    return wait_until(done, JOB_TIMEOUT, interval=0.2, message=f"image job {job_id} finished")


def test_the_list_shows_the_instance_image_with_its_version(http: httpx.Client) -> None:
    images = http.get("/images", params={"host": "local"}).json()
    ours = [image for image in images if HIVE_IMAGE in image["tags"]]
    assert len(ours) == 1, images
    assert ours[0]["version"] == hive_core.__version__ and ours[0]["host"] == "local"
    assert ours[0]["size_bytes"] > 50_000_000 and ours[0]["id"].startswith("sha256:")
    assert HIVE_IMAGE in http.get("/docker/available-images", params={"image_name": "hive-core"}).json()
    unknown = http.get("/images", params={"host": "elsewhere"})
    assert unknown.status_code == 404 and "unknown Docker host 'elsewhere'" in unknown.json()["detail"]


def test_a_build_job_reports_its_steps_and_succeeds(backend: RunningBackend, http: httpx.Client) -> None:
    started = time.monotonic()
    answer = http.post("/images/build", json={"host": "local"})
    assert answer.status_code == 202 and answer.json()["kind"] == "build" and answer.json()["image"] == HIVE_IMAGE
    job = finished(http, answer.json()["id"])
    assert job["state"] == "succeeded", job
    assert any(line.startswith("Step 1/") for line in job["progress"]), job["progress"]
    assert any(line.startswith("Successfully tagged " + HIVE_IMAGE) for line in job["progress"])
    steps = job["summary"].removeprefix("step ").split("/")
    assert steps[0] == steps[1] and job["percent"] == 100.0, job["summary"]
    assert time.monotonic() - started < JOB_TIMEOUT
    assert job["id"] in [listed["id"] for listed in http.get("/images/jobs").json()]
    audit = [(entry["action"], entry["outcome"]) for entry in backend.client.audit_log()
             if job["id"] in entry["detail"]]
    assert audit == [("image_build", "succeeded"), ("image_build", "started")]


def test_a_pull_that_cannot_reach_its_registry_fails_in_words_in_bounded_time(http: httpx.Client) -> None:
    port = free_port()  # nothing listens there: the engine's connection is refused
    image = f"127.0.0.1:{port}/hive-test/nothing:1"
    started = time.monotonic()
    answer = http.post("/images/pull", json={"image": image})
    # a refused connection fails fast: the job may have failed before its first answer was written
    assert answer.status_code == 202 and answer.json()["state"] in ("running", "failed")
    job = finished(http, answer.json()["id"])
    assert job["state"] == "failed" and job["error"].startswith(f"cannot reach 127.0.0.1:{port}: "), job
    assert time.monotonic() - started < 30

    # The Hummingbot API's routes: the same job kind, in its shape; the project's own image counts as pulled.
    other = f"127.0.0.1:{port}/hive-test/other:2"
    assert http.post("/docker/pull-image", json={"image_name": other}).json() == \
        {"message": f"Pull started for {other}", "status": "started", "image_name": other}
    assert http.post("/docker/pull-image/", json={"image_name": HIVE_IMAGE}).json()["status"] == "started"

    def settled() -> dict | None:
        status = http.get("/docker/pull-status/").json()["pull_operations"]
        return status if all(status.get(name, {}).get("status") in ("completed", "failed")
                             for name in (other, HIVE_IMAGE)) else None
    operations = wait_until(settled, JOB_TIMEOUT, interval=0.2, message="both pulls finished")
    assert operations[other]["status"] == "failed" and "cannot reach 127.0.0.1" in operations[other]["error"]
    assert operations[HIVE_IMAGE]["status"] == "completed"
    assert operations[HIVE_IMAGE]["result"]["success"] is True
    assert operations[image]["status"] == "failed"


def test_a_missing_base_image_says_what_to_run(docker_engine: Engine, tmp_path: Path) -> None:
    hosts = local_hosts(docker_engine.url, tmp_path)
    try:
        with pytest.raises(Conflict) as refused:
            ImageService(hosts, "hive/no-such-base:test", REPO_ROOT).build("local", actor="tests")
    finally:
        hosts.close()
    assert refused.value.code == "base_image_missing" and "make base-image" in refused.value.detail


def test_an_engine_that_does_not_answer_is_named(tmp_path: Path) -> None:
    url = f"unix://{tmp_path}/nobody.sock"
    hosts = local_hosts(url, tmp_path)
    with pytest.raises(Unavailable) as refused:
        ImageService(hosts, "hive/debian-python:bookworm", REPO_ROOT).runnable("local")
    assert refused.value.code == "docker_unreachable" and url in refused.value.detail
