"""The API's 422 answers in words for people, whatever the client: each problem names its field, says what the value
must be and quotes what was sent (never under a field that may hold a secret)."""
from __future__ import annotations

import re

import httpx
import pytest

from backend.api.validation import describe_request_problems, phrase
from backend.client import BackendError
from tests.backend.conftest import PASSWORD, USERNAME

MM = {"id": "mm1", "strategy": "market_maker"}


def refused(call, *args, **kwargs) -> BackendError:
    with pytest.raises(BackendError) as raised:
        call(*args, **kwargs)
    assert (raised.value.status, raised.value.code) == (422, "validation_error"), raised.value.message
    return raised.value


@pytest.mark.parametrize(("body", "message"), [
    ({"name": "", "strategies": [MM]},
     "name: must be 1-63 letters, digits, '_' or '-', starting with a letter or digit (got '')"),
    ({"name": "bot1", "strategies": []}, "strategies: needs at least 1 item (got 0)"),
    ({"name": "bot1", "strategies": [{**MM, "interval": 0}]}, "strategies.0.interval: must be more than 0 (got 0)"),
    ({"name": "bot1", "strategies": [MM], "runtime": "vm"}, "runtime: must be 'process' or 'docker' (got 'vm')"),
    ({"name": "bot1", "strategies": [MM], "runtime": "docker", "limits": {"memory_mb": 8}},
     "limits.memory_mb: must be at least 64 (got 8)"),
    ({"name": "bot1", "strategies": [{**MM, "colour": "red"}]},
     "strategies.0.colour: is not a field here: leave it out (check its spelling)"),
    ({"strategies": [MM]}, "name: is required"),
    ({"name": "bot1", "strategies": [MM], "restart_policy": {"max_retries": "many"}},
     "restart_policy.max_retries: must be a whole number (got 'many')"),
])
def test_create_refusals_say_what_the_field_must_be_and_what_was_sent(client, body: dict, message: str) -> None:
    error = refused(client.create_instance, body)
    assert error.message == message
    assert "Value error" not in error.message and "Input should" not in error.message


def test_several_problems_are_all_named_in_one_answer(client) -> None:
    error = refused(client.create_instance, {"name": "a b", "strategies": [{"id": "x!", "strategy": "market_maker"}]})
    parts = error.message.split("; ")
    assert [part.split(":")[0] for part in parts] == ["name", "strategies.0.id"]
    assert parts[1].endswith("(got 'x!')")


def test_a_query_parameter_out_of_range_is_named(client) -> None:
    error = refused(client.instance_logs, "bot1", 0)
    assert error.message == "limit: must be at least 1 (got '0')"  # a query's values arrive as text


def test_a_secret_sent_in_a_wrong_shape_is_never_quoted_back(client) -> None:
    error = refused(client._request, "POST", "/credentials",
                    json={"name": "main", "venue": "binance", "api_key": 9876543210, "secret": ["hush-1234"]})
    assert error.message.startswith("api_key: must be text")
    assert "9876543210" not in error.message and "hush-1234" not in error.message


def test_a_body_that_is_not_json_or_missing_says_so(hive_backend) -> None:
    with httpx.Client(base_url=hive_backend.url, auth=(USERNAME, PASSWORD)) as http:
        broken = http.post("/instances", content=b"{not json", headers={"content-type": "application/json"})
        missing = http.post("/instances")
    assert broken.status_code == 422 and broken.json()["detail"].startswith("the request body is not valid JSON")
    assert missing.status_code == 422 and missing.json() == {"detail": "the request body is required",
                                                             "code": "validation_error"}


def test_a_long_value_is_shortened_and_an_unlisted_problem_keeps_pydantic_s_words() -> None:
    long = "x" * 100
    worded = describe_request_problems([{"type": "string_too_long", "loc": ("body", "name"), "input": long,
                                         "ctx": {"max_length": 63}, "msg": "String should have at most 63 characters"}])
    assert worded == f"name: must be at most 63 characters (got '{'x' * 40}…')"
    assert phrase({"type": "url_parsing", "loc": ("body", "url"), "msg": "Input should be a valid URL"}) == \
        "Input should be a valid URL"


def test_the_rules_published_for_the_create_form_are_the_ones_create_enforces(client, hive_backend) -> None:
    """GET /rules/instance lets the dashboard check a field as it is typed; its patterns and limits must be the
    ones POST /instances applies, and its words the ones its refusals use."""
    rules = client.instance_rules()
    assert re.match(rules["id_pattern"], "bot-1") and not re.match(rules["id_pattern"], "-bot")
    assert rules["id_rule"] in refused(client.create_instance, {"name": "-bot", "strategies": [MM]}).message
    assert re.match(rules["pair_pattern"], "BTC-USDT") and not re.match(rules["pair_pattern"], "btc-usdt")
    assert rules["pair_rule"] in refused(client.create_instance, {"name": "bot1", "trading_pairs": ["btc-usdt"],
                                                                  "strategies": [MM]}).message
    too_many = [f"A{index}-USDT" for index in range(rules["max_pairs"] + 1)]
    assert "trading_pairs" in refused(client.create_instance, {"name": "bot1", "trading_pairs": too_many,
                                                               "strategies": [MM]}).message
    for field, least in (("memory_mb", rules["min_memory_mb"]), ("pids", rules["min_pids"])):
        error = refused(client.create_instance, {"name": "bot1", "strategies": [MM], "runtime": "docker",
                                                 "limits": {field: least - 1}})
        assert error.message == f"limits.{field}: must be at least {least} (got {least - 1})"
    assert httpx.get(f"{hive_backend.url}/rules/instance").status_code == 401
