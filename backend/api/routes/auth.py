"""GET /auth/check: lets the dashboard's login form test the credentials."""
from fastapi import APIRouter

from backend.api.deps import CurrentUser

router = APIRouter(prefix="/auth", tags=["auth"])


@router.get("/check")
def check(user: CurrentUser) -> dict:
    return {"ok": True, "username": user}
