"""Settings and credentials: never a fixed default password."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from backend.settings import CredentialsError, Settings, ensure_credentials

HIVE_VARS = ("HIVE_ENV", "HIVE_USERNAME", "HIVE_PASSWORD", "DATABASE_URL", "HIVE_DATA_DIR")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in HIVE_VARS:
        monkeypatch.delenv(name, raising=False)


def test_development_without_password_generates_one_into_a_private_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    generated = ensure_credentials(env_file)
    assert generated is not None and len(generated.password) >= 16
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    text = env_file.read_text()
    assert f"HIVE_PASSWORD={generated.password}" in text and "HIVE_USERNAME=admin" in text
    settings = Settings(_env_file=env_file)
    assert settings.password_value() == generated.password and settings.username == "admin"


def test_an_existing_env_file_with_a_password_is_made_private(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("HIVE_PASSWORD=chosen-by-the-operator\n")
    env_file.chmod(0o644)
    assert ensure_credentials(env_file) is None
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_generated_passwords_differ_between_installations(tmp_path: Path) -> None:
    first = ensure_credentials(tmp_path / "a.env")
    second = ensure_credentials(tmp_path / "b.env")
    assert first.password != second.password


def test_second_start_finds_the_password_and_generates_nothing(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    ensure_credentials(env_file)
    before = env_file.read_text()
    assert ensure_credentials(env_file) is None
    assert env_file.read_text() == before


def test_existing_env_file_is_appended_to_and_its_username_kept(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("HIVE_USERNAME=operator\nHIVE_BROKER_PORT=1999")  # no trailing newline
    generated = ensure_credentials(env_file)
    assert generated.username == "operator"
    lines = env_file.read_text().splitlines()
    assert lines[:2] == ["HIVE_USERNAME=operator", "HIVE_BROKER_PORT=1999"]
    assert lines.count("HIVE_USERNAME=operator") == 1 and lines[2].startswith("HIVE_PASSWORD=")
    assert Settings(_env_file=env_file).broker_port == 1999


def test_comments_quoting_and_other_lines_of_an_existing_env_file_are_kept(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    original = ('# Hive settings\n'
                'export HIVE_USERNAME="ops team"   # quoted, with a comment\n'
                '\n'
                "HIVE_MQTT_NAMESPACE='fleet#1'\n")
    env_file.write_text(original)
    env_file.chmod(0o644)
    generated = ensure_credentials(env_file)
    assert generated.username == "ops team"
    text = env_file.read_text()
    assert text == original + f"HIVE_PASSWORD={generated.password}\n"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600            # narrowed before the password went in
    settings = Settings.from_env_file(env_file)
    assert (settings.username, settings.mqtt_namespace) == ("ops team", "fleet#1")
    assert settings.password_value() == generated.password


def test_an_empty_password_line_is_filled_in_place(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("HIVE_PASSWORD=\nHIVE_BROKER_PORT=1999\n")
    generated = ensure_credentials(env_file)
    assert env_file.read_text().splitlines() == [f"HIVE_PASSWORD={generated.password}", "HIVE_BROKER_PORT=1999",
                                                 "HIVE_USERNAME=admin"]


def test_a_symlinked_env_file_is_written_through_to_its_target(tmp_path: Path) -> None:
    target = tmp_path / "secrets" / "hive.env"
    target.parent.mkdir()
    target.write_text("HIVE_BROKER_PORT=1999\n")
    link = tmp_path / ".env"
    link.symlink_to(target)
    generated = ensure_credentials(link)
    assert link.is_symlink() and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert f"HIVE_PASSWORD={generated.password}" in target.read_text().splitlines()


def test_production_without_password_refuses_to_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIVE_ENV", "production")
    env_file = tmp_path / ".env"
    with pytest.raises(CredentialsError, match="HIVE_PASSWORD"):
        ensure_credentials(env_file)
    assert not env_file.exists()


def test_production_with_password_from_environment_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIVE_ENV", "production")
    monkeypatch.setenv("HIVE_PASSWORD", "from-the-environment")
    assert ensure_credentials(tmp_path / ".env") is None


def test_defaults_and_database_url_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert (settings.backend_host, settings.backend_port) == ("127.0.0.1", 8000)
    assert (settings.broker_host, settings.broker_port) == ("127.0.0.1", 1883)
    assert (settings.heartbeat_interval, settings.heartbeat_timeout, settings.start_timeout) == (10, 30, 60)
    assert settings.database() == f"sqlite:///{(tmp_path / 'hive.db').resolve()}"
    assert settings.password is None
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/hive")
    assert Settings(_env_file=None).database() == "postgresql://db/hive"


def test_namespace_drops_trailing_separator() -> None:
    assert Settings(_env_file=None, mqtt_namespace="fleet/").namespace() == "fleet"
