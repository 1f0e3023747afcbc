"""The credentials file an instance is handed: read at start into a frozen object that hides its secrets,
and checked by `hive_core check` without printing them."""
from __future__ import annotations

import json
from pathlib import Path

import pydantic
import pytest
import yaml

from hive_core.config import ConfigError
from hive_core.credentials import VenueCredentials, load_credentials
from tests.hive_core.conftest import run_cli

SECRET = "wJalrXUtnFEMI-very-secret"
CONTENT = {"name": "binance_main", "venue": "binance_testnet", "api_key": "AKIA-key-a1b2", "secret": SECRET,
           "passphrase": "open-sesame"}


def write_instance(folder: Path, credentials: dict | str | None) -> Path:
    config = {"instance_id": "bot1", "strategies": [{"id": "mm", "strategy": "market_maker"}],
              "credentials": {"file": "credentials.json"}}
    if credentials is not None:
        text = credentials if isinstance(credentials, str) else json.dumps(credentials)
        (folder / "credentials.json").write_text(text)
    path = folder / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_loaded_credentials_are_frozen_and_their_repr_hides_the_secrets(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(json.dumps(CONTENT))
    credentials = load_credentials(tmp_path / "c.json")

    assert (credentials.name, credentials.venue) == ("binance_main", "binance_testnet")
    assert credentials.secret.get_secret_value() == SECRET
    assert credentials.passphrase is not None and credentials.passphrase.get_secret_value() == "open-sesame"
    for shown in (repr(credentials), str(credentials), credentials.model_dump_json()):
        assert SECRET not in shown and "AKIA-key-a1b2" not in shown and "open-sesame" not in shown
    with pytest.raises(pydantic.ValidationError):
        credentials.venue = "other"  # type: ignore[misc]


@pytest.mark.parametrize(("content", "words"), [
    (None, "cannot read the credentials file"),
    ("{not json", "not valid JSON"),
    ({**CONTENT, "secret": ""}, "secret: Value should have at least 1 item"),
    ({**CONTENT, "extra": SECRET}, "extra: Extra inputs are not permitted"),
])
def test_an_unusable_file_is_a_config_error_naming_it_but_never_its_content(tmp_path: Path, content, words) -> None:
    path = tmp_path / "c.json"
    if content is not None:
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(ConfigError) as error:
        load_credentials(path)
    assert str(path) in str(error.value) and words in str(error.value)
    assert SECRET not in str(error.value)


@pytest.mark.integration
def test_check_validates_the_named_credentials_file_without_printing_it(tmp_path: Path) -> None:
    good = run_cli("check", "--config", str(write_instance(tmp_path, CONTENT)))
    assert (good.returncode, good.stdout.strip()) == (0, "ok")
    assert SECRET not in good.stdout + good.stderr

    (tmp_path / "credentials.json").unlink()
    missing = run_cli("check", "--config", str(write_instance(tmp_path, None)))
    assert missing.returncode == 2 and "credentials.json: cannot read the credentials file" in missing.stderr

    broken = run_cli("check", "--config", str(write_instance(tmp_path, {**CONTENT, "venue": "not valid!"})))
    assert broken.returncode == 2 and "venue:" in broken.stderr and SECRET not in broken.stderr


def test_the_config_refuses_unknown_keys_in_its_credentials_section() -> None:
    from hive_core.config import parse_instance_config
    with pytest.raises(ConfigError, match="credentials.secret: Extra inputs are not permitted"):
        parse_instance_config({"instance_id": "b", "strategies": [{"id": "a", "strategy": "market_maker"}],
                               "credentials": {"file": "c.json", "secret": "x"}})
    assert VenueCredentials.model_config.get("frozen") is True
