"""The CLI contract the backend relies on: exit codes, one-line errors, JSON from describe, info."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hive_core import clock, scheduler
from tests.conftest import REPO_ROOT
from tests.hive_core.conftest import run_cli

pytestmark = pytest.mark.integration


def test_check_accepts_the_example_instance():
    result = run_cli("check", "--config", "examples/instance.yml")
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "ok", "")


def test_check_rejects_a_bad_param_with_one_line_naming_the_field(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump({"instance_id": "b", "strategies": [
        {"id": "a", "strategy": "market_maker"},
        {"id": "b", "strategy": "market_maker", "params": {"spread_bps": "wide"}}]}))
    result = run_cli("check", "--config", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("config error: ")
    assert "strategies.1.params.spread_bps: Input should be a valid number" in lines[0]
    assert result.stdout == ""


def test_run_with_a_bad_config_exits_2_with_one_line(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("instance_id: x\nstrategies:\n  - {id: a, strategy: market_maker, interval: -1}\n")
    result = run_cli("run", "--config", str(path), timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"config error: {path}: strategies.0.interval: Input should be greater than 0"]


def test_run_with_a_missing_file_or_unknown_strategy_exits_2(tmp_path):
    missing = run_cli("run", "--config", str(tmp_path / "nope.yml"), timeout=30)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    path = tmp_path / "unknown.yml"
    path.write_text("instance_id: x\nstrategies:\n  - {id: a, strategy: nope}\n")
    unknown = run_cli("check", "--config", str(path))
    assert unknown.returncode == 2
    assert "strategies.0.strategy: unknown strategy 'nope'" in unknown.stderr
    assert "available: market_maker, momentum" in unknown.stderr


def test_describe_lists_shipped_and_dir_strategies_as_json(strategy_dir):
    result = run_cli("describe", "--strategy-dir", str(strategy_dir))
    assert result.returncode == 0, result.stderr
    described = json.loads(result.stdout)
    names = [item["name"] for item in described]
    assert {"market_maker", "momentum", "taker", "broken_tick"} <= set(names)
    for item in described:
        assert set(item) == {"name", "description", "params_schema", "interface_version"}
    taker = next(item for item in described if item["name"] == "taker")
    assert taker["params_schema"]["properties"]["amount"]["default"] == 0.05


def test_describe_file_with_a_syntax_error_exits_2(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("x = 1\ndef broken(:\n    pass\n")
    result = run_cli("describe", "--file", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("SyntaxError at line 2: ")
    assert result.stdout == ""


def test_describe_single_file(strategy_dir):
    result = run_cli("describe", "--file", str(strategy_dir / "taker.py"))
    assert result.returncode == 0, result.stderr
    [item] = json.loads(result.stdout)
    assert item["name"] == "taker" and item["interface_version"] == 1
    assert item["description"].startswith("Buys with a market order")


def test_describe_skips_a_broken_file_in_a_dir_and_says_so(tmp_path):
    (tmp_path / "bad.py").write_text("def (:\n")
    result = run_cli("describe", "--strategy-dir", str(tmp_path))
    assert result.returncode == 0
    assert "bad.py: SyntaxError at line 1" in result.stderr
    assert "bad" not in [item["name"] for item in json.loads(result.stdout)]


def test_info_reports_which_clock_is_active_and_the_python_version():
    result = run_cli("info")
    assert result.returncode == 0
    first = result.stdout.splitlines()[0]
    assert first in ("hive_core 0.1.0: clock compiled (Cython)", "hive_core 0.1.0: clock interpreted (pure Python)")
    assert first.endswith("compiled (Cython)") == clock.COMPILED      # it reports the one this interpreter imports
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in result.stdout
    assert ("scheduler: compiled" in result.stdout) == scheduler.COMPILED


# The benchmark suite (`python -m benchmarks`) at its smallest: --quick shortens the parts that have no knob of their
# own (fan-out, orders, signing, the dashboard's repeats, the fleet's commands, listings and window), the rest are
# given tiny sizes. It runs as two CLI runs that xdist can run side by side: the scale scenarios (CPU-bound: 1,000
# strategies added one by one) in one, the parts that are skippable, the fleet's heartbeat timeout among them, in
# the other. The parts every run does (clock+scheduler, fan-out, orders, signing, venue memory, dashboard) are
# checked in both.
BENCH_TINY = ("--quick", "--strategies", "50", "--ticks", "2000", "--repeats", "1", "--venue-seconds", "1")


def run_bench(out: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    """`python -m benchmarks` with BENCH_TINY and `args`: its output and the JSON it saved, checked for the parts
    every run does."""
    result = subprocess.run([sys.executable, "-m", "benchmarks", *BENCH_TINY, *args, "--out", str(out)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, result.stderr
    assert "interpreted" in result.stdout
    [saved] = list(out.glob("clock_scheduler-*.json"))
    record = json.loads(saved.read_text())
    assert record["results"]["interpreted"]["ticks"] >= 2000
    assert ("compiled" in record["results"]) == clock.COMPILED
    assert [r["instances"] for r in record["dashboard"]] == [20, 200]
    assert [side["venue"] for side in record["venue_memory"]["sides"]] == ["binance", "ccxt"]
    assert record["venue_memory"]["rss_ratio"] > 1.0   # ccxt's cost: the instance that imports it is bigger
    assert "fleet table" in result.stdout
    return result, record


@pytest.mark.slow
def test_bench_runs_both_variants_and_the_scale_scenarios_and_saves_json(tmp_path):
    result, record = run_bench(tmp_path, "--scale-seconds", "2", "--density-n", "", "--feed-seconds", "0",
                               "--fleet-n", "")
    assert [(r["strategies"], r["interval_s"]) for r in record["scale"]] == [(1000, 1.0), (100, 0.1)]
    for scenario in record["scale"]:
        assert scenario["ticks"] > 0 and scenario["errors"] == 0
        assert {"lag_p50_ms", "lag_p99_ms", "starvation_events", "memory_per_strategy_mb"} <= set(scenario)
        assert scenario["memory_per_strategy_mb"] < 1.0
    assert "lag p99 ms" in result.stdout


@pytest.mark.slow
def test_bench_runs_density_feed_and_fleet_and_saves_json(tmp_path):
    result, record = run_bench(tmp_path, "--skip-scale", "--density-n", "2", "--density-seconds", "2",
                               "--feed-instances", "0", "--feed-seconds", "1", "--feed-rates", "1000",
                               "--fleet-n", "20")
    [density] = record["density"]
    assert (density["single"]["processes"], density["many"]["processes"]) == (1, 2)
    assert density["sockets_single"] <= 3 and density["sockets_many"] >= 2 * density["sockets_single"]
    assert density["single"]["pss_mb"] > 0 and density["memory_ratio"] < 1.0
    feed = record["feed"]   # its instances' part left out (--feed-instances 0): the service's runs, 0.2 s each, ~6 s
    assert feed["sharing"] is None and "sharing: skipped" in result.stdout
    assert set(feed["latency"]["paths"]) == {"direct", "service (unix)", "service (tcp)"}
    assert all(row["received"] > 0 for row in feed["latency"]["paths"].values())
    assert [row["rate"] for row in feed["fanout"]["paths"]["service (unix)"]["rows"]] == [1_000]
    assert [row["framing"] for row in feed["framing"]["rows"]] == ["websocket", "newline-delimited json"]
    [fleet] = record["fleet"]["rows"]
    assert fleet["bots"] == 20
    # both ways a bot vanishes are seen: its Last Will at once, a clean DISCONNECT at the quick run's heartbeat timeout
    assert fleet["will_s"] is not None and fleet["clean_s"] is not None
    assert fleet["clean_s"] >= record["fleet"]["heartbeat_timeout_s"] - 2 * record["fleet"]["heartbeat_s"]
