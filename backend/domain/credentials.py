"""Venue credentials as the operator gives them, and the little that is ever shown of them again."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from backend.domain.base import Strict
from hive_core.config import Identifier


class CredentialSecrets(Strict):
    """The secret parts; SecretStr so that no repr, log line or error message shows them."""

    api_key: SecretStr = Field(json_schema_extra={"minLength": 1})
    secret: SecretStr = Field(json_schema_extra={"minLength": 1})
    passphrase: SecretStr | None = Field(None, description="some venues ask for one")

    @field_validator("api_key", "secret")
    @classmethod
    def _given(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty: paste it as the venue shows it")
        return value


class CredentialCreate(CredentialSecrets):
    name: Identifier = Field(description="what instances name it by")
    venue: Identifier = Field(description="e.g. binance, binance_testnet")


class CredentialOut(BaseModel):
    name: str
    venue: str
    created_at: float
    updated_at: float
    api_key_hint: str = Field(description="the API key's last 4 characters after an ellipsis, e.g. …a1b2")
    has_passphrase: bool
    instances: list[str] = Field(description="the instances that use it")


class KeyRotation(Strict):
    key: SecretStr | None = Field(None, description="the new Fernet key (32 url-safe base64 bytes); generated when "
                                                    "absent")


class KeyRotated(BaseModel):
    rotated: int = Field(description="how many credentials were encrypted again")
    key_source: Literal["file", "environment"]
    key_file: str | None = Field(None, description="the key file rewritten (mode 0600), when the key is kept there")
    new_key: str | None = Field(None, description="the generated key, only when the operator must put it into "
                                                  "HIVE_CREDENTIALS_KEY; shown this once")
    message: str
