"""Which Redis the run and test commands use (scripts/broker.py, scripts/test.py)."""

from pathlib import Path

import pytest
from kombu import Connection

from scripts.broker import EmbeddedRedis, redis_client_for, redis_reachable
from scripts.test import configured_redis_url, embedded_redis_running

UNREACHABLE_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture(scope="module")
def embedded_url():
    with embedded_redis_running() as url:
        yield url


def test_an_address_nothing_listens_on_is_unreachable():
    assert not redis_reachable(UNREACHABLE_REDIS_URL)


def test_a_malformed_url_is_unreachable_not_an_error():
    assert not redis_reachable("not-a-url")


def test_the_embedded_redis_answers_on_kombus_socket_url(embedded_url):
    assert embedded_url.startswith("redis+socket:///")
    assert redis_reachable(embedded_url)


def test_kombu_connects_to_the_embedded_redis_with_its_url(embedded_url):
    with Connection(embedded_url, connect_timeout=2) as connection:
        connection.ensure_connection(max_retries=1)
        with connection.SimpleQueue("broker-selection-check") as queue:
            queue.put({"hello": "worker"})
            message = queue.get(timeout=2)
            message.ack()
    assert message.payload == {"hello": "worker"}


def test_kombus_virtual_host_selects_the_redis_database(embedded_url):
    socket_path = embedded_url.removeprefix("redis+socket://")
    redis_client_for(f"{embedded_url}?virtual_host=3", timeout=1).set("db-check", "three")

    same_db = redis_client_for(f"unix://{socket_path}?db=3", timeout=1)
    default_db = redis_client_for(embedded_url, timeout=1)

    assert same_db.get("db-check") == b"three"
    assert default_db.get("db-check") is None


def test_the_test_command_uses_redis_url_when_it_answers(embedded_url):
    assert configured_redis_url(embedded_url) == embedded_url


def test_the_test_command_falls_back_when_redis_url_does_not_answer():
    assert configured_redis_url(UNREACHABLE_REDIS_URL) is None


def test_the_test_command_falls_back_when_redis_url_is_unset():
    assert configured_redis_url(None) is None


def test_the_embedded_redis_is_gone_after_the_test_run():
    with embedded_redis_running() as url:
        assert redis_reachable(url)
    socket_path = Path(url.removeprefix("redis+socket://"))
    assert not socket_path.exists()
    assert not redis_reachable(url)


def test_a_socket_path_too_long_for_unix_sockets_moves_to_a_short_temporary_folder(tmp_path):
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 6)

    embedded = EmbeddedRedis(deep)

    assert len(str(embedded.socket_path)) <= 107
    assert embedded.data_dir == deep.resolve()
