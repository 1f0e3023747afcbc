"""The images that can run an instance on a Docker host, and the jobs that make them: build the project's own
hive/hive-core from this checkout, or pull a named image.

A job runs in a background thread and writes its progress into its record (bounded lines, a summary, a percent
where the engine tells enough); the last MAX_JOBS records are kept. Every engine read is bounded in time, so a
job that gets no answer fails in words instead of staying "running" for good.
"""
from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.auth
import docker.errors
import docker.utils

import hive_core
from backend.docker import labels
from backend.docker.hosts import DockerHost, DockerHosts
from backend.domain.images import ImageJob, ImageOut, JobKind, JobState
from backend.errors import Conflict, HiveError, NotFound, OperationFailed, Unavailable

log = logging.getLogger(__name__)

HIVE_REPOSITORY = "hive/hive-core"
HIVE_IMAGE = f"{HIVE_REPOSITORY}:{hive_core.__version__}"
LOCAL_BASES = "hive/"     # bases made here (deploy/base/build.sh, `make base-image`): on no registry
DOCKERFILE = "deploy/Dockerfile"

MAX_JOBS = 100            # job records kept (the oldest finished ones go first)
MAX_LINES = 200           # progress lines kept per job
BUILD_SILENCE = 900       # s a build step may print nothing (a long pip install) before the job fails
BUILD_DEADLINE = 3600     # s a whole build may take
PULL_SILENCE = 60         # s the engine may send nothing during a pull
PULL_DEADLINE = 1800      # s a whole pull may take
CONNECT_TIMEOUT = 10      # s to open the connection to the engine

_STEP = re.compile(r"^Step (\d+)/(\d+) :")
_URL_HOST = re.compile(r'https?://([^/"\s]+)')
_UNREACHABLE = ("dial tcp", "connection refused", "no such host", "i/o timeout", "TLS handshake timeout",
                "proxyconnect", "network is unreachable", "Client.Timeout")

Audit = Callable[[str, str, str, str], None]  # actor, action, outcome, detail


class _Job:
    """A job's record while it runs; `snapshot()` is what the API shows."""

    def __init__(self, kind: JobKind, image: str, host: str) -> None:
        self.id = secrets.token_hex(6)
        self.kind, self.image, self.host = kind, image, host
        self.state: JobState = "running"
        self.summary = ""
        self.percent: float | None = None
        self.lines: deque[str] = deque(maxlen=MAX_LINES)
        self.started_at = time.time()
        self.finished_at: float | None = None
        self.error: str | None = None
        self._lock = threading.Lock()

    def say(self, line: str, summary: str | None = None, percent: float | None = None) -> None:
        with self._lock:
            if line:
                self.lines.append(line)
            if summary is not None:
                self.summary = summary
            if percent is not None:
                self.percent = round(percent, 1)

    def finish(self, error: str | None) -> None:
        with self._lock:
            self.state = "failed" if error else "succeeded"
            self.error = error
            if not error:
                self.percent = 100.0
            self.finished_at = time.time()

    def snapshot(self) -> ImageJob:
        with self._lock:
            return ImageJob(id=self.id, kind=self.kind, image=self.image, host=self.host, state=self.state,
                            summary=self.summary, percent=self.percent, progress=list(self.lines),
                            started_at=self.started_at, finished_at=self.finished_at, error=self.error)


class ImageService:
    def __init__(self, hosts: DockerHosts, base_image: str, repo_root: Path, audit: Audit | None = None) -> None:
        self.hosts = hosts
        self.base_image = base_image
        self.repo_root = repo_root
        self._audit = audit or (lambda actor, action, outcome, detail: None)
        self._jobs: OrderedDict[str, _Job] = OrderedDict()
        self._lock = threading.Lock()

    # --- images --------------------------------------------------------------------------------------
    def runnable(self, host: str = "local") -> list[ImageOut]:
        """The tagged images on `host` that can run an instance (label org.hive.role=instance), newest first."""
        endpoint, client = self._client(host)
        summaries = _engine_call(endpoint, lambda: client.api.images(filters={"label": f"{labels.ROLE}=instance"}))
        images = [ImageOut(id=item["Id"], host=host, tags=sorted(_tags(item)), size_bytes=item.get("Size", 0),
                           version=(item.get("Labels") or {}).get(labels.VERSION), created_at=float(item["Created"]))
                  for item in summaries if _tags(item)]
        return sorted(images, key=lambda image: image.created_at, reverse=True)

    # --- jobs ----------------------------------------------------------------------------------------
    def build(self, host: str, actor: str) -> ImageJob:
        """Build HIVE_IMAGE from this checkout on `host` (target `core` of deploy/Dockerfile); the build's layers
        are cached by the engine, so an unchanged checkout builds in seconds."""
        endpoint, client = self._client(host)
        if not (self.repo_root / DOCKERFILE).is_file():
            raise Unavailable("no_dockerfile", f"{self.repo_root / DOCKERFILE} is missing: the image is built from "
                                               "a checkout of the repository (run `make image` there)")
        # Another base (python:3.11-slim-bookworm) is fetched by the builder when missing.
        if self.base_image.startswith(LOCAL_BASES) and not self._present(endpoint, client, self.base_image):
            raise Conflict("base_image_missing",
                           f"the base image {self.base_image} is not on Docker host {host!r}: run `make base-image` "
                           "(as root: it uses debootstrap), or, where a registry is reachable, set "
                           "HIVE_IMAGE_BASE=python:3.11-slim-bookworm and build again")
        return self._start("build", HIVE_IMAGE, endpoint, actor, lambda job: self._build(client, job))

    def pull(self, image: str, host: str, actor: str) -> ImageJob:
        """Pull `image` (name[:tag], tag `latest` when left out) onto `host`. The project's own images are built,
        not pulled: one present on the host counts as pulled, a missing one fails with how to build it."""
        endpoint, client = self._client(host)
        repository, tag = docker.utils.parse_repository_tag(image)
        image = image if "@" in image else f"{repository}:{tag or 'latest'}"  # a digest names itself
        if repository == HIVE_REPOSITORY:
            return self._start("pull", image, endpoint, actor, lambda job: self._own(endpoint, client, image, job))
        return self._start("pull", image, endpoint, actor, lambda job: self._pull(client, image, job))

    def jobs(self, kind: JobKind | None = None) -> list[ImageJob]:
        """Newest first."""
        with self._lock:
            jobs = list(self._jobs.values())
        return [job.snapshot() for job in reversed(jobs) if kind is None or job.kind == kind]

    def job(self, job_id: str) -> ImageJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound("not_found", f"no image job with id {job_id!r} (the last {MAX_JOBS} are kept)")
        return job.snapshot()

    # --- the work ------------------------------------------------------------------------------------
    def _start(self, kind: JobKind, image: str, endpoint: DockerHost, actor: str,
               work: Callable[[_Job], None]) -> ImageJob:
        """A job of the same kind and image already running on that host is answered instead of a second one."""
        with self._lock:
            for job in self._jobs.values():
                if (job.kind, job.image, job.host, job.state) == (kind, image, endpoint.name, "running"):
                    return job.snapshot()
            job = _Job(kind, image, endpoint.name)
            self._jobs[job.id] = job
            self._trim()
        self._audit(actor, f"image_{kind}", "started", f"{image} on {endpoint.name} (job {job.id})")
        threading.Thread(target=self._run, args=(job, endpoint, actor, work), name=f"image-{kind}-{job.id}",
                         daemon=True).start()
        return job.snapshot()

    def _run(self, job: _Job, endpoint: DockerHost, actor: str, work: Callable[[_Job], None]) -> None:
        try:
            work(job)
        except HiveError as error:
            job.finish(error.detail)
        except (docker.errors.DockerException, OSError) as error:  # requests' errors are OSErrors
            job.finish(_engine_failure(endpoint, error).detail)
        except Exception as error:  # the job's record is where a failure is reported; nobody else waits on it
            log.exception("image job %s failed", job.id)
            job.finish(f"{error.__class__.__name__}: {error}")
        else:
            job.finish(None)
        outcome = job.snapshot()
        self._audit(actor, f"image_{job.kind}", outcome.state,
                    f"{job.image} on {job.host} (job {job.id})" + (f": {outcome.error}" if outcome.error else ""))

    def _build(self, client: docker.DockerClient, job: _Job) -> None:
        job.say(f"building {HIVE_IMAGE} from {self.repo_root} (base {self.base_image})", "sending the build context")
        stream = client.api.build(
            path=str(self.repo_root), dockerfile=DOCKERFILE, tag=HIVE_IMAGE, target="core", decode=True, rm=True,
            forcerm=True, network_mode="host", timeout=BUILD_SILENCE,
            buildargs={"BASE_IMAGE": self.base_image, "HIVE_VERSION": hive_core.__version__})
        built = False
        for chunk in _bounded(stream, BUILD_DEADLINE, f"the build took longer than {BUILD_DEADLINE} s"):
            if "error" in chunk:
                raise OperationFailed("build_failed", f"the build of {HIVE_IMAGE} failed: {chunk['error'].strip()}")
            for line in str(chunk.get("stream", "")).splitlines():
                line = line.rstrip()
                step = _STEP.match(line)
                if step:
                    number, total = int(step[1]), int(step[2])
                    job.say(line, f"step {number}/{total}", 100.0 * (number - 1) / total)
                else:
                    job.say(line)
                built = built or line.startswith("Successfully tagged")
        if not built:
            raise OperationFailed("build_failed", f"the engine ended the build of {HIVE_IMAGE} without tagging it")

    def _own(self, endpoint: DockerHost, client: docker.DockerClient, image: str, job: _Job) -> None:
        if not self._present(endpoint, client, image):
            raise NotFound("image_missing", f"{image} is not on Docker host {endpoint.name!r}, and it is built, not "
                                            "pulled: POST /images/build (or `make image`) makes it")
        job.say(f"{image} is present on {endpoint.name} (built from this repository; POST /images/build rebuilds it)")

    def _pull(self, client: docker.DockerClient, image: str, job: _Job) -> None:
        api = client.api
        repository, tag = docker.utils.parse_repository_tag(image)
        registry, _ = docker.auth.resolve_repository_name(repository)
        headers = {}
        auth = docker.auth.get_config_header(api, registry)
        if auth:
            headers["X-Registry-Auth"] = auth
        # The SDK's own pull waits without a timeout; this request bounds every read by PULL_SILENCE.
        response = api.post(f"{api.base_url}/v{api.api_version}/images/create", stream=True,
                            params={"fromImage": repository, "tag": tag}, headers=headers,
                            timeout=(CONNECT_TIMEOUT, PULL_SILENCE))
        try:
            if response.status_code >= 400:
                raise _pull_failure(image, registry, _message(response))
            progress = _PullProgress()
            lines = (json.loads(line) for line in response.iter_lines() if line.strip())
            for message in _bounded(lines, PULL_DEADLINE, f"the pull took longer than {PULL_DEADLINE} s"):
                if "error" in message:
                    raise _pull_failure(image, registry, str(message["error"]))
                job.say(progress.feed(message), progress.summary(), progress.percent())
        except OSError as error:  # requests' ConnectionError, around urllib3's read timeout
            if "timed out" in str(error):
                raise _pull_failure(image, registry, f"the engine sent nothing for {PULL_SILENCE} s") from None
            raise
        finally:
            response.close()

    # --- helpers -------------------------------------------------------------------------------------
    def _client(self, host: str) -> tuple[DockerHost, docker.DockerClient]:
        endpoint = self.hosts.get(host)
        return endpoint, self.hosts.client(host)

    @staticmethod
    def _present(endpoint: DockerHost, client: docker.DockerClient, image: str) -> bool:
        try:
            _engine_call(endpoint, lambda: client.api.inspect_image(image))
        except docker.errors.ImageNotFound:
            return False
        return True

    def _trim(self) -> None:
        while len(self._jobs) > MAX_JOBS:
            finished = next((key for key, job in self._jobs.items() if job.state != "running"), None)
            self._jobs.pop(finished if finished is not None else next(iter(self._jobs)))


class _PullProgress:
    """Layers and bytes from the engine's pull messages; a line only when a layer's status changes."""

    def __init__(self) -> None:
        self.layers: dict[str, tuple[str, int, int]] = {}  # id -> status, current bytes, total bytes

    def feed(self, message: dict[str, Any]) -> str:
        status, layer = str(message.get("status", "")), message.get("id")
        if not layer or status.startswith("Pulling from"):
            return status
        before = self.layers.get(layer, ("", 0, 0))
        detail = message.get("progressDetail") or {}
        total = int(detail.get("total") or before[2])
        current = int(detail.get("current") or 0) if status == "Downloading" else before[1]
        if status in ("Download complete", "Pull complete", "Already exists"):
            current = total
        self.layers[layer] = (status, current, total)
        return f"{layer}: {status}" if status != before[0] else ""

    def summary(self) -> str:
        done = sum(status in ("Pull complete", "Already exists") for status, _, _ in self.layers.values())
        current = sum(layer[1] for layer in self.layers.values())
        total = sum(layer[2] for layer in self.layers.values())
        return f"{done} of {len(self.layers)} layers, {current / 1e6:.1f} of {total / 1e6:.1f} MB"

    def percent(self) -> float | None:
        total = sum(layer[2] for layer in self.layers.values())
        return 100.0 * sum(layer[1] for layer in self.layers.values()) / total if total else None


def _bounded(items: Iterator[Any], deadline: float, message: str) -> Iterator[Any]:
    """`items` until they end or `deadline` seconds have passed (checked between items)."""
    end = time.monotonic() + deadline
    for item in items:
        yield item
        if time.monotonic() > end:
            raise OperationFailed("timed_out", message)


def _engine_call(endpoint: DockerHost, call: Callable[[], Any]) -> Any:
    """`call()` with an engine that does not answer, or refuses, reported in words (ImageNotFound passes)."""
    try:
        return call()
    except docker.errors.ImageNotFound:
        raise
    except (docker.errors.DockerException, OSError) as error:  # requests' errors are OSErrors
        raise _engine_failure(endpoint, error) from None


def _engine_failure(endpoint: DockerHost, error: Exception) -> HiveError:
    if isinstance(error, docker.errors.APIError):
        return OperationFailed("docker_error", f"Docker host {endpoint.name!r} refused: {error.explanation or error}")
    return Unavailable("docker_unreachable", f"Docker host {endpoint.name!r} ({endpoint.url}) does not answer: "
                                             f"{error.__class__.__name__}: {error}")


def _pull_failure(image: str, registry: str, message: str) -> OperationFailed:
    """The engine's reason in words: 'cannot reach <registry>: ...' when no registry answered."""
    if any(sign in message for sign in _UNREACHABLE):
        where = _URL_HOST.search(message)
        host = where[1] if where else ("registry-1.docker.io" if registry == docker.auth.INDEX_NAME else registry)
        return OperationFailed("registry_unreachable", f"cannot reach {host}: {message}")
    return OperationFailed("pull_failed", f"cannot pull {image}: {message}")


def _message(response: Any) -> str:
    """The engine's refusal of a request (a requests.Response) in its own words."""
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return response.text.strip() or f"HTTP {response.status_code}"


def _tags(summary: dict[str, Any]) -> list[str]:
    return [tag for tag in summary.get("RepoTags") or [] if tag != "<none>:<none>"]
