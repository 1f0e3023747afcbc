"""The credential store's rules: save, replace and delete credentials, hand one to an instance, rotate the key.

Only the ciphertext is stored; what the operator sees again is the name, the venue, the times, the API key's
last 4 characters, whether a passphrase is set and which instances use it. The key is read from where
key.py says on first use; a key that is missing while credentials are stored, or that does not decrypt
them, is refused with what to do, and nothing is written with it. The same key seals the TLS material of the Docker
hosts (backend/docker/hosts.py, through `seal_text`/`open_text`), so one key file and one rotation cover both.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy.orm import Session

from backend.credentials.key import ENV_NAME, KeyLocation, generate_key
from backend.credentials.vault import MalformedKey, Secrets, Vault, WrongKey
from backend.domain.credentials import (
    CredentialCreate,
    CredentialOut,
    CredentialSecrets,
    KeyRotated,
)
from backend.errors import Conflict, InvalidInput, Unavailable, not_found
from backend.store import AuditRow, CredentialRow, Store
from backend.store.repositories.broker import BrokerRepository, sealed_logins
from backend.store.repositories.broker_logins import BrokerLoginRepository
from backend.store.repositories.credentials import CredentialRepository
from backend.store.repositories.docker_hosts import DockerHostRepository
from backend.store.repositories.events import EventRepository
from backend.store.repositories.instances import InstanceRepository

log = logging.getLogger(__name__)


class CredentialService:
    def __init__(self, store: Store, key: KeyLocation) -> None:
        self.store = store
        self.key = key
        self._key_in_use: str | None = None  # once it is known to decrypt what is stored
        self._lock = threading.RLock()

    # --- reading -------------------------------------------------------------------------------------
    def all(self) -> list[CredentialOut]:
        with self.store.session() as session:
            users = InstanceRepository(session).credential_users()
            return [_out(row, users.get(row.name, [])) for row in CredentialRepository(session).all()]

    def get(self, name: str) -> CredentialOut:
        with self.store.session() as session:
            row = self._row(CredentialRepository(session), name)
            return _out(row, InstanceRepository(session).credential_users().get(name, []))

    def names(self) -> list[str]:
        with self.store.session() as session:
            return CredentialRepository(session).names()

    def for_instance(self, name: str) -> dict[str, Any]:
        """What an instance's process is handed (hive_core/credentials.py's file format), decrypted."""
        with self._lock, self.store.session() as session:
            row = self._row(CredentialRepository(session), name)
            secrets = self._open(self._vault(), row)
            return {"name": row.name, "venue": row.venue, "api_key": secrets.api_key, "secret": secrets.secret,
                    "passphrase": secrets.passphrase}

    def seal_text(self, plain: str) -> str:
        """`plain` encrypted with the key in use (made on first use), for secrets kept outside this service."""
        with self._lock:
            return self._vault(create=True).seal_text(plain)

    def open_text(self, ciphertext: str, what: str) -> str:
        """What `seal_text` sealed; a key that does not open it is refused naming `what`."""
        with self._lock:
            return self._open_text(self._vault(), ciphertext, what)

    # --- changing ------------------------------------------------------------------------------------
    def create(self, spec: CredentialCreate, actor: str) -> CredentialOut:
        with self._lock, self.store.session() as session:
            credentials = CredentialRepository(session)
            if credentials.get(spec.name) is not None:
                raise Conflict("duplicate_name", f"a credential named {spec.name!r} already exists; choose another "
                                                 "name, or replace its secret parts")
            secrets = Secrets.of(spec)
            now = time.time()
            row = CredentialRow(name=spec.name, venue=spec.venue, ciphertext=self._vault(create=True).seal(secrets),
                                api_key_last4=secrets.api_key[-4:], has_passphrase=secrets.passphrase is not None,
                                created_at=now, updated_at=now)
            credentials.add(row)
            _audit(session, actor, "created", spec.name)
            return _out(row, [])

    def replace(self, name: str, given: CredentialSecrets, actor: str) -> CredentialOut:
        """Replace the secret parts (API key, secret, passphrase); the name and the venue stay."""
        with self._lock, self.store.session() as session:
            row = self._row(CredentialRepository(session), name)
            secrets = Secrets.of(given)
            row.ciphertext = self._vault().seal(secrets)
            row.api_key_last4, row.has_passphrase = secrets.api_key[-4:], secrets.passphrase is not None
            row.updated_at = time.time()
            _audit(session, actor, "replaced", name)
            return _out(row, InstanceRepository(session).credential_users().get(name, []))

    def delete(self, name: str, actor: str) -> None:
        with self._lock, self.store.session() as session:
            credentials = CredentialRepository(session)
            row = self._row(credentials, name)
            users = InstanceRepository(session).credential_users().get(name, [])
            if users:
                raise Conflict("credential_in_use",
                               f"credential {name!r} is used by instance{'s' if len(users) > 1 else ''} "
                               f"{', '.join(users)}; delete {'them' if len(users) > 1 else 'it'} first")
            credentials.delete(row)
            _audit(session, actor, "deleted", name)

    def rotate_key(self, new_key: str | None, actor: str) -> KeyRotated:
        """Encrypt every credential again with `new_key` (generated when None), in one transaction.

        A key file is replaced by one holding the new key only after the transaction commits; a key from the
        environment cannot be rewritten from here, so the answer says to update it (with the key, when generated).
        """
        generated = new_key is None
        key = new_key or generate_key()
        try:
            new_vault = Vault(key)
        except MalformedKey as error:
            raise InvalidInput("invalid_key", f"key: {error}") from None
        in_file = self.key.source == "file"
        with self._lock:
            try:
                with self.store.session() as session:
                    rows = CredentialRepository(session).all()
                    old_vault = self._vault(create=True)
                    for row in rows:
                        row.ciphertext = new_vault.seal(self._open(old_vault, row))
                    broker = BrokerRepository(session).get()
                    for column, sealed in sealed_logins(broker).items():
                        setattr(broker, column, new_vault.seal_text(self._open_text(old_vault, sealed, BROKER_LOGIN)))
                    for login in BrokerLoginRepository(session).all():
                        login.sealed_password = new_vault.seal_text(
                            self._open_text(old_vault, login.sealed_password, BROKER_LOGIN))
                    hosts = DockerHostRepository(session).sealed()
                    for host in hosts:
                        assert host.tls_ciphertext is not None
                        host.tls_ciphertext = new_vault.seal_text(
                            self._open_text(old_vault, host.tls_ciphertext, _host_secret(host.name)))
                    counted = _count(len(rows), "credential")
                    if hosts:
                        counted += f" and the TLS material of {_count(len(hosts), 'Docker host')}"
                    _audit(session, actor, "key_rotated", counted)
                    if in_file:
                        self.key.stage(key)  # on disk before the commit, so a committed rotation never lacks its key
            except BaseException:
                self.key.staged.unlink(missing_ok=True)
                raise
            self._key_in_use = key
            if in_file:
                self.key.install()
                message = f"{counted} encrypted with the new key, kept in {self.key.path} (mode 0600)"
                return KeyRotated(rotated=len(rows), key_source="file", key_file=str(self.key.path), message=message)
        log.warning("credentials key rotated; %s must be set to the new key before the backend restarts", ENV_NAME)
        return KeyRotated(
            rotated=len(rows), key_source="environment", new_key=key if generated else None,
            message=f"{counted} encrypted with the new key. The key comes from {ENV_NAME}: set it to "
                    f"the new key{' (new_key, shown this once)' if generated else ''} before the backend restarts, "
                    "or it will not decrypt them")

    # --- the key -------------------------------------------------------------------------------------
    def _vault(self, create: bool = False) -> Vault:
        """The vault of the key in use, read (or, with `create` and nothing stored, generated) on first use."""
        if self._key_in_use is not None:
            return Vault(self._key_in_use)
        with self.store.session() as session:
            stored = _sealed_sample(session)
        key = self.key.read()
        if key is None:
            if stored is not None:
                raise Unavailable("credentials_key_missing",
                                  f"the stored credentials cannot be read: their key is missing ({self.key.path} does "
                                  f"not exist and {ENV_NAME} is not set). Restore that file or set {ENV_NAME} to the "
                                  "key they were saved with; nothing was changed")
            if not create:
                raise Unavailable("credentials_key_missing", "no credentials key yet: save a credential first")
            key = generate_key()
            self.key.write(key)
            log.info("generated the credentials key in %s", self.key.path)
        try:
            vault = Vault(key)
        except MalformedKey as error:
            raise Unavailable("credentials_key_invalid", f"the credentials key in {self.key.describe()} is not "
                                                         f"usable: {error}; nothing was changed") from None
        if stored is not None:
            self._open_text(vault, *stored)
        self._key_in_use = key
        return vault

    def _open(self, vault: Vault, row: CredentialRow) -> Secrets:
        return Secrets.loads(self._open_text(vault, row.ciphertext, f"credential {row.name!r}"))

    def _open_text(self, vault: Vault, ciphertext: str, what: str) -> str:
        try:
            return vault.open_text(ciphertext)
        except WrongKey:
            raise Unavailable("credentials_key_wrong",
                              f"the credentials key in {self.key.describe()} does not decrypt the stored {what}: put "
                              "back the key they were saved with (after a key rotation, the new one) and try again; "
                              "nothing was changed") from None

    @staticmethod
    def _row(credentials: CredentialRepository, name: str) -> CredentialRow:
        row = credentials.get(name)
        if row is None:
            raise not_found("credential", name)
        return row


def _sealed_sample(session: Session) -> tuple[str, str] | None:
    """One stored ciphertext and what it is (a credential, the broker's login, a Docker host's TLS material), to
    check a key on."""
    credential = CredentialRepository(session).any()
    if credential is not None:
        return credential.ciphertext, f"credential {credential.name!r}"
    logins = list(sealed_logins(BrokerRepository(session).get()).values()) + \
        [login.sealed_password for login in BrokerLoginRepository(session).all()]
    if logins:
        return logins[0], BROKER_LOGIN
    hosts = DockerHostRepository(session).sealed()
    if hosts and hosts[0].tls_ciphertext is not None:
        return hosts[0].tls_ciphertext, _host_secret(hosts[0].name)
    return None


BROKER_LOGIN = "broker login"


def _host_secret(name: str) -> str:
    return f"TLS material of Docker host {name!r}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _out(row: CredentialRow, instances: list[str]) -> CredentialOut:
    return CredentialOut(name=row.name, venue=row.venue, created_at=row.created_at, updated_at=row.updated_at,
                         api_key_hint=f"…{row.api_key_last4}", has_passphrase=row.has_passphrase, instances=instances)


def _audit(session: Session, actor: str, outcome: str, detail: str) -> None:
    """Who did what to which credential: never a secret part."""
    log.info("audit: %s credential %s %s", actor, outcome, detail)
    EventRepository(session).add_audit(AuditRow(ts=time.time(), actor=actor, action="credential", outcome=outcome,
                                                detail=detail))
