"""Config validation and strategy loading: every error names the field or the line."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hive_core.config import ConfigError, load_instance_config, parse_instance_config
from hive_core.loader import StrategyLoader, StrategyLoadError, resolve_instance

BASE = {"instance_id": "bot1", "strategies": [{"id": "mm1", "strategy": "market_maker"}]}


def with_strategies(*entries: dict) -> dict:
    return {**BASE, "strategies": list(entries)}


@pytest.mark.parametrize(("data", "field"), [
    ({**BASE, "instance_id": "bad id!"}, "instance_id"),
    ({**BASE, "strategies": []}, "strategies"),
    (with_strategies({"id": "a", "strategy": "market_maker", "interval": 0}), "strategies.0.interval"),
    (with_strategies({"id": "a", "strategy": "market_maker"}, {"id": "a", "strategy": "momentum"}), "strategies.1.id"),
    (with_strategies({"id": "a", "strategy": "market_maker", "trading_pair": "XRP-USDT"}), "strategies.0.trading_pair"),
    (with_strategies({"id": "a", "strategy": "market_maker", "spread": 3}), "strategies.0.spread"),
    ({**BASE, "mqtt_bridge": {"mqtt_port": 70000}}, "mqtt_bridge.mqtt_port"),
    ({**BASE, "venue": {"fee_rate": "high"}}, "venue.fee_rate"),
])
def test_invalid_config_error_names_the_field(data, field):
    with pytest.raises(ConfigError) as caught:
        parse_instance_config(data)
    assert f"{field}:" in str(caught.value)


def test_namespace_trailing_separator_is_dropped():
    config = parse_instance_config({**BASE, "mqtt_bridge": {"mqtt_namespace": "fleet/"}})
    assert config.mqtt_bridge.mqtt_namespace == "fleet"


def test_example_instance_config_is_valid_and_resolves(tmp_path):
    path = Path(__file__).resolve().parents[2] / "examples" / "instance.yml"
    config = load_instance_config(path)
    resolved = resolve_instance(config, base_dir=path.parent)
    assert [item.spec.name for item in resolved] == ["market_maker", "market_maker", "momentum"]
    assert resolved[0].params != resolved[1].params


def test_unknown_strategy_lists_the_available_names():
    config = parse_instance_config(with_strategies({"id": "a", "strategy": "nope"}))
    with pytest.raises(ConfigError) as caught:
        resolve_instance(config)
    message = str(caught.value)
    assert message.startswith("strategies.0.strategy: unknown strategy 'nope'")
    assert "market_maker" in message and "momentum" in message


def test_invalid_param_names_the_field_path():
    config = parse_instance_config(with_strategies(
        {"id": "a", "strategy": "market_maker"},
        {"id": "b", "strategy": "market_maker", "params": {"spread_bps": "wide"}}))
    with pytest.raises(ConfigError) as caught:
        resolve_instance(config)
    assert str(caught.value) == ("strategies.1.params.spread_bps: Input should be a valid number, "
                                 "unable to parse string as a number")


def test_unknown_param_is_rejected():
    config = parse_instance_config(with_strategies({"id": "a", "strategy": "momentum", "params": {"fast": 3}}))
    with pytest.raises(ConfigError, match=r"strategies\.0\.params\.fast: Extra inputs are not permitted"):
        resolve_instance(config)


def test_cross_field_param_validation_is_reported():
    config = parse_instance_config(with_strategies(
        {"id": "a", "strategy": "momentum", "params": {"fast_window": 9, "slow_window": 5}}))
    with pytest.raises(ConfigError, match="fast_window must be smaller than slow_window"):
        resolve_instance(config)


def write(directory: Path, name: str, source: str) -> Path:
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def test_syntax_error_reports_the_line(tmp_path):
    write(tmp_path, "broken", "from hive_core.strategy import Strategy\n\nclass X(Strategy)\n    pass\n")
    with pytest.raises(StrategyLoadError) as caught:
        StrategyLoader([tmp_path]).resolve("broken")
    assert str(caught.value).startswith("SyntaxError at line 3: ")


def test_import_time_error_names_the_file_and_line(tmp_path):
    write(tmp_path, "boom", "import nonexistent_module_xyz\n")
    with pytest.raises(StrategyLoadError, match=r"boom\.py \(line 1\): ModuleNotFoundError"):
        StrategyLoader([tmp_path]).resolve("boom")


def test_file_without_strategy_class_is_refused(tmp_path):
    write(tmp_path, "empty", "X = 1\n")
    with pytest.raises(StrategyLoadError, match="no Strategy class"):
        StrategyLoader([tmp_path]).resolve("empty")


def test_abstract_strategy_says_what_to_implement(tmp_path):
    write(tmp_path, "half", """
        from hive_core.strategy import Strategy
        class Half(Strategy):
            pass
    """)
    with pytest.raises(StrategyLoadError, match="abstract.*on_tick"):
        StrategyLoader([tmp_path]).resolve("half")


def test_two_strategy_classes_in_one_file_are_refused(tmp_path):
    write(tmp_path, "two", """
        from hive_core.strategy import Strategy
        class A(Strategy):
            def on_tick(self, now): pass
        class B(Strategy):
            def on_tick(self, now): pass
    """)
    with pytest.raises(StrategyLoadError, match=r"several Strategy classes \(A, B\)"):
        StrategyLoader([tmp_path]).resolve("two")


def test_imported_strategy_class_does_not_count_as_defined(tmp_path):
    write(tmp_path, "reexport", """
        from hive_core.strategy import Strategy
        from hive_core.strategies.momentum import Momentum
        class Mine(Strategy):
            def on_tick(self, now): pass
    """)
    assert StrategyLoader([tmp_path]).resolve("reexport").cls.__name__ == "Mine"


def test_unsupported_interface_version_is_refused(tmp_path):
    write(tmp_path, "future", """
        from hive_core.strategy import Strategy
        class Future(Strategy):
            interface_version = 2
            def on_tick(self, now): pass
    """)
    with pytest.raises(StrategyLoadError, match="interface_version 2"):
        StrategyLoader([tmp_path]).resolve("future")


def test_strategy_dir_shadows_a_shipped_name_and_is_searched_first(tmp_path):
    write(tmp_path, "momentum", """
        from hive_core.strategy import Strategy
        class MyMomentum(Strategy):
            '''My own momentum.'''
            def on_tick(self, now): pass
    """)
    loader = StrategyLoader([tmp_path])
    spec = loader.resolve("momentum")
    assert spec.cls.__name__ == "MyMomentum" and not spec.shipped
    assert loader.resolve("market_maker").shipped
    assert loader.available()["momentum"] == tmp_path / "momentum.py"


def test_relative_strategy_dirs_are_relative_to_the_config_file(tmp_path):
    (tmp_path / "mine").mkdir()
    write(tmp_path / "mine", "custom", """
        from hive_core.strategy import Strategy
        class Custom(Strategy):
            def on_tick(self, now): pass
    """)
    config = parse_instance_config({**with_strategies({"id": "c", "strategy": "custom"}), "strategy_dirs": ["mine"]})
    [item] = resolve_instance(config, base_dir=tmp_path)
    assert item.spec.cls.__name__ == "Custom"


def test_describe_gives_name_description_schema_and_version():
    spec = StrategyLoader().resolve("market_maker")
    described = spec.describe()
    assert described["name"] == "market_maker"
    assert described["description"].startswith("Quotes a bid and an ask")
    assert described["interface_version"] == 1
    props = described["params_schema"]["properties"]
    assert props["spread_bps"]["type"] == "number" and props["spread_bps"]["default"] == 10.0
    assert "description" in props["spread_bps"]
    assert described["params_schema"]["additionalProperties"] is False


def test_strategy_without_params_has_an_empty_frozen_schema(tmp_path):
    write(tmp_path, "plain", """
        from hive_core.strategy import Strategy
        class Plain(Strategy):
            '''Does nothing.'''
            def on_tick(self, now): pass
    """)
    spec = StrategyLoader([tmp_path]).resolve("plain")
    assert spec.describe()["params_schema"]["properties"] == {}
    with pytest.raises(StrategyLoadError, match="params.x: Extra inputs"):
        spec.validate_params({"x": 1})


@pytest.mark.parametrize(("data", "field"), [
    (with_strategies({"id": "a", "strategy": "market_maker", "quota": {"orders_per_second": 50}}),
     "strategies.0.quota.orders_per_second"),
    (with_strategies({"id": "a", "strategy": "market_maker", "quota": {"weight_per_minute": 1e6}}),
     "strategies.0.quota.weight_per_minute"),
    (with_strategies({"id": "a", "strategy": "market_maker", "priority": "high"}), "strategies.0.priority"),
    ({**BASE, "scheduler": {"policy": "fifo"}}, "scheduler.policy"),
    ({**BASE, "scheduler": {"tick_budget_ms": 0}}, "scheduler.tick_budget_ms"),
    ({**BASE, "scheduler": {"max_consecutive_overruns": "many"}}, "scheduler.max_consecutive_overruns"),
    ({**BASE, "scheduler": {"max_consecutive_failures": 0}}, "scheduler.max_consecutive_failures"),
    ({**BASE, "metrics_port": "http"}, "metrics_port"),
    ({**BASE, "metrics_port": 70000}, "metrics_port"),
    ({**BASE, "strategies": "market_maker"}, "strategies"),
])
def test_scheduler_quota_and_metrics_settings_are_checked_with_one_message_naming_the_field(data, field):
    with pytest.raises(ConfigError) as caught:
        parse_instance_config(data)
    assert str(caught.value).startswith(f"{field}:"), str(caught.value)


def test_duplicate_ids_are_refused_naming_the_second_entry():
    with pytest.raises(ConfigError, match=r"^strategies\.2\.id: duplicate strategy id 'a'$"):
        parse_instance_config(with_strategies({"id": "a", "strategy": "market_maker"},
                                              {"id": "b", "strategy": "market_maker"},
                                              {"id": "a", "strategy": "momentum"}))


def test_scheduler_settings_reach_the_runtime():
    from hive_core.runtime import Runtime
    config = parse_instance_config({**BASE, "scheduler": {"policy": "priority", "tick_budget_ms": 20,
                                                          "max_consecutive_failures": 2,
                                                          "max_consecutive_overruns": 4}})
    runtime = Runtime(config, resolve_instance(config), realtime=False, start_time=0.0)
    scheduler = runtime.scheduler
    assert (scheduler.policy_name, scheduler.tick_budget, scheduler.max_failures, scheduler.max_overruns) == \
        ("priority", 0.02, 2, 4)
