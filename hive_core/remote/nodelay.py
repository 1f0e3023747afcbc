"""TCP_NODELAY on every MQTT connection the project opens.

MQTT packets are small and each waits for an answer (a command, its reply, its PUBACK): with Nagle's
algorithm on, a packet written while an earlier one is unacknowledged waits for that ACK, which the peer
delays (delayed ACKs, up to 40 ms on Linux). Commands then took 50-90 ms instead of a few.
"""
from __future__ import annotations

import socket
from typing import Any

import paho.mqtt.client as mqtt


def set_nodelay(sock: Any) -> None:
    """Disable Nagle's algorithm on `sock` when it is a TCP socket (TLS included); leave anything else
    (a Unix socket, paho's websocket wrapper) as it is."""
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6) \
            and sock.type == socket.SOCK_STREAM:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _on_socket_open(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    set_nodelay(sock)


def nodelay(client: mqtt.Client) -> mqtt.Client:
    """`client` with TCP_NODELAY set on each socket it opens (every connect and reconnect)."""
    client.on_socket_open = _on_socket_open
    return client
