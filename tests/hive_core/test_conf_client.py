"""Hummingbot's conf_client.yml next to the instance config: its mqtt_bridge section gives the defaults,
the instance config's own mqtt_bridge overrides them key by key."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hive_core.config import ConfigError, load_instance_config
from tests.hive_core.conftest import instance_config

pytestmark = pytest.mark.timeout(60)

CLIENT = {
    "instance_id": "ignored",              # other sections and keys of Hummingbot's file are ignored
    "kill_switch_mode": {},
    "mqtt_bridge": {"mqtt_host": "broker.example", "mqtt_port": 8883, "mqtt_username": "bot",
                    "mqtt_password": "s3cret", "mqtt_namespace": "fleet/", "mqtt_ssl": True,
                    "mqtt_logger": False, "mqtt_external_events": False, "mqtt_timeout": 30,
                    "mqtt_events": None},
}


def write(directory: Path, name: str, data) -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_conf_client_gives_defaults_and_the_instance_config_overrides(tmp_path):
    write(tmp_path, "conf_client.yml", CLIENT)
    path = write(tmp_path, "bot.yml", {"instance_id": "b1", "strategies": [{"id": "a", "strategy": "market_maker"}],
                                       "mqtt_bridge": {"mqtt_port": 1884, "mqtt_logger": True}})
    settings = load_instance_config(path).mqtt_bridge
    assert (settings.mqtt_host, settings.mqtt_port) == ("broker.example", 1884)
    assert (settings.mqtt_username, settings.mqtt_password, settings.mqtt_ssl) == ("bot", "s3cret", True)
    assert settings.mqtt_namespace == "fleet" and settings.mqtt_logger is True
    assert settings.mqtt_external_events is False and settings.mqtt_events is True    # null -> default


def test_without_conf_client_or_section_the_defaults_apply(tmp_path):
    path = write(tmp_path, "bot.yml", {"instance_id": "b1", "strategies": [{"id": "a", "strategy": "market_maker"}]})
    assert load_instance_config(path).mqtt_bridge.mqtt_host == "localhost"
    write(tmp_path, "conf_client.yml", {"log_level": "INFO"})
    assert load_instance_config(path).mqtt_bridge.mqtt_port == 1883


def test_a_broken_conf_client_is_a_config_error_naming_the_file(tmp_path):
    path = write(tmp_path, "bot.yml", {"instance_id": "b1", "strategies": [{"id": "a", "strategy": "market_maker"}]})
    write(tmp_path, "conf_client.yml", "mqtt_bridge: [1, 2\n")
    with pytest.raises(ConfigError, match="conf_client.yml: not valid YAML"):
        load_instance_config(path)
    write(tmp_path, "conf_client.yml", {"mqtt_bridge": {"mqtt_port": "many"}})
    with pytest.raises(ConfigError, match="mqtt_bridge.mqtt_port"):
        load_instance_config(path)


def test_a_bot_connects_with_the_broker_of_conf_client(mqtt_broker, mqtt_probe, spawn_hive, tmp_path):
    config = instance_config(None, [{"id": "mm1", "strategy": "market_maker"}])
    del config["mqtt_bridge"]["mqtt_port"], config["mqtt_bridge"]["mqtt_host"]
    username, password = mqtt_broker.credentials
    write(tmp_path, "conf_client.yml", {"mqtt_bridge": {"mqtt_host": mqtt_broker.host, "mqtt_port": mqtt_broker.port,
                                                        "mqtt_namespace": "cc", "mqtt_username": username,
                                                        "mqtt_password": password}})
    hive = spawn_hive(config)
    mqtt_probe.wait_for(f"cc/{hive.instance_id}/status_updates", lambda m: m.json()["msg"] == "online", timeout=20)
