"""A listing marks the external bots (backend/orchestrator/queries.py: their state and figures, read under the
fleet's lock) and builds the rows of those on its page only: the rows it shows are those one bot's read shows, the
filters, order and totals go by the same figures, and nothing is built between listings."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from backend.domain.instances import InstanceQuery
from backend.orchestrator.queries import InstanceQueries
from backend.services import Services
from tests.backend.conftest import make_settings

SUMMARY = InstanceQuery(view="summary")


@pytest.fixture
def services(tmp_path) -> Iterator[Services]:
    services = Services(make_settings(tmp_path / "data"))
    yield services
    services.close()


def hear(services: Services, bot: str, kind: str = "hb", payload: dict | None = None, at: float | None = None) -> None:
    now = time.time() if at is None else at
    body = {"ts": int(now * 1e6)} if payload is None else payload
    services.fleet.handle(f"hbot/{bot}/{kind}", json.dumps(body).encode(), now)


def performance(realized: float, status: str = "running") -> dict:
    return {"grid": {"status": status, "performance": {"realized_pnl_quote": realized, "global_pnl_quote": realized,
                                                       "unrealized_pnl_quote": 0.0, "volume_traded": 10.0}}}


def names(queries: InstanceQueries, query: InstanceQuery) -> list[str]:
    return [item.name for item in queries.listing(query)[0]]


def test_a_listing_shows_every_external_bot_as_heard_now(services: Services) -> None:
    queries = services.instances.queries
    hear(services, "ext-a")
    assert names(queries, SUMMARY) == ["ext-a"]
    hear(services, "ext-b")
    assert names(queries, SUMMARY) == ["ext-a", "ext-b"]  # no round in between: marked at each listing
    assert queries.totals(SUMMARY).instances == 2
    assert names(queries, InstanceQuery(view="full")) == ["ext-a", "ext-b"]


def test_a_listed_row_is_the_bots_own_read_without_its_strategies(services: Services) -> None:
    queries = services.instances.queries
    now = time.time()
    hear(services, "ext-a", at=now - 3)
    hear(services, "ext-a", "performance", performance(12.5), at=now - 3)
    hear(services, "ext-b", at=now - 1)
    hear(services, "ext-b", "performance", performance(-2.0, status="stopped"), at=now - 1)
    listed = {row.name: row for row in queries.listing(SUMMARY)[0]}
    for name in ("ext-a", "ext-b"):
        own = queries.get(name)
        assert own.strategies and own.strategies[0].pnl.realized == own.pnl.realized
        expected = own.model_dump(exclude={"strategies", "last_heartbeat_age_s", "reason"})
        assert listed[name].model_dump(exclude={"strategies", "last_heartbeat_age_s", "reason"}) == expected
        assert listed[name].strategies == [] and listed[name].strategy_count == 1
        assert listed[name].last_heartbeat_age_s == pytest.approx(own.last_heartbeat_age_s, abs=0.5)
    assert listed["ext-a"].pnl.realized == 12.5 and listed["ext-b"].pnl.realized == -2.0
    full = {row.name: row for row in queries.listing(InstanceQuery(view="full"))[0]}
    assert [s.id for s in full["ext-a"].strategies] == ["grid"] and full["ext-a"].strategies[0].status == "running"


def test_filters_order_page_and_totals_go_by_the_marked_figures(services: Services) -> None:
    queries = services.instances.queries
    now = time.time()
    for n, realized in enumerate((5.0, -1.0, 3.0)):
        hear(services, f"ext-{n}", at=now)
        hear(services, f"ext-{n}", "performance", performance(realized), at=now)
    hear(services, "ext-off", "status_updates", {"type": "availability", "msg": "offline"}, at=now)
    by_pnl = InstanceQuery(view="summary", sort="-pnl", limit=2)
    rows, total = queries.listing(by_pnl)
    assert [row.name for row in rows] == ["ext-0", "ext-2"] and total == 4
    rows, _total = queries.listing(by_pnl.model_copy(update={"offset": 2}))
    assert [row.name for row in rows] == ["ext-off", "ext-1"]  # none reported counts as 0, above -1
    assert names(queries, InstanceQuery(view="summary", state=["stopped"])) == ["ext-off"]
    assert names(queries, InstanceQuery(view="summary", q="went offline")) == ["ext-off"]
    assert names(queries, InstanceQuery(view="summary", runtime="process")) == []
    totals = queries.totals(SUMMARY)
    assert totals.instances == 4 and totals.by_state == {"running": 3, "stopped": 1}
    assert totals.pnl.realized == pytest.approx(7.0) and totals.strategies == 3


def test_the_supervisors_round_builds_no_rows(services: Services, monkeypatch) -> None:
    hear(services, "ext-a")
    built: list[str] = []
    original = InstanceQueries._external_row
    monkeypatch.setattr(InstanceQueries, "_external_row",
                        staticmethod(lambda mark, view: built.append(mark.name) or original(mark, view)))
    services.instances.tick()
    assert built == []
    assert names(services.instances.queries, InstanceQuery(view="summary", limit=1)) == ["ext-a"]
    assert built == ["ext-a"]
