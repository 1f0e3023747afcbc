"""The venue credentials an instance is given by whoever started it: a JSON file its config names.

Read once at start (`hive_core run` and `hive_core check`); the object is frozen and its repr, str and
dump hide the secret parts, so logging it or printing a config error never reveals them. Requests are signed
with it by market/signing.py (HMAC or Ed25519); no venue kind that trades live uses it yet.
"""
from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError

from hive_core.config import ConfigError, Frozen, Identifier
from hive_core.validation import describe_validation_error


class VenueCredentials(Frozen):
    name: Identifier = Field(description="the credential's name in the backend's store")
    venue: Identifier
    api_key: SecretStr = Field(min_length=1)
    secret: SecretStr = Field(min_length=1)
    passphrase: SecretStr | None = None


def load_credentials(path: Path) -> VenueCredentials:
    """The credentials in `path`; ConfigError naming the file (never its content) when unusable."""
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the credentials file ({error.strerror})") from None
    try:
        data = json.loads(text)
    except ValueError:
        raise ConfigError(f"{path}: the credentials file is not valid JSON") from None
    try:
        return VenueCredentials.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{path}: {describe_validation_error(error)}") from None  # names fields, never values
