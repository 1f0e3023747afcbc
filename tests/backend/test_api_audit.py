"""Every operator action is in the audit log: who, which route, which resource, and how it ended.

Actions whose service writes its own entry (credentials, commands) are recorded once, by that service; a request
with a wrong login is not an action: it is recorded once, as a refused login."""
from __future__ import annotations

import httpx
import pytest

from backend.client import BackendError
from tests.backend.conftest import USERNAME
from tests.backend.test_api_instances import spec

GOOD = "from hive_core.strategy import Strategy\n\n\nclass Grid(Strategy):\n    pass\n"
ACTOR = f"user:{USERNAME}"


def actions(client) -> list[tuple[str, str, str, str | None]]:
    """(actor, action, outcome, instance), oldest first."""
    return [(e["actor"], e["action"], e["outcome"], e["instance"]) for e in reversed(client.audit_log())]


@pytest.mark.usefixtures("running_broker")
def test_instance_lifecycle_and_uploads_are_audited_with_user_route_resource_and_outcome(client) -> None:
    client.create_instance(spec("aud1", start=False))
    client.upload_strategy("grid.py", GOOD)
    with pytest.raises(BackendError):
        client.upload_strategy("bad.py", "this is not python(")
    client.delete_instance("aud1")
    with pytest.raises(BackendError):
        client.delete_instance("aud1")
    seen = [entry for entry in actions(client) if entry[0] == ACTOR]  # not the backend's own (logins it made)
    expected = [
        (ACTOR, "broker", "start_requested", None),
        (ACTOR, "POST /instances", "ok", None),
        (ACTOR, "strategy upload", "ok", None),  # audited by the library, with the author
        (ACTOR, "strategy upload", "refused", None),
        (ACTOR, "DELETE /instances/{name}", "ok", "aud1"),
        (ACTOR, "DELETE /instances/{name}", "refused (404)", "aud1"),
    ]
    assert seen == expected
    assert "name=aud1" in client.audit_log(instance="aud1")[0]["detail"]


def test_an_action_its_service_audits_is_recorded_once_and_a_wrong_login_only_as_a_refused_login(hive_backend,
                                                                                                  client) -> None:
    client.create_credential("k1", "binance", "key-123", "secret-456")
    intruder = httpx.post(f"{hive_backend.url}/credentials", json={"name": "k2"}, auth=(USERNAME, "wrong"))
    assert intruder.status_code == 401
    assert actions(client) == [(ACTOR, "credential", "created", None),
                               (f"login:{USERNAME!r} from 127.0.0.1", "login", "refused", None)]
