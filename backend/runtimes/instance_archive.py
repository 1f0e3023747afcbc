"""An instance's files as a tar, for an engine that cannot see this machine's files: the docker runtime copies it
into the instance's volume (`put_archive`) before the container starts.

What goes in is what the instance reads: config.yml, strategies/*.py, and credentials.json and mqtt_auth.json when
the folder has them (SECRETS, mode 0600 whatever the folder says), and the folder the instance writes its journal
to (empty here: on the host it is a volume of its own, kept from run to run, which this entry makes the
instance's). Every entry is owned by `uid`: the engine keeps the tar's owners when it extracts, and the backend
cannot chown anything on another machine.
"""
from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

from backend.runtimes.config_file import CONFIG_NAME, CREDENTIALS_NAME, JOURNAL_DIR, MQTT_AUTH_NAME, STRATEGY_DIR

SECRETS = (CREDENTIALS_NAME, MQTT_AUTH_NAME)


def instance_archive(folder: Path, uid: int) -> bytes:
    """The tar of the files in `folder` that the instance reads, owned by uid:uid, paths relative to the folder."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for path in _read_by_instance(folder):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(folder)))
            info.uid = info.gid = uid
            info.uname = info.gname = ""  # the numeric owner decides: the remote machine's names are unknown here
            if path.name in SECRETS:
                info.mode = 0o600
            if info.isdir():
                tar.addfile(info)
            else:
                with open(path, "rb") as file:
                    tar.addfile(info, file)
        journal = tarfile.TarInfo(JOURNAL_DIR)
        journal.type, journal.mode, journal.uid, journal.gid = tarfile.DIRTYPE, 0o700, uid, uid
        tar.addfile(journal)
    return data.getvalue()


def _read_by_instance(folder: Path) -> Iterator[Path]:
    yield folder / CONFIG_NAME
    strategies = folder / STRATEGY_DIR
    if strategies.is_dir():
        yield strategies
        yield from sorted(strategies.glob("*.py"))
    for name in SECRETS:
        if (folder / name).is_file():
            yield folder / name
