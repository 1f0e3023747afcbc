"""The CLI contract the backend relies on: exit codes, one-line errors, JSON from describe, info."""
from __future__ import annotations

import json
import subprocess
import sys

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


@pytest.mark.slow
def test_bench_runs_both_variants_and_the_scale_scenarios_and_saves_json(tmp_path):
    result = subprocess.run([sys.executable, "-m", "benchmarks", "--strategies", "50", "--ticks", "2000",
                             "--repeats", "1", "--scale-seconds", "2", "--density-n", "2", "--density-seconds", "2",
                             "--fleet-n", "20", "--out", str(tmp_path)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, result.stderr
    assert "interpreted" in result.stdout
    [saved] = list(tmp_path.glob("clock_scheduler-*.json"))
    record = json.loads(saved.read_text())
    assert record["results"]["interpreted"]["ticks"] >= 2000
    assert ("compiled" in record["results"]) == clock.COMPILED
    assert [(r["strategies"], r["interval_s"]) for r in record["scale"]] == [(1000, 1.0), (100, 0.1)]
    for scenario in record["scale"]:
        assert scenario["ticks"] > 0 and scenario["errors"] == 0
        assert {"lag_p50_ms", "lag_p99_ms", "starvation_events", "memory_per_strategy_mb"} <= set(scenario)
        assert scenario["memory_per_strategy_mb"] < 1.0
    assert "lag p99 ms" in result.stdout
    [density] = record["density"]
    assert (density["single"]["processes"], density["many"]["processes"]) == (1, 2)
    assert density["sockets_single"] <= 3 and density["sockets_many"] >= 2 * density["sockets_single"]
    assert density["single"]["pss_mb"] > 0 and density["memory_ratio"] < 1.0
    assert [r["instances"] for r in record["dashboard"]] == [20, 200]
    assert "fleet table" in result.stdout
    assert [row["bots"] for row in record["fleet"]["rows"]] == [20]
