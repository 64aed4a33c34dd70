"""The one Celery app, configured for long inference jobs; it carries no tasks itself.

The API publishes with ``send_task`` by name and never imports task code; a worker adds its
domain's tasks to the same app (``workers.app``).
"""

from typing import Any

from celery import Celery
from kombu.entity import Queue

from common import broker_patches
from common.config import CoreSettings
from common.contracts.naming import queue_for, queue_name


def route_by_domain(name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any) -> dict[str, str]:
    """Route ``<domain>.<verb>`` to the queue of its domain."""
    return {"queue": queue_for(name)}


def make_celery(settings: CoreSettings, consume: tuple[str, ...] = ()) -> Celery:
    """A Celery app on ``settings.redis_url``; ``consume`` names the domains a worker serves."""
    broker_patches.apply()
    app = Celery("domainq", broker=settings.redis_url, set_as_current=True)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        # Results live in our own job records (common.jobstore), not in a Celery backend.
        task_ignore_result=True,
        task_routes=(route_by_domain,),
        task_create_missing_queues=True,
        task_queues=[Queue(queue_name(d)) for d in consume] or None,
        # Long GPU jobs: ack after the work, requeue if the worker process dies, take one
        # message at a time so idle workers can pick up the rest.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.task_soft_time_limit_s,
        task_time_limit=settings.task_hard_time_limit_s,
        broker_transport_options={
            "visibility_timeout": settings.broker_visibility_timeout_s,
            "unacked_restore_interval": settings.broker_restore_interval_s,
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        # Task events feed Flower: what runs where, for how long. Workers send them; the API
        # sends no "task-sent" event, which would double the broker writes of every submit.
        worker_send_task_events=settings.worker_send_task_events,
        worker_hijack_root_logger=False,
    )
    return app
