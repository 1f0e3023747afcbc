"""Each Docker host's health, checked in a background thread (never per request): ping, version, and this
backend's containers there, with the time, the latency and, when it fails, why in words."""
from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import docker

from backend.docker.labels import label_filter, ours
from backend.domain.docker_hosts import HostHealth
from backend.errors import HiveError

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 5.0  # s for each call of a check, so one silent host cannot hold the others' checks long

Connect = Callable[[str, float], docker.DockerClient]  # (host name, timeout) -> a new client; the caller closes it

UNKNOWN = HostHealth(status="unknown")
_SSL_REASON = re.compile(r"(certificate verify failed: [^'(]+|alert [a-z ]+)")


class HealthChecker:
    def __init__(self, connect: Connect, names: Callable[[], list[str]], url_of: Callable[[str], str],
                 backend: str, interval: float) -> None:
        self._connect = connect
        self._names = names
        self._url_of = url_of
        self._labels = label_filter(ours(backend))
        self.interval = interval
        self._health: dict[str, HostHealth] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def get(self, name: str) -> HostHealth:
        with self._lock:
            return self._health.get(name, UNKNOWN)

    def forget(self, name: str) -> None:
        with self._lock:
            self._health.pop(name, None)

    def check(self, name: str) -> HostHealth:
        """Check `name` now, keep and return the result."""
        health = self._probe(name)
        with self._lock:
            if name in self._names():  # not deleted meanwhile
                self._health[name] = health
        return health

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="docker-host-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * CHECK_TIMEOUT + 5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            for name in self._names():
                if self._stop.is_set():
                    return
                try:
                    self.check(name)
                except Exception:  # a check must never end the thread
                    log.exception("health check of Docker host %s failed", name)
            self._stop.wait(self.interval)

    def _probe(self, name: str) -> HostHealth:
        url = self._url_of(name)
        started = time.time()
        client = None
        try:
            client = self._connect(name, CHECK_TIMEOUT)
            ping_started = time.monotonic()
            client.ping()
            latency_ms = (time.monotonic() - ping_started) * 1000
            version = client.version()
            containers = client.containers.list(all=True, filters={"label": self._labels})
        except HiveError as error:  # the client could not be made (no TLS material)
            return HostHealth(status="unreachable", checked_at=started, error=error.detail)
        except Exception as error:
            return HostHealth(status="unreachable", checked_at=started, error=describe_failure(error, url))
        finally:
            if client is not None:
                client.close()
        return HostHealth(status="ok", checked_at=started, latency_ms=round(latency_ms, 1),
                          version=version.get("Version"), api_version=version.get("ApiVersion"),
                          containers=len(containers), running=sum(c.status == "running" for c in containers))


def describe_failure(error: BaseException, url: str) -> str:
    """Why an engine did not answer, in words an operator can act on, from the whole exception chain."""
    text = " | ".join(str(part) for part in _chain(error))
    lowered = text.lower()
    parts = urlsplit(url)
    where = parts.path if parts.scheme == "unix" else url
    if "certificate_verify_failed" in lowered or "certificate verify failed" in lowered:
        if "mismatch" in lowered or "doesn't match" in lowered:
            return (f"TLS: the engine's certificate at {url} is not made for {parts.hostname} (its subject names "
                    "another address): make the server certificate with this address")
        return (f"TLS: the engine's certificate at {url} is not trusted by the CA given ({_reason(text)}): give the "
                "CA that signed the engine's --tlscert")
    if any(alert in lowered for alert in ("bad certificate", "certificate required", "unknown ca",
                                          "certificate unknown")):
        return (f"TLS: the engine at {url} refused the client certificate ({_reason(text)}): give a cert and key "
                "signed by the CA of its --tlscacert")
    if parts.scheme == "ssh":
        ssh = _ssh_failure(lowered, parts.hostname or "", parts.port or 22, url)
        if ssh:
            return ssh
    if "wrong version number" in lowered or "record layer failure" in lowered:
        return f"TLS: the engine at {url} does not speak TLS on that port (started without --tlsverify?)"
    if "connection refused" in lowered:
        return f"unreachable: connection refused at {where}"
    if "no such file or directory" in lowered and parts.scheme == "unix":
        return f"unreachable: no socket at {where} (is dockerd running, with that --host?)"
    if "permission denied" in lowered:
        return f"unreachable: permission denied on {where} (the backend's user cannot use that engine)"
    if "timed out" in lowered or "timeout" in lowered:
        return f"unreachable: no answer within {CHECK_TIMEOUT:g} s at {where}"
    if "name or service not known" in lowered or "nodename nor servname" in lowered:
        return f"unreachable: the name {parts.hostname} does not resolve"
    if "no route to host" in lowered or "network is unreachable" in lowered:
        return f"unreachable: no route to {parts.hostname}"
    return f"unreachable: {_reason(text)} at {where}"


def _ssh_failure(lowered: str, host: str, port: int, url: str) -> str | None:
    """What went wrong logging in to an ssh:// host, or None for the failures every scheme shares."""
    known = f"[{host}]:{port}" if port != 22 else host  # how known_hosts names it
    scan = f"ssh-keyscan -p {port} {host}" if port != 22 else f"ssh-keyscan {host}"
    if "not found in known_hosts" in lowered:
        return (f"ssh: the host key of {host}:{port} is unknown (not in the backend user's ~/.ssh/known_hosts), so "
                f"the connection was refused: compare `{scan}` with the fingerprint shown on that machine "
                "(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and add its line to ~/.ssh/known_hosts")
    if "does not match" in lowered and "host key" in lowered:
        return (f"ssh: the host key of {host}:{port} is not the one in the backend user's ~/.ssh/known_hosts (the "
                "machine was reinstalled, or another one answers at that address): check it on the machine, then "
                f"replace its line (ssh-keygen -R '{known}')")
    if ("authentication failed" in lowered or "no authentication methods" in lowered
            or "bad authentication type" in lowered):
        return (f"ssh: {url} refused the login: none of the backend user's keys (~/.ssh/id_*, its agent, an "
                "IdentityFile in ~/.ssh/config) is in the remote user's ~/.ssh/authorized_keys; add its public key "
                "there")
    if "remote end closed connection" in lowered or "connection aborted" in lowered:
        return (f"ssh: logged in to {url}, but `docker system dial-stdio` there reached no engine: the remote user "
                "needs the docker CLI and the right to use the engine's socket (DOCKER_HOST in its environment for "
                "a socket other than /var/run/docker.sock)")
    return None


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _reason(text: str) -> str:
    """The words that matter in an SSL error (`certificate verify failed: ...`, `alert bad certificate`), else the
    innermost error of the chain."""
    found = _SSL_REASON.search(text)
    return found.group(1).strip() if found else text.split(" | ")[-1][:200]
