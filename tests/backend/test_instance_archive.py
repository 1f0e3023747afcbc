"""The tar a remote Docker host gets of an instance's folder: what the instance reads and nothing else, owned by the
container's user, the secrets 0600 (the volume's files get exactly these owners and modes: test_remote_host.py)."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

from backend.domain.instances import InstanceCreate
from backend.runtimes.config_file import (
    MQTT_AUTH_NAME,
    build_config,
    write_credentials_file,
    write_instance_files,
)
from backend.runtimes.instance_archive import instance_archive


def folder_with(tmp_path: Path, secrets: bool) -> Path:
    spec = InstanceCreate(name="bot", runtime="docker", strategies=[{"id": "q", "strategy": "quiet"}])
    config = build_config(spec, Path("/instance"), "127.0.0.1", 1883, "hbot", 1.0, with_credentials=secrets,
                          with_mqtt_auth=secrets)
    write_instance_files(tmp_path, config, {"quiet": "# a strategy\n"})
    if secrets:
        write_credentials_file(tmp_path, {"venue": "binance", "api_key": "k", "secret": "s"})
        write_credentials_file(tmp_path, {"mqtt_username": "bot", "mqtt_password": "p"}, MQTT_AUTH_NAME)
    (tmp_path / "process.log").write_text("a log the process runtime would write\n")
    (tmp_path / "exit_code").write_text("0\n")
    (tmp_path / "config.yml.tmp").write_text("half a config\n")
    return tmp_path


def entries(archive: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {info.name: info for info in tar.getmembers()}


def test_the_files_the_instance_reads_owned_by_its_user_with_the_secrets_0600(tmp_path: Path) -> None:
    folder = folder_with(tmp_path, secrets=True)
    (folder / "credentials.json").chmod(0o644)  # whatever the folder says, the copy is the owner's alone

    found = entries(instance_archive(folder, 10001))

    assert sorted(found) == ["config.yml", "credentials.json", "journal", "mqtt_auth.json", "strategies",
                             "strategies/quiet.py"]
    assert found["journal"].isdir() and found["journal"].mode == 0o700  # the instance writes its journal there
    assert {(info.uid, info.gid, info.uname, info.gname) for info in found.values()} == {(10001, 10001, "", "")}
    assert found["credentials.json"].mode == found["mqtt_auth.json"].mode == 0o600
    assert found["strategies"].isdir() and found["config.yml"].isfile()
    with tarfile.open(fileobj=io.BytesIO(instance_archive(folder, 10001))) as tar:
        config = tar.extractfile("config.yml")
        assert config is not None and config.read() == (folder / "config.yml").read_bytes()


def test_without_secrets_only_config_strategies_and_the_journal_folder(tmp_path: Path) -> None:
    found = entries(instance_archive(folder_with(tmp_path, secrets=False), 4242))

    assert sorted(found) == ["config.yml", "journal", "strategies", "strategies/quiet.py"]
    assert {info.uid for info in found.values()} == {4242}
