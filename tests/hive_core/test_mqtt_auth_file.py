"""The broker login an instance is handed in a file of its own (mqtt_auth_file), so that its config never holds a
password: read at start into the mqtt_bridge settings, relative to the config's folder, refused in words."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hive_core.config import ConfigError, load_instance_config

PASSWORD = "broker-pass-never-printed"


def write_instance(folder: Path, login: dict | str | None) -> Path:
    config = {"instance_id": "bot1", "strategies": [{"id": "mm", "strategy": "market_maker"}],
              "mqtt_bridge": {"mqtt_port": 1884, "mqtt_auth_file": "mqtt_auth.json"}}
    if login is not None:
        (folder / "mqtt_auth.json").write_text(login if isinstance(login, str) else json.dumps(login))
    path = folder / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_login_file_fills_the_bridge_settings(tmp_path: Path) -> None:
    path = write_instance(tmp_path, {"mqtt_username": "hive-instances", "mqtt_password": PASSWORD})
    bridge = load_instance_config(path).mqtt_bridge

    assert (bridge.mqtt_username, bridge.mqtt_password, bridge.mqtt_port) == ("hive-instances", PASSWORD, 1884)
    assert PASSWORD not in path.read_text()


def test_without_the_file_the_config_has_no_login(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump({"instance_id": "bot1", "strategies": [{"id": "mm", "strategy": "market_maker"}]}))
    bridge = load_instance_config(path).mqtt_bridge
    assert (bridge.mqtt_auth_file, bridge.mqtt_username, bridge.mqtt_password) == (None, "", "")


@pytest.mark.parametrize(("login", "words"), [
    (None, "cannot read the MQTT login file"),
    ("{not json " + PASSWORD, "not valid JSON"),
    ({"mqtt_username": "", "mqtt_password": PASSWORD}, "needs a non-empty mqtt_username"),
    ({"mqtt_username": "u", "mqtt_password": 7}, "needs a non-empty mqtt_username and an mqtt_password"),
])
def test_an_unusable_login_file_is_named_never_shown(tmp_path: Path, login: dict | str | None, words: str) -> None:
    path = write_instance(tmp_path, login)
    with pytest.raises(ConfigError) as raised:
        load_instance_config(path)
    assert words in str(raised.value) and str(tmp_path / "mqtt_auth.json") in str(raised.value)
    assert PASSWORD not in str(raised.value)
