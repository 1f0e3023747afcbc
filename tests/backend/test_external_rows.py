"""The external bots' summary rows are built once per supervisor round, not per listing
(backend/orchestrator/queries.py): a summary listing shows them as the last round built them, the full view and one
bot's read as heard now."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from backend.domain.instances import InstanceQuery
from backend.orchestrator.queries import InstanceQueries
from backend.orchestrator.state import Thresholds
from backend.services import Services
from tests.backend.conftest import make_settings

SUMMARY = InstanceQuery(view="summary")


@pytest.fixture
def services(tmp_path) -> Iterator[Services]:
    services = Services(make_settings(tmp_path / "data", supervisor_interval=10.0))  # no round expires in the test
    yield services
    services.close()


def hear(services: Services, bot: str) -> None:
    now = time.time()
    services.fleet.handle(f"hbot/{bot}/hb", json.dumps({"ts": int(now * 1e6)}).encode(), now)


def names(queries: InstanceQueries, query: InstanceQuery) -> list[str]:
    return [item.name for item in queries.listing(query)[0]]


def test_a_summary_listing_shows_the_external_bots_as_the_last_round_built_them(services: Services) -> None:
    queries = services.instances.queries
    hear(services, "ext-a")
    assert names(queries, SUMMARY) == ["ext-a"]  # nothing built yet: built now
    hear(services, "ext-b")
    assert names(queries, SUMMARY) == ["ext-a"]
    assert queries.totals(SUMMARY).instances == 1
    assert names(queries, InstanceQuery(view="full")) == ["ext-a", "ext-b"]
    assert queries.get("ext-b").runtime == "external"

    services.instances.tick()  # the supervisor's round
    assert names(queries, SUMMARY) == ["ext-a", "ext-b"]
    assert [item.state for item in queries.listing(SUMMARY)[0]] == ["running", "running"]


def test_a_summary_listing_builds_the_rows_itself_when_no_round_did_lately(services: Services) -> None:
    queries = InstanceQueries(services.store, services.fleet, services.instances.recorder, services.broker,
                              Thresholds.of(services.settings), services.settings.external_gone_after, {},
                              round_interval=0.0)
    hear(services, "ext-a")
    assert names(queries, SUMMARY) == ["ext-a"]
    hear(services, "ext-b")
    assert names(queries, SUMMARY) == ["ext-a", "ext-b"]
