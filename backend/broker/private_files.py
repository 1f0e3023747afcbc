"""Files only their owner may read (the broker's logins and ACL), written whole or not at all."""
from __future__ import annotations

import os
from pathlib import Path


def write_private(folder: Path, files: dict[str, str], owner: int | None = None) -> None:
    """Write each `name: text` into `folder` (0700), 0600 from the first byte and replaced atomically, so that a
    broker reading them never sees half a file; `owner` (a uid, when running as root) gets folder and files."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    for name, text in files.items():
        path, temporary = folder / name, folder / f".{name}.tmp"
        temporary.unlink(missing_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        if owner is not None:
            os.chown(temporary, owner, owner)
        os.replace(temporary, path)
    if owner is not None:
        os.chown(folder, owner, owner)
