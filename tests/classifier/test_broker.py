"""What classifier.broker reads from Redis, against a redis-server of the test's own: the one
place that relies on kombu's private layout of a queue (redis_queue_keys) must fail here, not
in production, when kombu changes it."""

import uuid

import pytest

from classifier import broker
from labelplatform.celery import app as celery_app
from tests.support.broker import broker_use

PRIORITIES = (0, 3, 5, 9)


@pytest.fixture
def redis(private_redis):
    private_redis.start()
    broker_use(private_redis.url)
    return private_redis


def publish(priority: int) -> str:
    task_id = str(uuid.uuid4())
    celery_app.send_task(
        "classifier.tasks.prediction_job_execute",
        args=[1],
        task_id=task_id,
        queue="prediction",
        priority=priority,
    )
    return task_id


def test_messages_of_every_priority_land_in_the_lists_redis_queue_keys_names(redis):
    for priority in PRIORITIES:
        publish(priority)

    client = redis.client()
    lists = {key.decode() for key in client.keys("*") if client.type(key) == b"list"}
    with celery_app.connection_for_read() as connection:
        expected = broker.redis_queue_keys(connection.default_channel, "prediction")
    # Each message sits in a list the function names, and different priorities in different
    # lists: the layout the function reads is the one kombu writes.
    assert lists <= expected
    assert len(lists) > 1


def test_the_broker_lists_waiting_messages_of_every_priority(redis):
    sent = {publish(priority) for priority in PRIORITIES}

    assert broker.task_ids_in_broker(queues=["prediction"]) == sent
