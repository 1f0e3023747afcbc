"""GET /health: is the backend up? The only route without auth, so it says nothing else."""
from fastapi import APIRouter

from backend import __version__

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict:
    return {"status": "ok", "version": __version__}
