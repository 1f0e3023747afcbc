"""The OpenAPI schema says what the API really answers: schemathesis calls every operation of the real backend,
logged in, with data made from the schema (valid and invalid), and checks each answer against it.

Left out: the operations that reach beyond this machine or the test's own processes (Docker engines, image
builds and pulls, other hosts' brokers) or start bots."""
from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.backend.conftest import PASSWORD, USERNAME

EXAMPLES = 2   # per operation and generation mode: valid and invalid data for each, in about half a minute


@pytest.fixture
def api_schema(hive_backend):
    spec = httpx.get(f"{hive_backend.url}/openapi.json", auth=(USERNAME, PASSWORD), timeout=10).json()
    schema = schemathesis.openapi.from_dict(spec)
    schema.config.update(base_url=hive_backend.url, basic_auth=(USERNAME, PASSWORD), request_timeout=30)
    return schema


schema = (schemathesis.pytest.from_fixture("api_schema")
          .exclude(path_regex=r"^/(docker|images|hosts)(/|$)")
          .exclude(path_regex=r"^/broker/(start|external)$")
          .exclude(method="POST", path_regex=r"^/instances(/[^/]+/(start|restart|commands/.*))?$")
          .exclude(method="POST", path_regex=r"^/bot-orchestration/(start-bot|deploy-v2-.*)$"))


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_the_schema_declares(case) -> None:
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])
