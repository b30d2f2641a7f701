"""A free loopback port for a server the tests or benchmarks start (the bot, a redis-server).

Found free, then closed: another process may take it before it is bound again, so a server that can bind port 0
itself should (sandbox/launcher.py's servers do); this is for processes that must be told their port."""

from __future__ import annotations

import socket


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
