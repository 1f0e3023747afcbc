"""Benchmark: the fleet table of the Instances page at 20 and 200 instances, side by side.

The instances are real-shaped (the backend's InstanceOut in the listing's summary view, with varied states,
pairs, PnL and resource use) and served to the page's own code by a stand-in client: the totals come from the
backend's own `totals`, the listing as given. Each size is measured twice:

- build: the table's frame from the listing's JSON (frontend.tables.instances_frame);
- render: one run of the fleet table (totals, filters, table, bulk actions: pages/instances/fleet.fleet_table)
  through Streamlit's AppTest, which executes the script and serialises every element as it would for a
  browser (the browser's own drawing is not included).

`python -m benchmarks.dashboard` prints the figures and the 200/20 ratio.
"""
from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from backend.domain.instances import InstanceOut, PnlSummary, RestartPolicy

SIZES = (20, 200)
STATES = ("running",) * 6 + ("error", "stopped", "created", "starting")


def fake_fleet(count: int, seed: int = 7) -> list[dict]:
    """`count` instances as GET /instances?view=summary answers them."""
    rng = random.Random(seed)
    now = time.time()
    fleet = []
    for index in range(count):
        state = STATES[index % len(STATES)]
        live = state in ("running", "starting")
        realized = rng.uniform(-50, 80)
        fleet.append(InstanceOut(
            name=f"bot-{index:04d}", runtime="docker" if index % 3 == 0 else "process", state=state,
            reason="heartbeat received 1 s ago" if live else "exited with code 1: RuntimeError: venue refused",
            state_since=now - rng.uniform(0, 86_400), created_at=now - 90_000, pid=10_000 + index if live else None,
            last_heartbeat_age_s=round(rng.uniform(0, 3), 1) if live else None,
            cpu_percent=round(rng.uniform(0, 40), 1) if live else None,
            memory_bytes=rng.randrange(30, 200) * 2**20 if live else None,
            network_rx_bytes=rng.randrange(10**6) if index % 3 == 0 and live else None,
            network_tx_bytes=rng.randrange(10**6) if index % 3 == 0 and live else None,
            host="local" if index % 3 == 0 else None,
            pnl=PnlSummary(realized=realized, unrealized=rng.uniform(-5, 5), total=realized,
                           volume=rng.uniform(0, 1e5)),
            pnl_unit="USDT" if index % 10 else "mixed", strategies=[], strategy_count=1 + index % 5,
            trade_count=rng.randrange(5000), started_at=now - 3600 if live else None,
            uptime_s=3600.0 if live else None,
            restart_policy=RestartPolicy(),
        ).model_dump(mode="json"))
    return fleet


def _page(path: str) -> None:
    """The benchmarked page: the fleet table over the listing in the file at `path`."""
    import json as json_module  # AppTest runs this function's source alone
    from pathlib import Path as PathType

    import streamlit as st

    from backend.domain.instances import InstanceOut as Out
    from backend.orchestrator.listing import totals
    from backend.orchestrator.state import BROKER_UNREACHABLE
    from frontend import session
    from pages.instances.fleet import fleet_table

    listing = json_module.loads(PathType(path).read_text())

    class Client:  # the backend client's calls the fleet table makes, answered from the listing
        def fleet(self, **_filters: object) -> list[dict]:
            return listing

        def fleet_totals(self, **_filters: object) -> dict:
            return totals([Out.model_validate(item) for item in listing], BROKER_UNREACHABLE).model_dump(mode="json")

        def list_hosts(self) -> list[dict]:
            return [{"name": "local"}]

    session.init_state()
    fleet_table(Client())  # type: ignore[arg-type]
    st.caption(f"{len(listing)} instances")


def measure(count: int, repeats: int) -> dict[str, Any]:
    """Median seconds to build the frame and to render the fleet table of `count` instances."""
    from streamlit.testing.v1 import AppTest

    from frontend.tables import instances_frame

    listing = fake_fleet(count)
    instances_frame(listing)  # pandas' first frame pays for its imports
    builds = []
    for _ in range(repeats):
        started = time.perf_counter()
        instances_frame(listing)
        builds.append(time.perf_counter() - started)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(listing, handle)
    try:
        app = AppTest.from_function(_page, args=(handle.name,), default_timeout=120)
        app.run()  # the first run imports and warms up
        if app.exception:
            raise RuntimeError(f"the fleet table failed to render: {app.exception}")
        renders = []
        for _ in range(repeats):
            started = time.perf_counter()
            app.run()
            renders.append(time.perf_counter() - started)
        rows = len(next(frame for frame in app.dataframe).value)
    finally:
        Path(handle.name).unlink()
    if rows != count:
        raise RuntimeError(f"the table showed {rows} rows of {count}")
    return {"instances": count, "build_ms": statistics.median(builds) * 1000,
            "render_ms": statistics.median(renders) * 1000, "repeats": repeats}


def dashboard_benchmark(sizes: tuple[int, ...] = SIZES, repeats: int = 5) -> list[dict[str, Any]]:
    return [measure(count, repeats) for count in sizes]


def print_dashboard(results: list[dict[str, Any]]) -> None:
    print(f"fleet table: build the frame and render the table (AppTest), median of {results[0]['repeats']}")
    print(f"{'instances':>9} {'build ms':>9} {'render ms':>10}")
    for result in results:
        print(f"{result['instances']:>9} {result['build_ms']:>9.1f} {result['render_ms']:>10.1f}")
    if len(results) > 1:
        first, last = results[0], results[-1]
        build, render = last["build_ms"] / first["build_ms"], last["render_ms"] / first["render_ms"]
        print(f"{last['instances']} vs {first['instances']} instances: build {build:.1f}x, render {render:.1f}x")


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print_dashboard(dashboard_benchmark(repeats=2 if quick else 5))
