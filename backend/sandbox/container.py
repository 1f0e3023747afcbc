"""The Docker sandbox: hive_core's CLI in a throwaway container of the instance image on the `local` Docker
host, without network, on a read-only root, without capabilities or privilege gains, as the image's
unprivileged user, within memory/pids/CPU limits. The upload's folder is copied into an anonymous volume
at the same path (put_archive: nothing of this machine is mounted); the container and its volume are removed
after the run, or when it outlives the time limit."""
from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import docker.errors
import requests.exceptions
from docker.types import Mount

from backend import hive_cli
from backend.docker import labels
from backend.docker.hosts import DockerHosts
from backend.errors import HiveError
from backend.runtimes.docker import IMAGE_UID, IMAGE_USER
from backend.sandbox.bwrap import Limits

MIB = 1024 * 1024


def folder_archive(folder: Path, uid: int) -> bytes:
    """The tar of `folder`'s files (not below), owned by uid:uid and readable by it alone."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            info = tar.gettarinfo(str(path), arcname=path.name)
            info.uid = info.gid = uid
            info.uname = info.gname = ""
            info.mode = 0o400
            with open(path, "rb") as file:
                tar.addfile(info, file)
    return data.getvalue()


class DockerSandbox:
    name = "docker"

    def __init__(self, hosts: DockerHosts, image: str, backend: str, limits: Limits) -> None:
        self.hosts = hosts
        self.image = image
        self.labels = {**labels.ours(backend), labels.ROLE: "validation"}
        self.limits = limits

    def runner(self, workdir: Path) -> hive_cli.Runner:
        def run(args: list[str]) -> subprocess.CompletedProcess:
            try:
                client = self.hosts.client()
                container = client.containers.create(self.image, **self._options(workdir, args))
            except HiveError as error:
                raise hive_cli.CoreError(error.detail) from None
            except docker.errors.ImageNotFound:
                raise hive_cli.CoreError(f"the image {self.image} is not on the local Docker host: build it "
                                         "(`make image`, or POST /images/build)") from None
            except docker.errors.DockerException as error:
                raise hive_cli.CoreError(f"cannot make the sandbox container: {error}") from None
            try:
                container.put_archive(str(workdir), folder_archive(workdir, IMAGE_UID))
                container.start()
                try:
                    code = container.wait(timeout=self.limits.timeout)["StatusCode"]
                except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                    raise hive_cli.TimedOut(self.limits.timeout) from None
                return subprocess.CompletedProcess(
                    args, code, container.logs(stdout=True, stderr=False).decode("utf-8", "replace"),
                    container.logs(stdout=False, stderr=True).decode("utf-8", "replace"))
            except docker.errors.DockerException as error:
                raise hive_cli.CoreError(f"the sandbox container failed: {error}") from None
            finally:
                try:
                    container.remove(force=True, v=True)
                except docker.errors.DockerException:
                    pass  # auto_remove is not used: the logs are read first; a leftover carries our labels
        return run

    def _options(self, workdir: Path, args: list[str]) -> dict:
        limits = self.limits
        return dict(
            command=args, labels=self.labels, user=IMAGE_USER, working_dir=str(workdir),
            environment={"HOME": "/tmp"}, network_mode="none", read_only=True,
            tmpfs={"/tmp": "rw,nosuid,nodev,size=16m"}, mounts=[Mount(str(workdir), None, type="volume")],
            cap_drop=["ALL"], security_opt=["no-new-privileges"], init=True,
            mem_limit=limits.memory_bytes, memswap_limit=limits.memory_bytes, pids_limit=limits.processes,
            nano_cpus=1_000_000_000, stdin_open=False, detach=True,
        )

    def unusable(self) -> str | None:
        """Why the sandbox cannot run (no engine, no image), or None."""
        try:
            self.hosts.client().images.get(self.image)
        except HiveError as error:
            return error.detail
        except docker.errors.ImageNotFound:
            return f"the image {self.image} is not on the local Docker host (`make image` builds it)"
        except docker.errors.DockerException as error:
            return f"the local Docker host cannot be used: {error}"
        return None
