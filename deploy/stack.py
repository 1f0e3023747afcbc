"""`make up`'s helper for docker-compose.yml, with the standard library only (it runs before any venv exists).

    python3 deploy/stack.py prepare          complete .env and write the files the services mount
    python3 deploy/stack.py ports COMPOSE... refuse to start when another program holds one of the stack's ports
                                             (the stack's own running containers may: that is an upgrade)
    python3 deploy/stack.py wait COMPOSE...  wait until every service of the stack is healthy, then print the
                                             URLs and the login (COMPOSE: the compose command and its options)

prepare: the secrets are generated once, when missing, into .env (mode 0600; HIVE_ENV_FILE names another file):
HIVE_PASSWORD (the login, shared with `make run`), HIVE_BROKER_PASSWORD, and HIVE_CREDENTIALS_KEY unless the
data folder already holds credentials.key (the key its stored credentials were saved with). The compose
variables (data folder, the user the services run as, the Docker socket and its group) are written when missing,
an environment variable winning over .env. Then, in the data folder: secrets/backend.env (the backend's login,
broker login and key: mounted as its .env, never passed as environment variables, which `docker inspect` shows)
and broker/mosquitto.conf, each 0600 and owned by the services' user; the broker's logins and ACL are
broker/access/passwd and acl (Mosquitto's formats), written here with the backend's login when missing, then kept
up to date by the backend (one login per instance; backend/broker/logins.py), which the broker service reads
again when they change.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
from backend.broker.mosquitto import (  # noqa: E402  (standard library only)
    FULL_RIGHTS,
    MOUNT,
    Login,
    acl_text,
    mosquitto_conf,
    password_line,
)

IMAGE_USER = 10001                  # the images' user `hive`: whom the services run as when root runs this
BROKER_USER = "hive"                # the backend's broker login (each instance gets its own from the backend)
SYS_INTERVAL = 5                    # seconds between the broker's $SYS updates
WAIT_TIMEOUT = float(os.environ.get("HIVE_UP_TIMEOUT", "180"))


def read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.strip().removeprefix("export ").partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip().strip("'\"")
    return values


def write_private(path: Path, text: str, owner: tuple[int, int] | None = None) -> None:
    """Write `text` into `path` with mode 0600 from the first byte (and the given owner when root)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    os.chmod(path, 0o600)
    if owner is not None and os.geteuid() == 0:
        os.chown(path, *owner)


def docker_socket() -> Path:
    url = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not url.startswith("unix://"):
        sys.exit(f"DOCKER_HOST={url}: the stack mounts the engine's socket, so it runs next to a local engine "
                 "(unix://...); add remote engines as Docker hosts in the backend instead")
    return Path(url.removeprefix("unix://"))


def prepare() -> None:
    env_file = Path(os.environ.get("HIVE_ENV_FILE", REPO_ROOT / ".env"))
    existing = read_env(env_file)
    chosen = dict(existing)

    def pick(key: str, default: str) -> str:
        chosen[key] = os.environ.get(key) or existing.get(key) or default
        return chosen[key]

    data = Path(pick("HIVE_DATA_DIR", str(REPO_ROOT / "data"))).expanduser().resolve()
    chosen["HIVE_DATA_DIR"] = str(data)
    root = os.geteuid() == 0
    uid = int(pick("HIVE_UID", str(IMAGE_USER if root else os.getuid())))
    gid = int(pick("HIVE_GID", str(IMAGE_USER if root else os.getgid())))
    socket = docker_socket()
    pick("HIVE_DOCKER_SOCKET", str(socket))
    pick("HIVE_DOCKER_GID", str(socket.stat().st_gid) if socket.exists() else "0")
    pick("HIVE_USERNAME", "admin")
    password = pick("HIVE_PASSWORD", secrets.token_urlsafe(18))
    broker_password = pick("HIVE_BROKER_PASSWORD", secrets.token_urlsafe(24))
    key = os.environ.get("HIVE_CREDENTIALS_KEY") or existing.get("HIVE_CREDENTIALS_KEY")
    if not key and not (data / "credentials.key").exists():
        key = pick("HIVE_CREDENTIALS_KEY", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())

    added = [name for name in chosen if name not in existing]
    if added:
        lines = env_file.read_text().rstrip("\n").splitlines() if env_file.exists() else []
        write_private(env_file, "\n".join(lines + [f"{name}={chosen[name]}" for name in added]) + "\n")
        print(f"stack: added to {env_file} (mode 0600): {', '.join(added)}")
    os.chmod(env_file, 0o600)

    for folder in (data, data / "secrets", data / "broker"):
        folder.mkdir(parents=True, exist_ok=True)
        if root:
            os.chown(folder, uid, gid)
    os.chmod(data / "secrets", 0o700)
    backend = {"HIVE_USERNAME": chosen["HIVE_USERNAME"], "HIVE_PASSWORD": password,
               "HIVE_BROKER_USERNAME": BROKER_USER, "HIVE_BROKER_PASSWORD": broker_password}
    if key:
        backend["HIVE_CREDENTIALS_KEY"] = key
    write_private(data / "secrets" / "backend.env", "".join(f"{k}={v}\n" for k, v in backend.items()), (uid, gid))
    port = os.environ.get("HIVE_BROKER_PORT") or existing.get("HIVE_BROKER_PORT") or "1883"
    write_private(data / "broker" / "mosquitto.conf",
                  mosquitto_conf("127.0.0.1", int(port), SYS_INTERVAL, acl=True, access_dir=f"{MOUNT}/access"),
                  (uid, gid))
    access = data / "broker" / "access"
    access.mkdir(exist_ok=True)
    os.chmod(access, 0o700)
    if root:
        os.chown(access, uid, gid)
    if not (access / "passwd").exists():  # then the backend's: it adds the instances' logins and keeps "hive"
        write_private(access / "passwd", password_line(Login(BROKER_USER, broker_password)) + "\n", (uid, gid))
        write_private(access / "acl", acl_text([(BROKER_USER, FULL_RIGHTS)]), (uid, gid))


PORTS = (("HIVE_BROKER_PORT", "1883", "the broker"), ("HIVE_BACKEND_PORT", "8000", "the backend"),
         ("HIVE_DASHBOARD_PORT", "8501", "the dashboard"))


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def ports(compose: list[str]) -> None:
    """Host networking: each service binds its port on 127.0.0.1 itself, so a port another program holds would
    only show as an unhealthy container. Say which one, and how to move it, before anything starts."""
    running = subprocess.run([*compose, "ps", "-q"], capture_output=True, text=True).stdout.split()
    if running:
        return  # the stack runs already (an upgrade): its own services hold the ports
    env = read_env(Path(os.environ.get("HIVE_ENV_FILE", REPO_ROOT / ".env")))
    taken = [(name, value, what) for name, default, what in PORTS
             if listening(int(value := os.environ.get(name) or env.get(name) or default))]
    if taken:
        lines = [f"  port {value} ({what}) is taken by another program: set {name} to a free port" for name, value, what
                 in taken]
        sys.exit("stack: cannot start, the services use host networking and bind their ports on 127.0.0.1:\n"
                 + "\n".join(lines) + f"\n  e.g. {taken[0][0]}={int(taken[0][1]) + 1} make up (or put it in .env)")


def wait(compose: list[str]) -> None:
    """Every container of the stack running and healthy, or the first one that is not, with its last log lines."""
    env = read_env(Path(os.environ.get("HIVE_ENV_FILE", REPO_ROOT / ".env")))
    deadline = time.monotonic() + WAIT_TIMEOUT
    while True:
        ids = subprocess.run([*compose, "ps", "-q"], check=True, capture_output=True, text=True).stdout.split()
        states = json.loads(subprocess.run(["docker", "inspect", *ids], check=True, capture_output=True,
                                           text=True).stdout) if ids else []
        health = {item["Name"].lstrip("/"): (item["State"].get("Health") or {}).get("Status", item["State"]["Status"])
                  for item in states}
        broken = [name for name, status in health.items() if status in ("unhealthy", "exited", "dead")]
        if broken or time.monotonic() > deadline:
            for name in broken or list(health):
                logs = subprocess.run(["docker", "logs", "--tail", "20", name], capture_output=True, text=True)
                print(f"--- {name}: {health.get(name)}\n{logs.stdout}{logs.stderr}", file=sys.stderr)
            sys.exit(f"stack: not healthy within {WAIT_TIMEOUT:.0f} s: {health}")
        if len(health) == 3 and all(status == "healthy" for status in health.values()):
            break
        time.sleep(1)

    def port(name: str, default: str) -> str:
        return os.environ.get(name) or env.get(name) or default

    print(f"dashboard: http://127.0.0.1:{port('HIVE_DASHBOARD_PORT', '8501')}\n"
          f"backend:   http://127.0.0.1:{port('HIVE_BACKEND_PORT', '8000')}  (API docs at /docs)\n"
          f"broker:    127.0.0.1:{port('HIVE_BROKER_PORT', '1883')}  (login {BROKER_USER}, HIVE_BROKER_PASSWORD)\n"
          f"login:     {env.get('HIVE_USERNAME', 'admin')} / {env.get('HIVE_PASSWORD', '(HIVE_PASSWORD in .env)')}\n"
          f"data:      {env.get('HIVE_DATA_DIR')}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["prepare"]:
        prepare()
    elif sys.argv[1:2] == ["ports"] and len(sys.argv) > 2:
        ports(sys.argv[2:])
    elif sys.argv[1:2] == ["wait"] and len(sys.argv) > 2:
        wait(sys.argv[2:])
    else:
        sys.exit(__doc__)
