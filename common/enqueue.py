"""Celery task messages built in process, so a job's record and its message are written to
Redis in one transaction.

``send_task`` publishes over its own connection after the record was written with another:
two round trips, a thread (kombu blocks), and a window in which a record exists without its
message. Instead the API builds the exact list entry kombu's Redis transport pushes — the
body and headers come from Celery's own protocol code — and writes it with the record in one
MULTI/EXEC (``common.jobstore.AsyncJobStore.enqueue``).

``tests/common/test_enqueue.py`` compares these entries with what ``send_task`` pushes, so a
Celery or kombu upgrade that changes the format fails there, not in production.
"""

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any

from celery import Celery
from kombu.serialization import dumps

_PERSISTENT = 2  # kombu's delivery_mode for "persistent", Celery's default


@dataclass(frozen=True)
class Message:
    body: str  # the JSON entry to LPUSH on the queue's list
    delivery_tag: str  # kombu's key for it in the unacked hash once a worker takes it


class TaskMessages:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def build(self, name: str, task_id: str, args: list[Any], queue: str) -> Message:
        """The entry to LPUSH on the Redis list ``queue`` to run task ``name``."""
        headers, properties, body, _ = self.app.amqp.create_task_message(
            task_id, name, args, {}, reply_to=self.app.thread_oid, ignore_result=None
        )
        content_type, content_encoding, payload = dumps(body, serializer=self.app.conf.task_serializer)
        if isinstance(payload, str):
            payload = payload.encode(content_encoding)
        properties = {
            **properties,
            "delivery_mode": _PERSISTENT,
            # The anonymous exchange: the routing key names the queue, as send_task does for
            # a direct queue; it is also what a requeue on worker loss uses.
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        }
        body = json.dumps(
            {
                "body": base64.b64encode(payload).decode(),
                "content-encoding": content_encoding,
                "content-type": content_type,
                "headers": headers,
                "properties": properties,
            }
        )
        return Message(body, properties["delivery_tag"])
