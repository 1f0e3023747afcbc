"""External events (POST /events) and TradingView webhooks, checked on the wire with a raw MQTT probe."""
from __future__ import annotations

import json
import time

import httpx
import pytest

from backend.client import BackendError
from tests.backend.sim_bots import SimBot
from tests.polling import wait_until


@pytest.fixture
def fleet_backend(hive_backend, mqtt_broker):
    hive_backend.client.use_external_broker(mqtt_broker.host, mqtt_broker.port, *mqtt_broker.credentials)
    return hive_backend


@pytest.fixture
def two_bots(fleet_backend, mqtt_broker):
    bots = [SimBot(mqtt_broker.host, mqtt_broker.port, name, login=mqtt_broker.credentials)
            for name in ("evb1", "evb2")]
    wait_until(lambda: {"evb1", "evb2"} <= {i["name"] for i in fleet_backend.client.list_instances()}, 10,
               message="both bots heard")
    yield bots
    for bot in bots:
        bot.close()


def test_an_event_reaches_each_target_topic_with_the_exact_payload_and_is_stored(fleet_backend, two_bots,
                                                                                  mqtt_probe) -> None:
    client = fleet_backend.client
    before = time.time()
    event = client.publish_event("tv.signal.buy", {"ticker": "BTCUSDT", "price": 101.5}, ["evb1", "evb2"])
    assert event["sender"] == "user:tester" and event["targets"] == ["evb1", "evb2"]
    assert event["deliveries"] == {"evb1": "published", "evb2": "published"}
    for bot in ("evb1", "evb2"):
        payload = mqtt_probe.wait_for(f"hbot/{bot}/external/event/tv/signal/buy")[0].json()
        assert payload == {"timestamp": payload["timestamp"], "sequence": event["id"], "type": "eevent",
                           "data": {"ticker": "BTCUSDT", "price": 101.5}}
        assert before * 1000 - 1 <= payload["timestamp"] <= time.time() * 1000 + 1
    listed = client.list_events()
    assert listed[0]["id"] == event["id"] and listed[0]["deliveries"] == event["deliveries"]


def test_all_targets_every_known_bot_and_unknown_targets_are_refused(fleet_backend, two_bots, mqtt_probe) -> None:
    client = fleet_backend.client
    event = client.publish_event("ping", {}, "all")
    assert set(event["targets"]) >= {"evb1", "evb2"}
    mqtt_probe.wait_for("hbot/evb2/external/event/ping")
    with pytest.raises(BackendError) as caught:
        client.publish_event("ping", {}, ["ghost"])
    assert caught.value.status == 404 and "ghost" in caught.value.message
    with pytest.raises(BackendError) as caught:
        client.publish_event("bad/name", {}, ["evb1"])
    assert caught.value.status == 422


def _hook(client, **overrides) -> dict:
    spec = {"event": "tv.alert", "targets": ["evb1"], "rate_per_min": 5} | overrides
    return client.create_webhook(spec)


def test_webhook_with_the_secret_in_body_or_query_becomes_an_event(fleet_backend, two_bots, mqtt_probe) -> None:
    client = fleet_backend.client
    hook = _hook(client)
    assert hook["secret"] in hook["alert_template"] and hook["path"] == f"/webhooks/tradingview/{hook['hook']}"
    assert "secret" not in client.list_webhooks()[0]
    public = httpx.Client(base_url=fleet_backend.url, timeout=10)  # no HTTP Basic
    try:
        started = time.monotonic()
        answer = public.post(hook["path"], json={"secret": hook["secret"], "action": "buy"})
        assert answer.status_code == 202 and time.monotonic() - started < 3
        payload = mqtt_probe.wait_for("hbot/evb1/external/event/tv/alert")[0].json()
        assert payload["data"] == {"action": "buy"} and payload["type"] == "eevent"
        assert payload["sequence"] == answer.json()["event_id"]

        answer = public.post(hook["path"], params={"secret": hook["secret"]}, content=b"sell BTCUSDT now",
                             headers={"content-type": "text/plain"})
        assert answer.status_code == 202
        payload = mqtt_probe.wait_for("hbot/evb1/external/event/tv/alert", count=2)[1].json()
        assert payload["data"] == {"message": "sell BTCUSDT now"}
        def stored() -> list[dict]:
            events = [e for e in client.list_events() if e["sender"] == f"webhook:{hook['hook']}"
                      and e["deliveries"].get("evb1") == "published"]
            return events if len(events) == 2 else []
        events = wait_until(stored, 5, message="both alerts stored as published events")
        assert sorted(e["data"].get("action", e["data"].get("message")) for e in events) == ["buy", "sell BTCUSDT now"]
        assert [a["outcome"] for a in client.audit_log()][:2] == ["accepted", "accepted"]
    finally:
        public.close()


def test_webhook_refusals_are_audited_and_never_forwarded(fleet_backend, two_bots, mqtt_probe) -> None:
    client = fleet_backend.client
    hook = _hook(client, max_lag=30, rate_per_min=4)
    public = httpx.Client(base_url=fleet_backend.url, timeout=10)
    path, secret = hook["path"], hook["secret"]
    try:
        assert public.post(path, json={"secret": "wrong", "a": 1}).status_code == 401
        assert public.post(path, json={"a": 1}).status_code == 401
        assert public.post(path, params={"secret": secret}, content=b"{broken json").status_code == 422
        assert public.post(path, json={"secret": secret, "timestamp": int(time.time()) - 120}).status_code == 422
        assert public.post("/webhooks/tradingview/nohook", json={"secret": secret}).status_code == 404
        fresh = {"secret": secret, "timestamp": int(time.time() * 1000), "n": 1}
        assert public.post(path, json=fresh).status_code == 202
        assert public.post(path, json=fresh).status_code == 409  # replay: the same body again
        for n in range(2, 5):
            status = public.post(path, json=fresh | {"n": n}).status_code
            assert status == (202 if n < 5 else 429)
        assert public.post(path, json=fresh | {"n": 9}).status_code == 429  # 4 per minute
        received = wait_until(lambda: (found := mqtt_probe.received("hbot/+/external/event/#")) and len(found) >= 4
                              and found, 10, message="the accepted alerts forwarded")
        forwarded = [m.json() for m in received]
        assert sorted(p["data"]["n"] for p in forwarded) == [1, 2, 3, 4]
        outcomes = [a["outcome"] for a in client.audit_log()]
        for outcome in ("unauthorized", "invalid", "stale", "replay", "rate_limited"):
            assert outcome in outcomes
        assert all(secret not in a["detail"] for a in client.audit_log())
    finally:
        public.close()


@pytest.mark.fault
def test_replay_and_rate_limit_survive_a_backend_restart(backend_factory, fleet_backend, two_bots) -> None:
    hook = _hook(fleet_backend.client, rate_per_min=2)
    alert = {"secret": hook["secret"], "action": "buy"}
    first = httpx.post(f"{fleet_backend.url}{hook['path']}", json=alert, timeout=10)
    assert first.status_code == 202
    fleet_backend.stop()
    restarted = backend_factory(settings=fleet_backend.settings)
    wait_until(lambda: "evb1" in {i["name"] for i in restarted.client.list_instances()}, 10, message="evb1 heard again")
    public = httpx.Client(base_url=restarted.url, timeout=10)
    try:
        again = public.post(hook["path"], json=alert)
        assert again.status_code == 409 and again.json()["code"] == "replay"
        assert public.post(hook["path"], json=alert | {"n": 2}).status_code == 202
        limited = public.post(hook["path"], json=alert | {"n": 3})
        assert limited.status_code == 429, "two calls per minute, counted across the restart"
    finally:
        public.close()


def test_webhook_allowlist_and_management(fleet_backend, two_bots) -> None:
    client = fleet_backend.client
    assert client.tradingview_ips() == ["52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7"]
    hook = _hook(client, allow_ips=client.tradingview_ips(), hook="tv-only")
    answer = httpx.post(fleet_backend.url + hook["path"], json={"secret": hook["secret"]}, timeout=10)
    assert answer.status_code == 403  # the test runs on 127.0.0.1
    assert [h["hook"] for h in client.list_webhooks()] == ["tv-only"]
    with pytest.raises(BackendError) as caught:
        _hook(client, hook="tv-only")
    assert caught.value.status == 409
    client.delete_webhook("tv-only")
    assert client.list_webhooks() == []
    with pytest.raises(BackendError) as caught:
        client.delete_webhook("tv-only")
    assert caught.value.status == 404
    assert json.loads(httpx.get(fleet_backend.url + "/webhooks", timeout=10).text)["code"] == "unauthorized"
