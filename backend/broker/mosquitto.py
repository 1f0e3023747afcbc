"""Mosquitto's own files, as the broker container and `make up`'s compose stack both write them: the config and
the password file (Mosquitto 2's PBKDF2-SHA512 `$7$` format, the one mosquitto_passwd writes). Standard library
only: deploy/stack.py runs it before any virtual environment exists."""
from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field

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
    """One line of a Mosquitto 2 password file: `user:$7$<iterations>$<salt>$<hash>` (PBKDF2-HMAC-SHA512,
    base64), the format mosquitto_passwd writes."""
    salt = salt or secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", login.password.encode(), salt, HASH_ITERATIONS)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return f"{login.username}:$7${HASH_ITERATIONS}${encoded[0]}${encoded[1]}"


def mosquitto_conf(host: str, port: int, sys_interval: int) -> str:
    return "\n".join([
        "# written by Hive (the broker container's start, or make up); changes are overwritten",
        f"listener {port} {host}",
        "allow_anonymous false",
        f"password_file {MOUNT}/passwd",
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
