"""GET /feed: the host's market-data service, which the instances share their venues' market data through."""
from fastapi import APIRouter

from backend.api.deps import ServicesDep
from backend.domain.feed import FeedStatus

router = APIRouter(prefix="/feed", tags=["feed"])


@router.get("", response_model=FeedStatus)
def status(services: ServicesDep) -> FeedStatus:
    """Whether it runs, and per venue endpoint: its streams and how many instances take each."""
    return FeedStatus.of(services.feed.status())
