"""The broker container's image, hive/hive-broker:<version> (deploy/Dockerfile, target `broker`): found on the
engine, or built there from this checkout when missing, with the build's progress reported line by line."""
from __future__ import annotations

from collections.abc import Callable

import docker
import docker.errors

import hive_core
from backend.errors import OperationFailed, Unavailable
from backend.host import REPO_ROOT

BROKER_IMAGE = f"hive/hive-broker:{hive_core.__version__}"
DOCKERFILE = "deploy/Dockerfile"
BUILD_TIMEOUT = 1800  # s per engine call while building (the first build installs every stage's packages)
HOW_TO_BUILD = ("build it with `make broker-image` in a checkout of Hive (it needs the base image "
                "hive/debian-python:bookworm: `make base-image` makes it)")


def image_present(client: docker.DockerClient, image: str = BROKER_IMAGE) -> bool:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


def build_broker_image(url: str, progress: Callable[[str], None], image: str = BROKER_IMAGE) -> None:
    """Build the image on the engine at `url` from this checkout, never pulling; `progress` gets each build step.

    A client of its own: a build step may be silent for longer than the shared clients' timeout.
    Raises Unavailable when there is nothing to build from (no checkout), OperationFailed when the build
    fails (with the engine's words: a missing base image says what to run)."""
    if not (REPO_ROOT / DOCKERFILE).is_file():
        raise Unavailable("broker_image_missing",
                          f"the broker image {image} is not on the Docker engine and this backend has no "
                          f"{DOCKERFILE} to build it from: {HOW_TO_BUILD}")
    api = docker.APIClient(base_url=url, timeout=BUILD_TIMEOUT)
    try:
        stream = api.build(path=str(REPO_ROOT), dockerfile=DOCKERFILE, target="broker", tag=image,
                           buildargs={"HIVE_VERSION": hive_core.__version__}, network_mode="host", rm=True,
                           forcerm=True, pull=False, decode=True)
        for chunk in stream:
            if "error" in chunk:
                raise OperationFailed("broker_image_build_failed", _build_error(image, str(chunk["error"])))
            line = str(chunk.get("stream", "")).strip()
            if line.startswith("Step "):
                progress(line)
    except docker.errors.APIError as error:
        raise OperationFailed("broker_image_build_failed", _build_error(image, str(error.explanation))) from None
    finally:
        api.close()


def _build_error(image: str, words: str) -> str:
    if "hive/debian-python" in words:
        return (f"the broker image {image} cannot be built: the base image hive/debian-python:bookworm is "
                f"missing ({words.strip()}); run `make base-image` (or deploy/base/build.sh), then start again")
    return f"the broker image {image} could not be built: {words.strip()}; {HOW_TO_BUILD}"
