"""Docker hosts: the engines instances can run on (`local` and the ones the operator adds), each with its health.

No answer ever holds a host's TLS material: only whether it has some."""
from fastapi import APIRouter, Response

from backend.api.deps import CurrentUser, DockerHostsDep
from backend.domain.docker_hosts import DockerHostCreate, DockerHostOut

router = APIRouter(prefix="/hosts", tags=["hosts"])


@router.get("", response_model=list[DockerHostOut])
def list_hosts(hosts: DockerHostsDep) -> list[DockerHostOut]:
    """Each with its last health check (every HIVE_DOCKER_HEALTH_INTERVAL seconds, 10 by default)."""
    return hosts.all()


@router.post("", response_model=DockerHostOut, status_code=201)
def add_host(hosts: DockerHostsDep, user: CurrentUser, spec: DockerHostCreate) -> DockerHostOut:
    """Kept even when it does not answer; the connection is tested once and its health returned. A tcp:// host
    needs ca, cert and key (PEM), stored encrypted with the credentials key and never shown again."""
    return hosts.add(spec, actor=f"user:{user}")


@router.get("/{name}", response_model=DockerHostOut)
def get_host(hosts: DockerHostsDep, name: str) -> DockerHostOut:
    return hosts.describe(name)


@router.delete("/{name}", status_code=204)
def delete_host(hosts: DockerHostsDep, user: CurrentUser, name: str) -> Response:
    """Refused (409) for local, and while an instance is on it."""
    hosts.delete(name, actor=f"user:{user}")
    return Response(status_code=204)
