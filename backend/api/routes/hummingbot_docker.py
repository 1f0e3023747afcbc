"""Hummingbot API's /docker routes, on Hive's instances (see backend/hummingbot_api). Routes that the
client and the server of Hummingbot API spell differently are served under both spellings."""
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from backend.api.deps import CurrentUser, HummingbotDep
from backend.errors import BadRequest

router = APIRouter(prefix="/docker", tags=["hummingbot api: docker"])


class DockerImage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image_name: str = Field(min_length=1, description="name:tag")


@router.get("/running")
def is_running() -> bool:
    """Whether instances can be run: the process runtime is part of the backend, so always."""
    return True


@router.get("/available-images")
@router.get("/available-images/", include_in_schema=False)
def available_images(hb: HummingbotDep, image_name: str | None = None) -> list[str]:
    """The tags of the local Docker host's images that can run an instance (label org.hive.role=instance)."""
    return hb.images.available(image_name)


@router.get("/active-containers")
def active_containers(hb: HummingbotDep, name_filter: str | None = None) -> list[dict[str, str]]:
    return hb.bots.containers(running=True, name_filter=name_filter)


@router.get("/exited-containers")
def exited_containers(hb: HummingbotDep, name_filter: str | None = None) -> list[dict[str, str]]:
    return hb.bots.containers(running=False, name_filter=name_filter)


@router.post("/clean-exited-containers")
def clean_exited_containers(hb: HummingbotDep) -> None:
    """Remove every stopped or failed instance; their folders are archived and their bot runs kept."""
    hb.bots.clean_exited()


@router.post("/start-container/{container_name}")
@router.post("/container/{container_name}/start", include_in_schema=False)
def start_container(hb: HummingbotDep, container_name: str) -> None:
    hb.bots.instances.start(container_name)


@router.post("/stop-container/{container_name}")
@router.post("/container/{container_name}/stop", include_in_schema=False)
def stop_container(hb: HummingbotDep, container_name: str) -> None:
    hb.bots.instances.stop(container_name)


@router.post("/remove-container/{container_name}")
@router.post("/container/{container_name}/remove", include_in_schema=False)
def remove_container(hb: HummingbotDep, container_name: str, archive_locally: bool = True,
                     s3_bucket: str | None = None) -> dict[str, Any]:
    """Stop (if needed) and delete the instance; with archive_locally its folder is kept under <data>/archived."""
    if s3_bucket:
        raise BadRequest("unsupported", "s3_bucket: Hive archives locally only; leave s3_bucket out")
    hb.bots.remove(container_name, archive=archive_locally)
    return {"success": True, "message": f"Container {container_name} removed successfully."}


@router.post("/pull-image")
@router.post("/pull-image/", include_in_schema=False)
def pull_image(hb: HummingbotDep, user: CurrentUser, image: DockerImage) -> dict[str, Any]:
    """A pull job on the local Docker host (GET /images/jobs shows its progress); hive/hive-core is built,
    not pulled: present, it counts as pulled."""
    return hb.images.pull(image.image_name, actor=f"user:{user}")


@router.get("/pull-status")
@router.get("/pull-status/", include_in_schema=False)
def pull_status(hb: HummingbotDep) -> dict[str, Any]:
    return hb.images.pull_status()
