"""TCP_NODELAY on every MQTT connection the project opens (hive_core/remote/nodelay.py), read back with getsockopt
on the live sockets: the bridge's, the backend's fleet connection's, the tests' probe's, and the brokers' end of a
connection (taken from the broker process with pidfd_getfd): the embedded broker's, and a Mosquitto's with the
config Hive writes for its broker container."""
from __future__ import annotations

import asyncio
import ctypes
import getpass
import os
import secrets
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from backend.broker.mosquitto import Login, mosquitto_conf, password_line
from backend.orchestrator.connection import FleetConnection
from hive_core.config import MqttBridgeConfig
from hive_core.remote.bridge import MqttBridge
from hive_core.remote.nodelay import set_nodelay
from tests.conftest import EmbeddedBroker, free_port, wait_for_port
from tests.docker_engine import prerequisite_missing
from tests.mqtt_probe import MqttProbe
from tests.polling import wait_until

pytestmark = pytest.mark.timeout(60)

SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture


def nodelay_on(sock: socket.socket) -> bool:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_set_nodelay_sets_tcp_and_leaves_other_sockets_alone() -> None:
    with socket.socket() as tcp, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
        assert not nodelay_on(tcp)
        set_nodelay(tcp)
        assert nodelay_on(tcp)
        set_nodelay(unix)  # no TCP option on a Unix socket: nothing set, nothing raised
        set_nodelay(object())


def test_the_probe_connection_has_nodelay(mqtt_probe: MqttProbe) -> None:
    mqtt_probe.wait_connected()
    assert nodelay_on(mqtt_probe._client.socket())


def test_the_fleet_connections_have_nodelay_after_a_reconnect_too(mqtt_broker: EmbeddedBroker) -> None:
    connection = FleetConnection("hbot", lambda _topic, _payload, _at: None)
    links = (connection.telemetry, connection.control)
    try:
        connection.connect(mqtt_broker.host, mqtt_broker.port, login=mqtt_broker.credentials)
        assert connection.wait_connected(15)
        first = [link.socket() for link in links]
        assert all(nodelay_on(sock) for sock in first)
        connection.connect(mqtt_broker.host, mqtt_broker.port, force=True, login=mqtt_broker.credentials)
        assert connection.wait_connected(15)
        again = [link.socket() for link in links]
        assert all(sock is not old and nodelay_on(sock) for sock, old in zip(again, first, strict=True))
    finally:
        connection.disconnect()


def test_the_bridge_connection_has_nodelay(mqtt_broker: EmbeddedBroker) -> None:
    username, password = mqtt_broker.credentials
    settings = MqttBridgeConfig(mqtt_host=mqtt_broker.host, mqtt_port=mqtt_broker.port, mqtt_username=username,
                                mqtt_password=password)

    async def connected_socket_has_nodelay() -> bool:
        bridge = MqttBridge(settings, "nodelay1")
        bridge.start(asyncio.get_running_loop())
        try:
            assert await asyncio.to_thread(bridge.connected.wait, 15)
            return nodelay_on(bridge._client.socket())
        finally:
            await bridge.stop()

    assert asyncio.run(connected_socket_has_nodelay())


def test_the_embedded_broker_accepts_connections_with_nodelay(mqtt_broker: EmbeddedBroker,
                                                              mqtt_probe: MqttProbe) -> None:
    """asyncio sets TCP_NODELAY on every TCP transport it makes; amqtt's accepted sockets are such transports."""
    mqtt_probe.wait_connected()
    assert mqtt_broker.process is not None
    client_port = mqtt_probe._client.socket().getsockname()[1]
    with broker_end(mqtt_broker.process.pid, mqtt_broker.port, client_port) as accepted:
        assert accepted.getpeername()[1] == client_port
        assert nodelay_on(accepted)


@pytest.mark.integration
def test_mosquitto_with_hives_config_accepts_connections_with_nodelay(tmp_path: Path) -> None:
    if shutil.which("mosquitto") is None:
        prerequisite_missing("Debian's mosquitto binary", "`make mqtt-tools` installs it (make test does)")
    login, port = Login("tester", secrets.token_urlsafe(12)), free_port()
    (tmp_path / "passwd").write_text(password_line(login) + "\n")
    # `user`: as root, Mosquitto would switch to its own user, which cannot read the test's files
    (tmp_path / "mosquitto.conf").write_text(mosquitto_conf("127.0.0.1", port, 10, access_dir=str(tmp_path))
                                             + f"\nuser {getpass.getuser()}\n")
    broker = subprocess.Popen(["mosquitto", "-c", str(tmp_path / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for_port("127.0.0.1", port)
        probe = MqttProbe("127.0.0.1", port, login=(login.username, login.password))
        try:
            probe.wait_connected()
            client_port = probe._client.socket().getsockname()[1]
            with broker_end(broker.pid, port, client_port) as accepted:
                assert nodelay_on(accepted)
        finally:
            probe.close()
    finally:
        broker.terminate()
        broker.wait(10)


class broker_end:  # noqa: N801 - used as a context manager, like open()
    """The broker process's socket of the connection from `client_port` to `server_port`, as our own socket."""

    def __init__(self, pid: int, server_port: int, client_port: int) -> None:
        inode = wait_until(lambda: _socket_inode(pid, server_port, client_port), 10,
                           message="the broker's end of the probe's connection in /proc")
        target = next(int(fd.name) for fd in Path(f"/proc/{pid}/fd").iterdir()
                      if os.readlink(fd) == f"socket:[{inode}]")
        libc = ctypes.CDLL(None, use_errno=True)
        pidfd = os.pidfd_open(pid)
        try:
            copied = libc.syscall(SYS_PIDFD_GETFD, pidfd, target, 0)
        finally:
            os.close(pidfd)
        if copied < 0:
            prerequisite_missing("pidfd_getfd on the broker process (reading its end of the connection)",
                                 f"the kernel refused it ({os.strerror(ctypes.get_errno())}); it runs as the broker's "
                                 "own user on Linux 5.6 or later with ptrace allowed (kernel.yama.ptrace_scope 0 or 1)")
        self.sock = socket.socket(fileno=copied)

    def __enter__(self) -> socket.socket:
        return self.sock

    def __exit__(self, *_exc: object) -> None:
        self.sock.close()


def _socket_inode(pid: int, server_port: int, client_port: int) -> str | None:
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16)
            if (local, remote) == (server_port, client_port):
                return fields[9]
    return None
