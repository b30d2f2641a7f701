"""sandbox/redis_server.py, the one way tests and benchmarks start a redis-server of their own."""

from __future__ import annotations

import redis

from sandbox.redis_server import RedisServer


def test_a_taken_port_is_traded_for_another_and_a_restart_keeps_its_port_and_data() -> None:
    with RedisServer(appendonly=True) as first, redis.Redis.from_url(first.url) as client:
        client.set("kept", "yes")
        second = RedisServer()
        second.port = first.port  # as if another test worker had drawn the same free port
        with second, redis.Redis.from_url(second.url) as other:
            assert second.port != first.port and other.ping()
        port = first.port
        first.stop()
        first.start()
        assert first.port == port and client.get("kept") == b"yes", "the append-only file survived the restart"


def test_without_the_append_only_file_a_restart_comes_back_empty() -> None:
    with RedisServer() as server, redis.Redis.from_url(server.url) as client:
        client.set("lost", "yes")
        server.stop()
        server.start()
        assert client.get("lost") is None
