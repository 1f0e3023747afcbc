"""HTTP Basic auth on everything but GET /health, and errors always as {detail, code}."""
from __future__ import annotations

import httpx
import pytest

from backend.api.app import create_app
from backend.client import BackendError, HiveClient
from backend.settings import CredentialsError, Settings
from tests.backend.conftest import PASSWORD, USERNAME
from tests.polling import wait_until


def test_health_answers_without_credentials(hive_backend) -> None:
    response = httpx.get(f"{hive_backend.url}/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"


@pytest.mark.parametrize("path", ["/auth/check", "/broker", "/instances", "/strategies", "/instances/x/logs",
                                  "/docs", "/openapi.json"])
def test_every_other_route_needs_credentials(hive_backend, path: str) -> None:
    response = httpx.get(f"{hive_backend.url}{path}")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("username, password", [(USERNAME, "wrong"), ("someone", PASSWORD), ("", "")])
def test_wrong_credentials_get_401(hive_backend, username: str, password: str) -> None:
    client = HiveClient(hive_backend.url, username, password)
    with pytest.raises(BackendError) as raised:
        client.check_login()
    assert (raised.value.status, raised.value.code) == (401, "unauthorized")
    client.close()


def test_right_credentials_pass(client) -> None:
    assert client.check_login() == {"ok": True, "username": USERNAME, "expires_at": None}  # no session: HTTP Basic


def test_api_docs_are_served_to_the_logged_in(hive_backend) -> None:
    auth = (USERNAME, PASSWORD)
    # the schema is built on the first ask (0.7 s of CPU alone; more beside the other workers than httpx's 5 s)
    schema = httpx.get(f"{hive_backend.url}/openapi.json", auth=auth, timeout=30).json()
    assert "/instances/{name}/history" in schema["paths"] and "/docs" not in schema["paths"]
    assert "swagger" in httpx.get(f"{hive_backend.url}/docs", auth=auth, timeout=30).text.lower()


def test_unknown_route_and_bad_body_errors_carry_a_code(hive_backend) -> None:
    auth = (USERNAME, PASSWORD)
    missing = httpx.get(f"{hive_backend.url}/nope", auth=auth)
    assert missing.status_code == 404 and missing.json() == {"detail": "Not Found", "code": "not_found"}
    invalid = httpx.post(f"{hive_backend.url}/broker/external", json={"host": "x", "port": 0}, auth=auth)
    assert invalid.status_code == 422 and invalid.json()["code"] == "validation_error"
    assert "port" in invalid.json()["detail"]


def test_app_refuses_to_be_built_without_a_password(tmp_path) -> None:
    with pytest.raises(CredentialsError):
        create_app(Settings(_env_file=None, data_dir=tmp_path, password=None))


def test_wrong_logins_lock_the_address_out_with_a_growing_back_off_and_are_audited(backend_factory) -> None:
    backend = backend_factory(login_free_attempts=2, login_backoff_base=1.0)
    check, right, wrong = f"{backend.url}/auth/check", (USERNAME, PASSWORD), ("tester", "guess-number-1")
    assert httpx.get(check, auth=wrong).status_code == 401
    assert httpx.get(check, auth=wrong).status_code == 401  # the second one locks the address out for 1 s

    locked = httpx.get(check, auth=right)
    assert locked.status_code == 429, "the right password is refused too during a lock-out"
    assert locked.headers["retry-after"] == "1"
    assert locked.json() == {"detail": "too many wrong logins from 127.0.0.1: try again in 1 s",
                             "code": "too_many_attempts"}
    # no credentials are not a wrong login: 401 once the lock-out is over
    wait_until(lambda: httpx.get(check).status_code == 401, 5, message="the lock-out over")
    assert httpx.get(check, auth=wrong).status_code == 401
    doubled = httpx.get(check, auth=right)
    assert doubled.status_code == 429 and doubled.headers["retry-after"] == "2"

    audit = backend.services.events.audit_log(10)
    refused = [entry for entry in audit if entry.action == "login"]
    assert [entry.outcome for entry in refused] == ["refused"] * 3
    assert refused[0].actor == "login:'tester' from 127.0.0.1"
    assert [entry.detail for entry in refused] == ["wrong username or password; locked out for 2 s",
                                                   "wrong username or password; locked out for 1 s",
                                                   "wrong username or password"]
    assert all("guess-number-1" not in f"{entry.actor} {entry.detail}" for entry in audit)


def test_a_right_login_forgets_the_wrong_ones(backend_factory) -> None:
    backend = backend_factory(login_free_attempts=2)
    check, right, wrong = f"{backend.url}/auth/check", (USERNAME, PASSWORD), (USERNAME, "typo")
    for _ in range(3):
        assert httpx.get(check, auth=wrong).status_code == 401
        assert httpx.get(check, auth=right).status_code == 200


def test_the_schema_declares_the_error_body_the_api_answers(hive_backend) -> None:
    schema = httpx.get(f"{hive_backend.url}/openapi.json", auth=(USERNAME, PASSWORD), timeout=30).json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert set(schema["components"]["schemas"]["ErrorBody"]["required"]) == {"detail", "code"}
    error_body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    external = schema["paths"]["/broker/external"]["post"]["responses"]
    assert {status for status in external if status >= "400"} == {"401", "409", "422", "429", "500"}
    assert all(external[status]["content"] == error_body for status in external if status >= "400")
    webhook = schema["paths"]["/webhooks/tradingview/{hook}"]["post"]["responses"]
    assert {status for status in webhook if status >= "400"} == {"401", "403", "404", "409", "413", "422", "429", "500"}
