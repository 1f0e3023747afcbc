"""Images that can run an instance, per Docker host, and the jobs that build or pull them.

A build or a pull answers 202 with its job at once; GET /images/jobs/{id} follows its progress."""
from fastapi import APIRouter

from backend.api.deps import CurrentUser, ImagesDep
from backend.docker.hosts import LOCAL
from backend.domain.images import ImageBuild, ImageJob, ImageOut, ImagePull

router = APIRouter(prefix="/images", tags=["images"])


@router.get("", response_model=list[ImageOut])
def list_images(images: ImagesDep, host: str = LOCAL) -> list[ImageOut]:
    """The tagged images on the host labelled org.hive.role=instance, newest first."""
    return images.runnable(host)


@router.post("/build", response_model=ImageJob, status_code=202)
def build_image(images: ImagesDep, user: CurrentUser, request: ImageBuild | None = None) -> ImageJob:
    """Build hive/hive-core:<version> from the backend's checkout (deploy/Dockerfile, target core); 409 when the
    base image is missing, with what to run."""
    return images.build((request or ImageBuild()).host, actor=f"user:{user}")


@router.post("/pull", response_model=ImageJob, status_code=202)
def pull_image(images: ImagesDep, user: CurrentUser, request: ImagePull) -> ImageJob:
    """Pull a named image; where no registry is reachable the job fails saying so."""
    return images.pull(request.image, request.host, actor=f"user:{user}")


@router.get("/jobs", response_model=list[ImageJob])
def list_jobs(images: ImagesDep) -> list[ImageJob]:
    """The last 100 build and pull jobs, newest first."""
    return images.jobs()


@router.get("/jobs/{job_id}", response_model=ImageJob)
def get_job(images: ImagesDep, job_id: str) -> ImageJob:
    return images.job(job_id)
