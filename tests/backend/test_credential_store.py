"""The credential store on a real SQLite store: encrypted at rest, a key the store does not hold, rotation."""
from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from backend.credentials.key import KEY_FILE, KeyLocation
from backend.credentials.service import CredentialService
from backend.domain.credentials import CredentialCreate, CredentialSecrets
from backend.errors import InvalidInput, Unavailable
from backend.store import AuditRow, CredentialRow, Store

API_KEY = "AKIAEXAMPLEKEY0a1b2"
SECRET = "s3cr3t-value-that-must-never-leak"
PASSPHRASE = "pass-phrase-9"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'hive.db'}")
    yield store
    store.close()


def service(store: Store, tmp_path: Path, env_key: str | None = None) -> CredentialService:
    return CredentialService(store, KeyLocation(tmp_path / KEY_FILE, env_key))


def spec(name: str = "binance_main", api_key: str = API_KEY, secret: str = SECRET,
         passphrase: str | None = None) -> CredentialCreate:
    return CredentialCreate(name=name, venue="binance_testnet", api_key=api_key, secret=secret, passphrase=passphrase)


def stored_text(store: Store) -> str:
    with store.session() as session:
        return " ".join(f"{r.name} {r.venue} {r.ciphertext} {r.api_key_last4}"
                        for r in session.scalars(select(CredentialRow)))


def test_the_database_holds_only_ciphertext_and_the_answer_only_the_last_4(store: Store, tmp_path: Path) -> None:
    credentials = service(store, tmp_path)
    out = credentials.create(spec(passphrase=PASSPHRASE), actor="user:tester")

    assert (out.api_key_hint, out.has_passphrase, out.instances) == ("…a1b2", True, [])
    text = stored_text(store)
    assert "binance_main" in text
    for secret in (API_KEY, SECRET, PASSPHRASE):
        assert secret not in text
        assert secret not in out.model_dump_json()
    assert SECRET not in (tmp_path / "hive.db").read_bytes().decode("latin-1")
    assert credentials.for_instance("binance_main") == {
        "name": "binance_main", "venue": "binance_testnet", "api_key": API_KEY, "secret": SECRET,
        "passphrase": PASSPHRASE}


def test_the_key_file_is_made_on_first_use_readable_by_its_owner_alone(store: Store, tmp_path: Path) -> None:
    key_file = tmp_path / KEY_FILE
    assert not key_file.exists()
    service(store, tmp_path).create(spec(), actor="user:tester")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    Fernet(key_file.read_text().strip().encode())  # a usable Fernet key


def test_a_key_from_the_environment_is_used_and_no_key_file_is_written(store: Store, tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    service(store, tmp_path, env_key=key).create(spec(), actor="user:tester")
    assert not (tmp_path / KEY_FILE).exists()
    with store.session() as session:
        ciphertext = session.scalar(select(CredentialRow.ciphertext))
    assert SECRET.encode() in Fernet(key.encode()).decrypt(ciphertext.encode())


def test_a_wrong_key_is_refused_in_words_and_nothing_is_lost(store: Store, tmp_path: Path) -> None:
    service(store, tmp_path).create(spec(), actor="user:tester")
    before = stored_text(store)
    wrong = service(store, tmp_path, env_key=Fernet.generate_key().decode())

    with pytest.raises(Unavailable) as refused:
        wrong.for_instance("binance_main")
    assert refused.value.code == "credentials_key_wrong"
    assert "HIVE_CREDENTIALS_KEY does not decrypt" in refused.value.detail
    assert "nothing was changed" in refused.value.detail
    with pytest.raises(Unavailable):
        wrong.create(spec("other"), actor="user:tester")  # never mixes keys in one store
    assert stored_text(store) == before
    assert service(store, tmp_path).for_instance("binance_main")["secret"] == SECRET  # the right key still works


def test_a_missing_key_with_stored_credentials_is_not_replaced_by_a_new_one(store: Store, tmp_path: Path) -> None:
    service(store, tmp_path).create(spec(), actor="user:tester")
    key_file = tmp_path / KEY_FILE
    saved = key_file.read_text()
    key_file.unlink()

    with pytest.raises(Unavailable) as refused:
        service(store, tmp_path).create(spec("other"), actor="user:tester")
    assert refused.value.code == "credentials_key_missing"
    assert str(key_file) in refused.value.detail and "HIVE_CREDENTIALS_KEY" in refused.value.detail
    assert not key_file.exists()
    key_file.write_text(saved)
    assert service(store, tmp_path).for_instance("binance_main")["api_key"] == API_KEY


def test_rotation_keeps_every_credential_and_the_old_key_stops_working(store: Store, tmp_path: Path) -> None:
    credentials = service(store, tmp_path)
    for index in range(3):
        credentials.create(spec(f"cred{index}", api_key=f"key-{index}-abcd", secret=f"secret-{index}"), actor="u")
    key_file = tmp_path / KEY_FILE
    old_key = key_file.read_text().strip()

    rotated = credentials.rotate_key(None, actor="user:tester")

    assert (rotated.rotated, rotated.key_source, rotated.key_file, rotated.new_key) == (3, "file", str(key_file), None)
    new_key = key_file.read_text().strip()
    assert new_key != old_key and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not key_file.with_name(KEY_FILE + ".new").exists()
    with store.session() as session:
        ciphertexts = list(session.scalars(select(CredentialRow.ciphertext)))
    for ciphertext in ciphertexts:
        Fernet(new_key.encode()).decrypt(ciphertext.encode())
        with pytest.raises(InvalidToken):
            Fernet(old_key.encode()).decrypt(ciphertext.encode())
    fresh = service(store, tmp_path)  # what a restarted backend reads
    assert [fresh.for_instance(f"cred{i}")["secret"] for i in range(3)] == ["secret-0", "secret-1", "secret-2"]
    with pytest.raises(Unavailable):
        service(store, tmp_path, env_key=old_key).for_instance("cred0")


def test_rotation_to_a_given_key_from_the_environment_tells_the_operator_to_update_it(store: Store,
                                                                                        tmp_path: Path) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    credentials = service(store, tmp_path, env_key=old_key)
    credentials.create(spec(), actor="user:tester")

    rotated = credentials.rotate_key(new_key, actor="user:tester")

    assert (rotated.key_source, rotated.new_key) == ("environment", None)
    assert "HIVE_CREDENTIALS_KEY" in rotated.message
    assert credentials.for_instance("binance_main")["secret"] == SECRET  # this backend goes on with the new key
    assert service(store, tmp_path, env_key=new_key).for_instance("binance_main")["secret"] == SECRET
    with pytest.raises(Unavailable):
        service(store, tmp_path, env_key=old_key).for_instance("binance_main")
    generated = credentials.rotate_key(None, actor="user:tester")
    assert generated.new_key and service(store, tmp_path, env_key=generated.new_key).for_instance("binance_main")


def test_rotation_with_a_wrong_key_or_a_malformed_new_key_changes_nothing(store: Store, tmp_path: Path) -> None:
    service(store, tmp_path).create(spec(), actor="user:tester")
    before, key_before = stored_text(store), (tmp_path / KEY_FILE).read_text()

    with pytest.raises(InvalidInput):
        service(store, tmp_path).rotate_key("not-a-key", actor="user:tester")
    with pytest.raises(Unavailable):
        service(store, tmp_path, env_key=Fernet.generate_key().decode()).rotate_key(None, actor="user:tester")

    assert (stored_text(store), (tmp_path / KEY_FILE).read_text()) == (before, key_before)


def test_replacing_the_secret_parts_keeps_the_name_and_the_audit_names_only_actions(store: Store,
                                                                                   tmp_path: Path) -> None:
    credentials = service(store, tmp_path)
    credentials.create(spec(passphrase=PASSPHRASE), actor="user:tester")
    out = credentials.replace("binance_main", CredentialSecrets(api_key="NEWKEY-zz99", secret="new-secret"),
                              actor="user:tester")
    credentials.delete("binance_main", actor="user:tester")

    assert (out.api_key_hint, out.has_passphrase) == ("…zz99", False)
    with store.session() as session:
        rows = session.scalars(select(AuditRow).order_by(AuditRow.id))
        audit = [(r.actor, r.action, r.outcome, r.detail) for r in rows]
    assert audit == [("user:tester", "credential", "created", "binance_main"),
                     ("user:tester", "credential", "replaced", "binance_main"),
                     ("user:tester", "credential", "deleted", "binance_main")]
    assert credentials.all() == []


def test_a_key_rotation_encrypts_the_broker_logins_again(store: Store, tmp_path: Path) -> None:
    """The broker's logins are kept under the same key: a rotation takes them along, and a wrong key is refused."""
    from backend.broker.logins import BrokerLogins, instance_username
    from backend.store.repositories.broker import BrokerRepository
    from backend.store.repositories.broker_logins import BrokerLoginRepository

    credentials = service(store, tmp_path)
    login, _made = BrokerLogins(store, credentials, "hbot").instance("bot1")
    with store.session() as session:
        row = BrokerRepository(session).get_or_add()
        row.kind, row.host, row.port, row.desired = "external", "127.0.0.1", 1883, "running"
        row.external_login = credentials.seal_text('{"broker": "login"}')

    def sealed() -> tuple[str, str]:
        with store.session() as session:
            external = BrokerRepository(session).get().external_login
            own = BrokerLoginRepository(session).get(instance_username("bot1"))
            return external, own.sealed_password

    before = sealed()
    credentials.rotate_key(None, actor="user:tester")
    after = sealed()
    assert after[0] != before[0] and after[1] != before[1] and "login" not in after[0]
    reopened = service(store, tmp_path)  # with the new key, from its file
    assert reopened.open_text(after[0], "broker login") == '{"broker": "login"}'
    assert reopened.open_text(after[1], "broker login") == login.password
    assert BrokerLogins(store, reopened, "hbot").instance("bot1") == (login, False)
    after = after[0]

    with pytest.raises(Unavailable, match="does not decrypt the stored broker login"):
        service(store, tmp_path, env_key=Fernet.generate_key().decode()).open_text(after, "broker login")
