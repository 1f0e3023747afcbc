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
        (ACTOR, "POST /instances", "ok", "aud1"),
        (ACTOR, "strategy upload", "ok", None),  # audited by the library, with the author
        (ACTOR, "strategy upload", "refused", None),
        (ACTOR, "DELETE /instances/{name}", "ok", "aud1"),
        (ACTOR, "DELETE /instances/{name}", "refused (404)", "aud1"),
    ]
    assert seen == expected
    assert "name=aud1" in client.audit_log(instance="aud1")[0]["detail"]
    refused, stored = (e["detail"] for e in client.audit_entries(action="strategy upload"))
    assert refused.startswith("bad.py: ") and stored == "grid.py"     # which file, though the body is not kept


def test_an_action_its_service_audits_is_recorded_once_and_a_wrong_login_only_as_a_refused_login(hive_backend,
                                                                                                  client) -> None:
    client.create_credential("k1", "binance", "key-123", "secret-456")
    intruder = httpx.post(f"{hive_backend.url}/credentials", json={"name": "k2"}, auth=(USERNAME, "wrong"))
    assert intruder.status_code == 401
    assert actions(client) == [(ACTOR, "credential", "created", None),
                               (f"login:{USERNAME!r} from 127.0.0.1", "login", "refused", None)]


@pytest.mark.usefixtures("running_broker")
def test_every_kind_of_operator_action_lands_in_the_audit_log_and_its_filters_find_it(hive_backend, client) -> None:
    """Failed logins, creates, starts, stops, deletes, uploads, saves, broker actions, events and webhooks, each
    through the API, each found with who, what and the outcome; the filters narrow, page and search."""
    assert httpx.get(f"{hive_backend.url}/auth/check", auth=("mallory", "guess")).status_code == 401
    client.create_instance(spec("aud2", start=False))
    client.start_instance("aud2")
    client.stop_instance("aud2")
    client.delete_instance("aud2")
    client.upload_strategy("grid.py", GOOD)
    client.save_strategy("grid", GOOD + "# two\n")
    client.publish_event("tv.signal.buy", {"size": 1}, "all")
    with pytest.raises(BackendError):
        client.publish_event("tv.signal.buy", {}, ["nobody"])
    hook = client.create_webhook({"event": "tv.alert", "targets": "all"})
    webhook = f"{hive_backend.url}/webhooks/tradingview/{hook['hook']}"
    assert httpx.post(webhook, json={"secret": "wrong"}).status_code == 401
    client.delete_webhook(hook["hook"])
    client.stop_broker()

    def found(**filters) -> list[tuple[str, str, str]]:
        return [(e["actor"], e["action"], e["outcome"]) for e in reversed(client.audit_entries(**filters))]

    assert found(action="login") == [("login:'mallory' from 127.0.0.1", "login", "refused")]
    assert [(action, outcome) for _actor, action, outcome in found(actor=USERNAME)] == [
        ("broker", "start_requested"), ("POST /instances", "ok"), ("POST /instances/{name}/start", "ok"),
        ("POST /instances/{name}/stop", "ok"), ("DELETE /instances/{name}", "ok"), ("strategy upload", "ok"),
        ("strategy save", "ok"), ("event", "ok"), ("event", "refused"), ("POST /webhooks", "ok"),
        ("DELETE /webhooks/{hook}", "ok"), ("broker", "stop_requested")]
    assert [e["detail"] for e in client.audit_entries(instance="aud2")] == [
        "name=aud2", "name=aud2", "name=aud2", "name=aud2 runtime=process strategies=mm1:market_maker"]
    [refused_call] = client.audit_entries(action="webhook")
    assert refused_call["actor"].startswith(f"webhook:{hook['hook']} from ")
    assert refused_call["outcome"] == "unauthorized"
    [event] = client.audit_entries(action="event", outcome="ok")
    assert event["detail"].startswith("event ") and "(tv.signal.buy)" in event["detail"]
    assert "unknown target" in client.audit_entries(action="event", outcome="refused")[0]["detail"]
    [created] = client.audit_entries(action="POST /webhooks")
    assert f"hook={hook['hook']} event=tv.alert targets=all" in created["detail"]

    newest = client.audit_entries(limit=3)
    assert client.audit_entries(limit=2, offset=1) == newest[1:]          # paging
    assert client.audit_entries(q="TV.SIGNAL") == client.audit_entries(action="event")   # any case, in the detail
    assert client.audit_entries(q="100%_") == []                          # LIKE's wildcards are plain characters
    middle = newest[1]["ts"]
    assert all(e["ts"] >= middle for e in client.audit_entries(since=middle))
    assert all(e["ts"] < middle for e in client.audit_entries(until=middle))
    assert {"login", "event", "webhook", "broker", "POST /instances"} <= set(client.audit_actions())
