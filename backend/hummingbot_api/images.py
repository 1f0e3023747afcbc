"""Hummingbot API's image routes on Hive's image service: the images of the local Docker host that can run an
instance, and pulls as jobs whose records read like Hummingbot API's pull operations."""
from __future__ import annotations

from typing import Any

from backend.docker.hosts import LOCAL
from backend.docker.images import ImageService
from backend.domain.images import ImageJob

_STATUS = {"running": "pulling", "succeeded": "completed", "failed": "failed"}


class Images:
    def __init__(self, service: ImageService) -> None:
        self.service = service

    def available(self, image_name: str | None = None) -> list[str]:
        tags = [tag for image in self.service.runnable(LOCAL) for tag in image.tags]
        return [tag for tag in tags if not image_name or image_name in tag]

    def pull(self, image_name: str, actor: str) -> dict[str, Any]:
        self.service.pull(image_name, LOCAL, actor)
        return {"message": f"Pull started for {image_name}", "status": "started", "image_name": image_name}

    def pull_status(self) -> dict[str, Any]:
        """The newest pull of each image."""
        operations: dict[str, dict[str, Any]] = {}
        for job in self.service.jobs("pull"):
            operations.setdefault(job.image, _operation(job))
        return {"pull_operations": operations, "total_operations": len(operations)}


def _operation(job: ImageJob) -> dict[str, Any]:
    record: dict[str, Any] = {"status": _STATUS[job.state], "started_at": job.started_at}
    if job.state == "succeeded":
        record.update(completed_at=job.finished_at, result={"success": True, "image": job.image,
                                                            "result": job.progress[-1] if job.progress else ""})
    elif job.state == "failed":
        record.update(failed_at=job.finished_at, error=job.error)
    if job.finished_at is not None:
        record["duration_seconds"] = round(job.finished_at - job.started_at, 2)
    return record
