"""Containers: the density comparison with instances as containers, and what a container costs.

`run_container_density` runs benchmarks/density.py's two sides (one instance with N strategies against N
instances with one) with every instance in its own container of the instance image, on host networking, as
the docker runtime starts them. A container's cost is every process it adds on the host: its containerd shim,
docker-init and hive_core, measured the same way as the local processes (PSS, CPU seconds, sockets).
"""
from __future__ import annotations

import os
from pathlib import Path

import docker
import docker.errors
import psutil
import yaml
from docker.models.containers import Container

from benchmarks.density import format_density, run_density

BENCH_LABEL = "org.hive.benchmark"


class ContainerLauncher:
    """Starts each instance as a container of `image`; the configs are bind-mounted read-only."""

    layout = ("1 container", "N containers")

    def __init__(self, client: docker.DockerClient, image: str) -> None:
        self.client = client
        self.image = image
        self._containers: list[Container] = []

    def start(self, instance_id: str, config: dict, workdir: Path) -> None:
        os.chmod(workdir, 0o755)  # the image's user (uid 10001) reads the configs
        config_path = workdir / f"{instance_id}.yml"
        config_path.write_text(yaml.safe_dump(config))
        os.chmod(config_path, 0o644)
        self._containers.append(self.client.containers.run(
            self.image, ["run", "--config", str(config_path)], detach=True, init=True, network_mode="host",
            name=f"hive-bench-{instance_id}", labels={BENCH_LABEL: "density"},
            volumes={str(workdir): {"bind": str(workdir), "mode": "ro"}}))

    def ended(self) -> list[str]:
        ended = []
        for container in self._containers:
            container.reload()
            if container.status not in ("created", "running"):
                ended.append(f"container {container.name} is {container.status}: "
                             f"{container.logs(tail=3).decode(errors='replace').strip()}")
        return ended

    def processes(self) -> list[psutil.Process]:
        """Per container: its shim (the parent of its first process), docker-init and everything below."""
        processes: list[psutil.Process] = []
        for container in self._containers:
            container.reload()
            first = psutil.Process(container.attrs["State"]["Pid"])
            shim = first.parent()
            processes += ([shim] if shim is not None else []) + [first] + first.children(recursive=True)
        return processes

    def stop_all(self) -> None:
        for container in self._containers:
            container.remove(force=True)
        self._containers = []


def run_container_density(client: docker.DockerClient, image: str, ns: tuple[int, ...],
                          window_s: float) -> list[dict]:
    return run_density(ns, window_s, ContainerLauncher(client, image))


def image_size_mb(client: docker.DockerClient, image: str) -> float:
    return round(client.images.get(image).attrs["Size"] / 2**20, 1)


def container_benchmarks(ns: tuple[int, ...], window_s: float) -> dict:
    """Every container figure, printed; {"skipped": why} when no engine answers or the image is missing."""
    from backend.orchestrator.runs import HIVE_IMAGE

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as error:  # no engine: say why, measure the rest
        print(f"\ncontainers: skipped, no Docker engine answers ({error}); start one or set DOCKER_HOST")
        return {"skipped": f"no Docker engine: {error}"}
    try:
        client.images.get(HIVE_IMAGE)
    except docker.errors.ImageNotFound:
        print(f"\ncontainers: skipped, the engine has no {HIVE_IMAGE} (run `make image`)")
        return {"skipped": f"{HIVE_IMAGE} missing"}
    figures: dict = {"image": HIVE_IMAGE, "image_size_mb": image_size_mb(client, HIVE_IMAGE)}
    print(f"\ncontainers: image {HIVE_IMAGE}, {figures['image_size_mb']:.0f} MB")
    engine_url = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"  # what docker.from_env used
    figures["create_to_running"] = create = create_to_running(engine_url)
    print(f"create to Running through the API (median of {CREATE_SAMPLES}, slowest): process "
          f"{create['process']['median_s']:.2f} s ({create['process']['max_s']:.2f} s), docker "
          f"{create['docker']['median_s']:.2f} s ({create['docker']['max_s']:.2f} s): docker / process "
          f"{create['ratio']:.1f}x")
    if ns:
        figures["density"] = run_container_density(client, HIVE_IMAGE, ns, window_s)
        print("density in containers: one container with N strategies vs N containers with one (shim, init and "
              "hive_core counted)")
        print(format_density(figures["density"]))
    return figures


CREATE_SAMPLES = 10
RUNNING_TIMEOUT_S = 60.0


def create_to_running(engine_url: str, samples: int = CREATE_SAMPLES) -> dict:
    """Seconds from the create request to Running (the first heartbeat), through a real backend and its API,
    for the process runtime and the docker runtime side by side; the median and the slowest of `samples` each."""
    import secrets
    import statistics
    import subprocess
    import sys
    import tempfile
    import time

    from backend.client import BackendError, BackendUnavailable, HiveClient
    from benchmarks.density import _free_port, _stop, _wait_for_port

    password = secrets.token_urlsafe(12)
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="hive-bench-create-") as folder:
        env = dict(os.environ, HIVE_DATA_DIR=folder, HIVE_PASSWORD=password, HIVE_BACKEND_PORT=str(port),
                   HIVE_BROKER_PORT=str(_free_port()), HIVE_DOCKER_HOST=engine_url, HIVE_HEARTBEAT_INTERVAL="1")
        backend = subprocess.Popen([sys.executable, "-m", "backend"], env=env, cwd=folder,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = HiveClient(f"http://127.0.0.1:{port}", "admin", password, timeout=60)
        try:
            _wait_for_port(port)
            client.start_broker()
            figures = {}
            for runtime in ("process", "docker"):
                seconds = []
                for index in range(samples):
                    name = f"bench-{runtime}-{index}"
                    started = time.perf_counter()
                    client.create_instance({"name": name, "runtime": runtime, "start": True,
                                            "strategies": [{"id": "mm", "strategy": "market_maker"}]})
                    deadline = started + RUNNING_TIMEOUT_S
                    while client.get_instance(name)["state"] != "running":
                        if time.perf_counter() > deadline:
                            raise TimeoutError(f"{name} not running after {RUNNING_TIMEOUT_S:.0f} s: "
                                               f"{client.get_instance(name)['reason']}")
                        time.sleep(0.02)
                    seconds.append(time.perf_counter() - started)
                    client.stop_instance(name)
                    client.delete_instance(name)
                figures[runtime] = {"median_s": round(statistics.median(seconds), 3), "max_s": round(max(seconds), 3)}
            figures["ratio"] = round(figures["docker"]["median_s"] / figures["process"]["median_s"], 2)
            return figures
        except BackendUnavailable as error:
            raise RuntimeError(f"the benchmark's backend did not answer: {error}") from None
        finally:
            try:
                client.stop_broker()  # the embedded broker is detached from its backend on purpose: stop it first
            except (BackendUnavailable, BackendError):
                pass
            client.close()
            _stop([backend])
