"""Where the credentials key is: HIVE_CREDENTIALS_KEY, or else `<data_dir>/credentials.key` (mode 0600).

The file is generated on first use, like the login password; there is never a default key.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet

KEY_FILE = "credentials.key"
ENV_NAME = "HIVE_CREDENTIALS_KEY"


@dataclass(frozen=True)
class KeyLocation:
    path: Path
    from_environment: str | None = None

    @property
    def source(self) -> Literal["file", "environment"]:
        return "environment" if self.from_environment else "file"

    def describe(self) -> str:
        return ENV_NAME if self.from_environment else str(self.path)

    def read(self) -> str | None:
        """The key, or None when neither the environment nor the file has one."""
        if self.from_environment:
            return self.from_environment
        try:
            return self.path.read_text().strip() or None
        except FileNotFoundError:
            return None

    @property
    def staged(self) -> Path:
        return self.path.with_name(self.path.name + ".new")

    def stage(self, key: str) -> None:
        """Write the key beside the key file, readable by its owner alone, ready for `install`."""
        self.staged.unlink(missing_ok=True)
        descriptor = os.open(self.staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(key + "\n")
            file.flush()
            os.fsync(file.fileno())

    def install(self) -> None:
        """The staged key becomes the key file, at once."""
        os.replace(self.staged, self.path)

    def write(self, key: str) -> None:
        self.stage(key)
        self.install()


def generate_key() -> str:
    return Fernet.generate_key().decode()
