"""The broker's logins: the backend's own, one per instance, and the operator's extra ones for bots and tools
Hive does not run; and the Mosquitto password and ACL files made of them (mosquitto.py's formats, access.py's
grants), which every broker kind reads.

Passwords are random (`secrets.token_urlsafe`), kept sealed with the credentials key (an instance's is written
into its 0600 `mqtt_auth.json` while its process runs) and hashed for the password file. An extra login's
password is returned once, at its creation. Creating and revoking extra logins is audited (action `broker`).
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import Protocol

from sqlalchemy.orm import Session

from backend.broker.access import Role, grants
from backend.broker.mosquitto import Grant, Login, acl_text, password_hash
from backend.domain.broker import RESERVED_PREFIX, BrokerLoginCreate, BrokerLoginCreated, BrokerLoginOut
from backend.errors import Conflict, not_found
from backend.store import AuditRow, BrokerLoginRow, Store
from backend.store.repositories.broker_logins import BrokerLoginRepository
from backend.store.repositories.events import EventRepository

log = logging.getLogger(__name__)

BACKEND_USERNAME = f"{RESERVED_PREFIX}backend"
HIVE_ACTOR = "hive"  # who made the logins Hive makes for itself


class Sealer(Protocol):
    """The credential store's encryption (its key), for the broker's logins."""

    def seal_text(self, text: str) -> str: ...

    def open_text(self, ciphertext: str, what: str) -> str: ...


def instance_username(name: str) -> str:
    return f"{RESERVED_PREFIX}instance-{name}"


class BrokerLogins:
    def __init__(self, store: Store, sealer: Sealer, namespace: str) -> None:
        self.store = store
        self.sealer = sealer
        self.namespace = namespace
        self._lock = threading.Lock()

    # --- Hive's own ------------------------------------------------------------------------------
    def backend(self) -> Login:
        """The backend's login (full rights), made on first use."""
        return self._own(BACKEND_USERNAME, "backend", None)

    def instance(self, name: str) -> tuple[Login, bool]:
        """The login of instance `name` (its bot topics alone), made on first use; and whether it was just made."""
        with self.store.session() as session:
            known = BrokerLoginRepository(session).get(instance_username(name)) is not None
        return self._own(instance_username(name), "instance", name), not known

    def forget_instance(self, name: str) -> bool:
        """Remove an instance's login (its instance is deleted); whether there was one."""
        with self._lock, self.store.session() as session:
            logins = BrokerLoginRepository(session)
            row = logins.get(instance_username(name))
            if row is None:
                return False
            logins.delete(row)
            audit(session, HIVE_ACTOR, "login_removed", f"{row.username} (instance {name} deleted)")
            return True

    def _own(self, username: str, role: Role, scope: str | None) -> Login:
        with self._lock, self.store.session() as session:
            logins = BrokerLoginRepository(session)
            row = logins.get(username)
            if row is not None:
                return Login(username, self.sealer.open_text(row.sealed_password, f"broker login {username!r}"))
            login = Login(username, secrets.token_urlsafe(24))
            logins.add(self._row(login, role, scope, HIVE_ACTOR))
            audit(session, HIVE_ACTOR, "login_created", _describe(username, role, scope))
            return login

    # --- the operator's --------------------------------------------------------------------------
    def create(self, spec: BrokerLoginCreate, actor: str) -> BrokerLoginCreated:
        """A login for a bot (one id) or a controller (everything); its password is in this answer alone."""
        login = Login(spec.username, secrets.token_urlsafe(24))
        with self._lock, self.store.session() as session:
            logins = BrokerLoginRepository(session)
            if logins.get(spec.username) is not None:
                raise Conflict("duplicate_login", f"a broker login named {spec.username!r} already exists; choose "
                                                  "another name, or revoke that one first")
            row = self._row(login, spec.role, spec.bot_id, actor)
            logins.add(row)
            audit(session, actor, "login_created", _describe(spec.username, spec.role, spec.bot_id))
            out = _out(row)
        return BrokerLoginCreated(**out.model_dump(), password=login.password)

    def revoke(self, username: str, actor: str) -> None:
        with self._lock, self.store.session() as session:
            logins = BrokerLoginRepository(session)
            row = logins.get(username)
            if row is None:
                raise not_found("broker login", username)
            if row.role in ("backend", "instance"):
                raise Conflict("own_login", f"{username!r} is Hive's own login "
                                            f"({'of the backend' if row.role == 'backend' else 'of an instance'}); "
                                            "it goes with its instance, not by hand")
            logins.delete(row)
            audit(session, actor, "login_revoked", _describe(username, row.role, row.scope))

    def all(self) -> list[BrokerLoginOut]:
        with self.store.session() as session:
            return [_out(row) for row in BrokerLoginRepository(session).all()]

    # --- the files -------------------------------------------------------------------------------
    def files(self, extra: Login | None = None) -> dict[str, str]:
        """`passwd` and `acl` of every login, plus `extra` with full rights (an external broker's login the
        operator gave the backend)."""
        self.backend()
        with self.store.session() as session:
            rows = [(row.username, row.password_hash, grants(row.role, row.scope, self.namespace))  # type: ignore[arg-type]
                    for row in BrokerLoginRepository(session).all()]
        if extra is not None and all(username != extra.username for username, _h, _g in rows):
            rows.append((extra.username, password_hash(extra.password), grants("controller", None, "")))
        users: list[tuple[str, tuple[Grant, ...]]] = [(username, user_grants) for username, _h, user_grants in rows]
        return {"passwd": "".join(f"{username}:{hashed}\n" for username, hashed, _g in rows), "acl": acl_text(users)}

    def _row(self, login: Login, role: Role, scope: str | None, actor: str) -> BrokerLoginRow:
        return BrokerLoginRow(username=login.username, role=role, scope=scope,
                              password_hash=password_hash(login.password),
                              sealed_password=self.sealer.seal_text(login.password), created_at=time.time(),
                              created_by=actor)


def _describe(username: str, role: str, scope: str | None) -> str:
    return f"{username} ({role}{f' of {scope}' if scope else ''})"


def _out(row: BrokerLoginRow) -> BrokerLoginOut:
    return BrokerLoginOut(username=row.username, role=row.role, scope=row.scope,  # type: ignore[arg-type]
                          created_at=row.created_at, created_by=row.created_by)


def audit(session: Session, actor: str, outcome: str, detail: str) -> None:
    """Who made or removed which broker login: never its password."""
    log.info("audit: %s broker %s %s", actor, outcome, detail)
    EventRepository(session).add_audit(AuditRow(ts=time.time(), actor=actor, action="broker", outcome=outcome,
                                                detail=detail))
