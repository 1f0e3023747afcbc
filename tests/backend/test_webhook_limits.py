"""The public webhook's limits: the body's size (refused while it streams in, not after), what an event may
carry onto the broker, the same alert written differently, and timestamps from the future."""
from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from backend.client import BackendError

ANSWER_WAIT = 10.0   # s a raw request waits for the answer


def _hook(client) -> dict:
    return client.create_webhook({"event": "tv.alert", "targets": "all"})


def _send_head(backend, path: str, headers: str) -> socket.socket:
    port = int(backend.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WAIT)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{headers}\r\n"
                 .encode())
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict]:
    """The status and JSON body of the answer (socket.timeout when none comes within ANSWER_WAIT)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the connection closed without an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = int(next(line.split(b":")[1] for line in lines if line.lower().startswith(b"content-length")))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed in the middle of the answer"
        body += chunk
    return int(lines[0].split(b" ")[1]), json.loads(body[:length])


def test_a_declared_body_over_the_cap_is_refused_before_it_is_sent(hive_backend) -> None:
    hook = _hook(hive_backend.client)
    with _send_head(hive_backend, f"{hook['path']}?secret={hook['secret']}", "Content-Length: 5000000\r\n") as sock:
        status, body = _answer(sock)  # nothing of the body was sent
    assert status == 413
    assert body == {"detail": "the body has 5000000 bytes; at most 65536 are allowed (HIVE_WEBHOOK_MAX_BODY)",
                    "code": "too_large"}
    audit = hive_backend.client.audit_log()[0]
    assert (audit["action"], audit["outcome"]) == ("webhook", "too_large")
    assert hive_backend.client.list_events() == []


def test_a_streamed_body_is_refused_at_the_first_chunk_past_the_cap(hive_backend) -> None:
    hook = _hook(hive_backend.client)
    chunk = b" " * 16384
    with _send_head(hive_backend, f"{hook['path']}?secret={hook['secret']}", "Transfer-Encoding: chunked\r\n") as sock:
        for _ in range(5):  # 80 KB of a body that would go on to 5 MB: the answer comes without the rest
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        status, body = _answer(sock)
    assert (status, body["code"]) == (413, "too_large")
    assert "more than 65536 bytes" in body["detail"]
    assert hive_backend.client.list_events() == []


def test_an_event_carries_at_most_event_max_data_bytes_from_webhooks_and_the_api(backend_factory) -> None:
    backend = backend_factory(event_max_data=1024)
    client = backend.client
    hook = _hook(client)
    big = {"note": "x" * 2000}
    answer = httpx.post(f"{backend.url}{hook['path']}", json={"secret": hook["secret"], **big}, timeout=10)
    assert answer.status_code == 413 and answer.json()["code"] == "too_large"
    assert "at most 1024 are allowed (HIVE_EVENT_MAX_DATA)" in answer.json()["detail"]
    assert client.audit_log()[0]["outcome"] == "too_large"
    with pytest.raises(BackendError) as refused:
        client.publish_event("tv.manual", big, "all")
    assert refused.value.status == 413 and "2012 bytes as JSON" in refused.value.message
    assert client.list_events() == []
    assert httpx.post(f"{backend.url}{hook['path']}", json={"secret": hook["secret"], "note": "small"},
                      timeout=10).status_code == 202


def test_the_same_alert_with_its_keys_reordered_or_respaced_is_a_replay(hive_backend) -> None:
    hook = _hook(hive_backend.client)
    url = f"{hive_backend.url}{hook['path']}"
    first = json.dumps({"secret": hook["secret"], "ticker": "BTCUSDT", "action": "buy", "n": 1})
    again = json.dumps({"n": 1, "action": "buy", "ticker": "BTCUSDT", "secret": hook["secret"]}, indent=2)
    assert httpx.post(url, content=first, timeout=10).status_code == 202
    replay = httpx.post(url, content=again, timeout=10)
    assert replay.status_code == 409 and replay.json()["code"] == "replay"
    assert httpx.post(url, content=again.replace('"buy"', '"sell"'), timeout=10).status_code == 202


def test_a_timestamp_beyond_the_clock_skew_is_refused(hive_backend) -> None:
    hook = _hook(hive_backend.client)
    url = f"{hive_backend.url}{hook['path']}"
    ahead = httpx.post(url, json={"secret": hook["secret"], "timestamp": int(time.time()) + 3600}, timeout=10)
    assert ahead.status_code == 422 and ahead.json()["code"] == "future"
    assert "ahead of this server's clock; at most 30 s allowed" in ahead.json()["detail"]
    assert hive_backend.client.audit_log()[0]["outcome"] == "future"
    slightly = httpx.post(url, json={"secret": hook["secret"], "timestamp": int(time.time() * 1000) + 10_000},
                          timeout=10)
    assert slightly.status_code == 202, "a sender's clock a little ahead is fine"
