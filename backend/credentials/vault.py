"""Encrypting a credential's secret parts together (Fernet: AES-128-CBC with an HMAC-SHA256) and back; other
secrets the backend keeps (a Docker host's TLS key) are sealed as text with the same key."""
from __future__ import annotations

import json
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken

from backend.domain.credentials import CredentialSecrets


class WrongKey(Exception):
    """The key does not decrypt (or authenticate) the ciphertext."""


class MalformedKey(ValueError):
    """Not a Fernet key: 32 url-safe base64-encoded bytes."""


@dataclass(frozen=True)
class Secrets:
    api_key: str
    secret: str
    passphrase: str | None

    def __repr__(self) -> str:
        return f"Secrets(api_key='…{self.api_key[-4:]}', secret=***, passphrase={'***' if self.passphrase else None})"

    @classmethod
    def loads(cls, plain: str) -> Secrets:
        data = json.loads(plain)
        return cls(data["api_key"], data["secret"], data.get("passphrase"))

    @classmethod
    def of(cls, given: CredentialSecrets) -> Secrets:
        passphrase = given.passphrase.get_secret_value() if given.passphrase else None
        return cls(given.api_key.get_secret_value(), given.secret.get_secret_value(), passphrase or None)


class Vault:
    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except ValueError:
            raise MalformedKey("a credentials key is 32 url-safe base64-encoded bytes (44 characters), "
                               "as `python -c 'from cryptography.fernet import Fernet; "
                               "print(Fernet.generate_key().decode())'` makes one") from None

    def seal(self, secrets: Secrets) -> str:
        return self.seal_text(json.dumps({"api_key": secrets.api_key, "secret": secrets.secret,
                                          "passphrase": secrets.passphrase}))

    def seal_text(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def open_text(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise WrongKey() from None
