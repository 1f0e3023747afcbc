"""GET /rules/instance: what a new instance's fields must be, for the dashboard to say so as they are typed."""
from fastapi import APIRouter

from backend.domain.instances import InstanceRules
from backend.domain.instances import instance_rules as current_rules

router = APIRouter(tags=["instances"])


@router.get("/rules/instance", response_model=InstanceRules)
def instance_rules() -> InstanceRules:
    """Names and strategy ids, trading pairs, resource limits; POST /instances checks them again (and more)."""
    return current_rules()
