"""The login: GET /auth/check tests the credentials; POST /auth/session opens a session (a token standing for the
login until it expires, HIVE_SESSION_HOURS), DELETE /auth/session logs it out."""
from fastapi import APIRouter, Request

from backend.api.deps import CurrentUser, SessionsDep, client_address, current_session
from backend.api.openapi import errors
from backend.domain.sessions import LoginCheck, SessionOpened
from backend.errors import BadRequest, Forbidden

router = APIRouter(prefix="/auth", tags=["auth"])


@router.get("/check")
def check(user: CurrentUser, request: Request) -> LoginCheck:
    session = current_session(request)
    return LoginCheck(username=user, expires_at=session.expires_at if session else None)


@router.post("/session", status_code=201, responses=errors(403))
def open_session(user: CurrentUser, request: Request, sessions: SessionsDep) -> SessionOpened:
    """Needs the username and password (HTTP Basic): a session cannot prolong itself. Audited as a login."""
    if current_session(request) is not None:
        raise Forbidden("password_required", "a session is opened with the username and password (HTTP Basic), "
                                             "not with the token of another one")
    return sessions.open(user, client_address(request))


@router.delete("/session", status_code=204, responses=errors(400))
def end_session(user: CurrentUser, request: Request, sessions: SessionsDep) -> None:
    """Log out: the session of the token sent (Bearer) ends everywhere. Audited."""
    session = current_session(request)
    if session is None:
        raise BadRequest("no_session", "log out ends a session: send its token (Authorization: Bearer <token>)")
    sessions.end(session, f"user:{user}")
