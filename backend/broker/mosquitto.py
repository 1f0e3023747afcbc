"""Mosquitto's own files, as the broker container and `make up`'s compose stack both write them: the config, the
password file (Mosquitto 2's PBKDF2-SHA512 `$7$` format, the one mosquitto_passwd writes) and the ACL file
(`user` / `topic read|write|readwrite` lines). The embedded broker reads the same two files (amqtt_access.py),
so one pair of files serves every broker kind. Standard library only: deploy/stack.py runs it before any
virtual environment exists."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

MOUNT = "/etc/hive-broker"  # where the container finds mosquitto.conf and passwd (mounted read-only)
HASH_ITERATIONS = 1000
SALT_BYTES = 12


@dataclass(frozen=True)
class Login:
    username: str
    password: str = field(repr=False)

    @classmethod
    def generate(cls, who: str) -> Login:
        return cls(f"hive-{who}", secrets.token_urlsafe(24))


def password_line(login: Login, salt: bytes | None = None) -> str:
    """One line of a Mosquitto 2 password file: `user:<password_hash>`, the format mosquitto_passwd writes."""
    return f"{login.username}:{password_hash(login.password, salt)}"


def password_hash(password: str, salt: bytes | None = None) -> str:
    """`$7$<iterations>$<salt>$<hash>`: PBKDF2-HMAC-SHA512, base64, as Mosquitto 2 stores a password."""
    salt = salt or secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, HASH_ITERATIONS)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return f"$7${HASH_ITERATIONS}${encoded[0]}${encoded[1]}"


def password_matches(hashed: str, password: str) -> bool:
    """Whether `password` is the one of a `$7$<iterations>$<salt>$<hash>` entry (the part after `user:`)."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        salt, digest = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    except ValueError:
        return False
    computed = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]))
    return hmac.compare_digest(computed, digest)


def read_password_file(text: str) -> dict[str, str]:
    """{username: `$7$...` hash} of a password file; blank lines and `#` comments skipped."""
    users = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and ":" in line:
            username, hashed = line.split(":", 1)
            users[username] = hashed
    return users


Access = Literal["read", "write", "readwrite"]


@dataclass(frozen=True)
class Grant:
    """One `topic <access> <pattern>` line: `read` covers subscribing and receiving, `write` publishing."""

    access: Access
    pattern: str


FULL_RIGHTS: tuple[Grant, ...] = (Grant("readwrite", "#"), Grant("read", "$SYS/#"))  # the backend's, a controller's


def acl_text(users: Iterable[tuple[str, Iterable[Grant]]]) -> str:
    """An ACL file: a `user` section per username with its `topic` lines; a user without one may do nothing."""
    lines = ["# written by Hive; changes are overwritten"]
    for username, grants in users:
        lines += ["", f"user {username}"] + [f"topic {grant.access} {grant.pattern}" for grant in grants]
    return "\n".join(lines) + "\n"


def read_acl(text: str) -> dict[str, list[Grant]]:
    """{username: grants} of an ACL file as `acl_text` writes it (`user` and `topic` lines; others ignored)."""
    users: dict[str, list[Grant]] = {}
    current: list[Grant] | None = None
    for line in text.splitlines():
        words = line.split(None, 2) if line.strip() and not line.lstrip().startswith("#") else []
        if len(words) == 2 and words[0] == "user":
            current = users.setdefault(words[1], [])
        elif current is not None and len(words) == 3 and words[0] == "topic" \
                and words[1] in ("read", "write", "readwrite"):
            current.append(Grant(words[1], words[2].strip()))  # type: ignore[arg-type]
    return users


def mosquitto_conf(host: str, port: int, sys_interval: int, acl: bool = False, access_dir: str = MOUNT) -> str:
    """The config; the password file (and with `acl` the ACL file) in `access_dir`, as the container sees it."""
    return "\n".join([
        "# written by Hive (the broker container's start, or make up); changes are overwritten",
        f"listener {port} {host}",
        "allow_anonymous false",
        f"password_file {access_dir}/passwd",
        *([f"acl_file {access_dir}/acl"] if acl else []),
        "set_tcp_nodelay true",
        f"sys_interval {sys_interval}",
        "persistence false",
        "log_dest stderr",  # unbuffered: stdout reaches `docker logs` only in blocks
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
        "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        "",
    ])
