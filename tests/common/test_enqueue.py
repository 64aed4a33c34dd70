"""The messages the API builds are the ones ``send_task`` pushes (real Redis, real kombu)."""

import json

import redis

from common.celery_app import make_celery
from common.config import CoreSettings
from common.enqueue import TaskMessages

# Fields that differ between any two messages: per-call ids and the sending process.
_VARYING = {("properties", "delivery_tag"), ("headers", "origin")}


def _comparable(entry: bytes | str) -> dict:
    message = json.loads(entry)
    for section, field in _VARYING:
        message[section].pop(field)
    return message


def test_built_messages_equal_what_send_task_pushes(redis_stack):
    url = redis_stack.redis_url.rsplit("/", 1)[0] + "/15"
    client = redis.Redis.from_url(url)
    client.flushdb()
    app = make_celery(CoreSettings(redis_url=url))
    args = ["0f" * 16, {"prompt": "héllo", "max_new_tokens": 3}]
    app.send_task("llm.generate", args=args, task_id="0f" * 16, queue="llm")
    pushed = client.lrange("llm", 0, -1)
    assert len(pushed) == 1

    built = TaskMessages(app).build("llm.generate", "0f" * 16, args, "llm")
    assert _comparable(built.body) == _comparable(pushed[0])
    assert json.loads(built.body)["properties"]["delivery_tag"] == built.delivery_tag
    assert built.delivery_tag != json.loads(pushed[0])["properties"]["delivery_tag"]
